"""Rotating configured keys over HTTP: sessions survive, the JWKS shows both keys."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import jwt
import pytest

from app.config import ConfigurationError, Settings
from app.main import create_app
from app.utils.keys import generate_private_key, private_pem, public_pem
from tests.api.helpers import V1, LoggedIn, assert_problem, bearer, login_superuser
from tests.conftest import KeyPems, SettingsFactory

ME = f"{V1}/users/me"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: keys do not depend on the store, and these tests restart the app,
    which the in-process MongoDB fake does not survive."""
    return f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app started on ``settings``, as a restart would, with a client on it."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


def kid_of(token: str) -> str:
    kid: str = jwt.get_unverified_header(token)["kid"]
    return kid


async def jwks_kids(client: httpx.AsyncClient) -> list[str]:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return [key["kid"] for key in response.json()["keys"]]


@pytest.fixture
def new_keys() -> dict[str, str]:
    """The settings of a freshly generated pair per token kind."""
    access, refresh = generate_private_key(), generate_private_key()
    return {
        "access_token_private_key": private_pem(access).decode(),
        "access_token_public_key": public_pem(access.public_key()).decode(),
        "refresh_token_private_key": private_pem(refresh).decode(),
        "refresh_token_public_key": public_pem(refresh.public_key()).decode(),
    }


async def login_before_rotation(make_settings: SettingsFactory) -> tuple[LoggedIn, str]:
    async with running(make_settings()) as client:
        session = await login_superuser(client)
        old_kids = await jwks_kids(client)
    assert old_kids == [kid_of(session.access_token)]
    return session, old_kids[0]


async def test_sessions_survive_a_rotation_with_the_old_keys_as_previous_keys(
    make_settings: SettingsFactory, key_pems: KeyPems, new_keys: dict[str, str], tmp_path: Path
) -> None:
    session, old_kid = await login_before_rotation(make_settings)
    refresh_previous = tmp_path / "refresh_previous.pem"
    refresh_previous.write_text(key_pems.refresh_public)
    rotated = make_settings(
        **new_keys,
        access_token_previous_public_keys=key_pems.access_public,
        refresh_token_previous_public_keys=str(refresh_previous),
    )

    async with running(rotated) as client:
        kids = await jwks_kids(client)
        me = await client.get(ME, headers=bearer(session.access_token))
        refreshed = await client.post(
            f"{V1}/auth/refresh", json={"refresh_token": session.refresh_token}
        )
        assert refreshed.status_code == 200, refreshed.text
        tokens = refreshed.json()
        new_me = await client.get(ME, headers=bearer(tokens["access_token"]))

    assert me.status_code == 200, me.text
    assert len(kids) == 2
    new_kid = kids[0]
    assert kids == [new_kid, old_kid]
    assert new_kid != old_kid
    assert kid_of(tokens["access_token"]) == new_kid
    assert kid_of(tokens["refresh_token"]) != kid_of(session.refresh_token)
    assert new_me.status_code == 200, new_me.text


async def test_without_previous_keys_old_tokens_are_refused(
    make_settings: SettingsFactory, new_keys: dict[str, str]
) -> None:
    session, old_kid = await login_before_rotation(make_settings)

    async with running(make_settings(**new_keys)) as client:
        kids = await jwks_kids(client)
        me = await client.get(ME, headers=bearer(session.access_token))
        refreshed = await client.post(
            f"{V1}/auth/refresh", json={"refresh_token": session.refresh_token}
        )

    assert old_kid not in kids
    assert_problem(me, 401, "invalid_token")
    assert refreshed.status_code == 401


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("access_token_previous_public_keys", "not-a-key"),
        ("refresh_token_previous_public_keys", "/nonexistent/refresh_old.pem"),
    ],
)
async def test_a_bad_previous_key_stops_start_up_naming_the_setting(
    make_settings: SettingsFactory, setting: str, value: str
) -> None:
    app = create_app(make_settings(**{setting: value}))

    with pytest.raises(ConfigurationError, match=setting.upper()):
        async with app.router.lifespan_context(app):
            pass  # pragma: no cover - start-up must fail
    app.state.container.hasher.close()
