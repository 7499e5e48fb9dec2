"""Factories: the one place that decides how new domain objects are assembled."""
