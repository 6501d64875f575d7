"""Helpers for tests, benchmarks and notebooks: tiny models built offline from configs."""
