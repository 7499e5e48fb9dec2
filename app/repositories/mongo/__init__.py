"""MongoDB adapters on PyMongo's native async API, with explicit document mapping."""
