"""Abstract contracts. Services depend on these, never on a concrete adapter."""
