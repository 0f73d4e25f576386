"""Ray Tune wiring: Ray itself and the Tuner (`runner`), the trainable (`trainable`) and the experiment-state
snapshot that keeps a killed search resumable (`state`)."""
