"""Version 2 of the API, mounted at /api/v2: keyset pagination and a grouped user."""
