"""Temporal workflows. Deterministic code only: side effects live in ``activities``."""
