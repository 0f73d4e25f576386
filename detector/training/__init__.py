"""Training FBNetV3OD: the loop and its callbacks, the solver, checkpoints and exact resume, RNG state, DDP under
`torchrun`, the run folder's files and curves."""
