"""`make bench`: the benchmarks (bench/run.py runs the parts; bench/README.md explains them)."""
