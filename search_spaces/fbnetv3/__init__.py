"""The FBNetV3 joint space (architecture + recipe + detector knobs as one `DetectorConfig`), its arch template, its
parameters, the default space YAML, and the cost (FLOPs, params, latency) of its points."""
