"""Controllers: thin adapters from DTOs to service calls and back."""
