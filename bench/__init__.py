"""Benchmarks that drive the running system from outside, as a client would."""
