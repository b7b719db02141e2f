"""The benchmarks of issue 8, run by ``make bench`` (``bench/run.py``); never part of the tests."""
