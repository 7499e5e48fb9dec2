"""Email senders: SMTP, console (development) and .eml files."""
