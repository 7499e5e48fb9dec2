"""HTTP middleware (pure ASGI) and the exception handlers that shape error bodies."""
