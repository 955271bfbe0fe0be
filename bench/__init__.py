"""Benchmark scripts (python -m bench.<name>): they print figures, never assert them; results and the
commands that produced them are in docs/benchmarks.md. Not part of the product: nothing in core/,
technicians/, dispatch/, routing/ or web/ imports this package."""
