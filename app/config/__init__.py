"""Configuration: one Settings class read from the environment and `.env`."""

from app.config.settings import (
    ConfigurationError,
    EmailBackend,
    Environment,
    LogFormat,
    LogLevel,
    Settings,
    load_settings,
)

__all__ = [
    "ConfigurationError",
    "EmailBackend",
    "Environment",
    "LogFormat",
    "LogLevel",
    "Settings",
    "load_settings",
]
