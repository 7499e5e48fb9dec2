"""Utilities: concrete helpers for hashing, tokens, keys, ids and time."""
