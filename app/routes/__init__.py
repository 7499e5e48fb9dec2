"""Class-based routes, one package per API version."""
