"""Concrete storage adapters implementing ``app.interfaces.repositories``."""
