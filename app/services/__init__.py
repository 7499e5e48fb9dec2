"""Business logic. Services depend on interfaces and raise domain errors, never HTTP."""
