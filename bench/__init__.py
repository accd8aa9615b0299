"""Benchmark scripts (run from the repository root: `python -m bench.ingest`, `python -m
bench.pipeline`). They print figures and write their section of docs/benchmarks.md; they never
assert timings."""
