"""Every repository, on every backend, refuses a string holding NUL the same way.

PostgreSQL cannot store NUL in text, SQLite and MongoDB can: without one rule, the
same call failed with a driver error on one backend and succeeded on the others. The
rule (``app/interfaces/repositories/__init__.py``): ``InvalidInputError`` before the
store is touched, for lookups and listings as for writes.
"""

from collections.abc import Awaitable
from dataclasses import replace
from typing import Any

import pytest

from app.interfaces.repositories import UserFilter
from app.models.errors import InvalidInputError
from tests.contract.conftest import Backend

NUL = "\x00"


async def assert_refused(call: Awaitable[Any]) -> None:
    with pytest.raises(InvalidInputError):
        await call


async def test_add_refuses_a_user_with_nul_and_stores_nothing(backend: Backend) -> None:
    await assert_refused(backend.users.add(backend.new_user("ann@example.com", full_name="A\x00B")))
    await assert_refused(backend.users.add(backend.new_user("ann\x00@example.com")))
    assert await backend.users.count() == 0
    assert await backend.users.get_by_email("ann@example.com") is None


async def test_update_refuses_nul_in_a_value_or_a_key_and_changes_nothing(
    backend: Backend,
) -> None:
    user = await backend.add_user("bob@example.com", full_name="Bob")
    later = backend.clock.advance(seconds=1)
    await assert_refused(backend.users.update(user.id, {"full_name": "Bo\x00b"}, later))
    await assert_refused(backend.users.update(user.id, {"full\x00name": "Bob"}, later))
    await assert_refused(backend.users.update(f"{user.id}{NUL}", {"full_name": "Rob"}, later))
    assert await backend.users.get_by_id(user.id) == user


async def test_lookups_refuse_nul_rather_than_answer_not_found(backend: Backend) -> None:
    user = await backend.add_user("carol@example.com")
    await assert_refused(backend.users.get_by_email("carol@example.com\x00"))
    await assert_refused(backend.users.get_by_email(NUL))
    await assert_refused(backend.users.get_by_id(f"{user.id}{NUL}"))
    await assert_refused(backend.sessions.get(NUL))
    await assert_refused(backend.outbox.get(NUL))
    # The same lookups without the NUL still answer.
    assert await backend.users.get_by_email("carol@example.com") == user
    assert await backend.sessions.get(user.id) is None


async def test_listings_refuse_nul_in_a_search_or_a_cursor(backend: Backend) -> None:
    user = await backend.add_user("dave@example.com")
    search = UserFilter(email_prefix="da\x00")
    await assert_refused(backend.users.list_page(search, limit=10, offset=0))
    await assert_refused(backend.users.list_after(search, limit=10, after_id=None))
    await assert_refused(backend.users.list_after(UserFilter(), limit=10, after_id=NUL))
    await assert_refused(backend.outbox.list_messages(None, 10, NUL))
    await assert_refused(backend.audit.list_events(None, None, 10, NUL))
    page = await backend.users.list_page(UserFilter(email_prefix="da"), limit=10, offset=0)
    assert page.items == [user]


async def test_other_repositories_refuse_nul_in_what_they_store(backend: Backend) -> None:
    user = await backend.add_user("erin@example.com")
    session = backend.new_session(user.id)
    await assert_refused(backend.sessions.add(replace(session, user_agent="curl\x00")))
    await assert_refused(backend.outbox.add(backend.new_message(subject="Hi\x00")))
    assert await backend.sessions.get(session.id) is None
    assert await backend.outbox.list_messages(None, 10, None) == []
