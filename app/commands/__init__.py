"""Email commands (Command pattern): one class per kind of email, run by an invoker."""
