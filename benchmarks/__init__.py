"""The benchmarks of `make bench`: run them from the repository root as `python -m benchmarks.<name>`."""
