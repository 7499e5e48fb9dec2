"""The Database Singleton's engine keeps statement parameters out of its errors."""

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.db import Database


async def test_a_failed_statement_does_not_quote_its_parameters(tmp_path: Path) -> None:
    engine = Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    try:
        async with engine.connect() as conn:
            with pytest.raises(OperationalError) as raised:
                await conn.execute(
                    text("SELECT * FROM missing WHERE email = :email"),
                    {"email": "someone@example.com"},
                )
    finally:
        await Database.dispose()
    assert "no such table" in str(raised.value)
    assert "someone@example.com" not in str(raised.value)
