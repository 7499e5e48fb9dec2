"""The HTTP suite runs once per storage backend."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.backends import database_url_for


@pytest.fixture(params=["sqlite", "postgres", "mongodb-fake", "mongodb"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with database_url_for(request.param, tmp_path) as url:
        yield url
