"""Audits: integrity checks, re-execution of recorded runs, and their verdicts."""
