"""Speed and quality benchmarks, each a module run as `python -m benchmarks.<name>` that writes its own section of
BENCHMARKS.md and its figures (`benchmarks/README.md` lists them)."""
