"""`.env.example` documents every setting and loads as a valid `.env`."""

import re
from pathlib import Path

import pytest

from app.config import Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / ".env.example"


def _documented_names() -> set[str]:
    names = set()
    for line in EXAMPLE.read_text().splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.add(match.group(1))
    return names


def test_every_setting_is_documented() -> None:
    documented = _documented_names()
    missing = {name.upper() for name in Settings.model_fields} - documented
    assert not missing, f"settings missing from .env.example: {sorted(missing)}"


def test_example_file_loads_as_env_file(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _documented_names():
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=EXAMPLE)
    assert settings.database_url == "sqlite+aiosqlite:///./data/app.db"
    assert settings.access_token_private_key is None
    assert settings.password_hash_concurrency is None
    assert settings.backend_cors_origins == ["http://localhost:3000", "http://localhost:5173"]
