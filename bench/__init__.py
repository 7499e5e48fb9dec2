"""Reproducible benchmarks of the app against a bare FastAPI app (``python -m bench``)."""
