"""Contract of ``SessionRepository``, run against every backend of ``backend``."""

import asyncio
from datetime import datetime, timedelta

import pytest

from app.models.session import Session
from app.models.user import User
from app.utils.ids import new_id
from tests.contract.conftest import Backend

DAY = timedelta(days=1)


def assert_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None, value
    assert value.utcoffset() == timedelta(0), value


async def owner(backend: Backend, email: str = "owner@example.com") -> User:
    return await backend.add_user(email)


async def test_add_then_get_round_trips_every_field(backend: Backend) -> None:
    user = await owner(backend)
    session = backend.new_session(user.id)

    assert await backend.sessions.add(session) == session
    stored = await backend.sessions.get(session.id)

    assert stored == session
    assert stored is not None
    assert stored.user_agent == "pytest"
    assert stored.ip_address == "203.0.113.7"
    assert stored.previous_refresh_jti is None
    assert stored.rotated_at is None
    assert stored.revoked_at is None
    for value in (stored.created_at, stored.last_used_at, stored.expires_at):
        assert_utc(value)


async def test_get_missing_session_is_none(backend: Backend) -> None:
    user = await owner(backend)
    await backend.add_session(user.id)
    assert await backend.sessions.get(new_id()) is None


# --- rotate ----------------------------------------------------------------------------


async def test_rotate_succeeds_once_with_the_expected_jti(backend: Backend) -> None:
    user = await owner(backend)
    session = await backend.add_session(user.id)
    old_jti, new_jti = session.refresh_jti, new_id()
    now = backend.clock.advance(minutes=10)
    new_expiry = now + 14 * DAY

    rotated = await backend.sessions.rotate(session.id, old_jti, new_jti, now, new_expiry)

    assert rotated is not None
    assert rotated.id == session.id
    assert rotated.user_id == user.id
    assert rotated.refresh_jti == new_jti
    assert rotated.previous_refresh_jti == old_jti
    assert rotated.rotated_at == now
    assert rotated.last_used_at == now
    assert rotated.expires_at == new_expiry
    assert rotated.created_at == session.created_at
    assert rotated.revoked_at is None
    for value in (rotated.rotated_at, rotated.last_used_at, rotated.expires_at):
        assert_utc(value)
    assert await backend.sessions.get(session.id) == rotated

    # The same jti a second time is stale now.
    again = await backend.sessions.rotate(session.id, old_jti, new_id(), now, new_expiry)
    assert again is None
    assert await backend.sessions.get(session.id) == rotated


async def test_rotate_chains_with_the_new_jti(backend: Backend) -> None:
    user = await owner(backend)
    session = await backend.add_session(user.id)
    first, second = new_id(), new_id()
    t1 = backend.clock.advance(minutes=1)
    t2 = backend.clock.advance(minutes=1)

    assert await backend.sessions.rotate(session.id, session.refresh_jti, first, t1, t1 + DAY)
    rotated = await backend.sessions.rotate(session.id, first, second, t2, t2 + DAY)

    assert rotated is not None
    assert rotated.refresh_jti == second
    assert rotated.previous_refresh_jti == first
    assert rotated.rotated_at == t2


async def test_rotate_with_a_stale_jti_is_none_and_changes_nothing(backend: Backend) -> None:
    user = await owner(backend)
    session = await backend.add_session(user.id)
    now = backend.clock.advance(minutes=1)

    assert await backend.sessions.rotate(session.id, new_id(), new_id(), now, now + DAY) is None
    assert await backend.sessions.get(session.id) == session


async def test_rotate_unknown_session_is_none(backend: Backend) -> None:
    user = await owner(backend)
    session = await backend.add_session(user.id)
    now = backend.clock.now()
    assert (
        await backend.sessions.rotate(new_id(), session.refresh_jti, new_id(), now, now + DAY)
        is None
    )
    assert await backend.sessions.get(session.id) == session


async def test_rotate_revoked_session_is_none(backend: Backend) -> None:
    user = await owner(backend)
    session = await backend.add_session(user.id)
    now = backend.clock.advance(minutes=1)
    assert await backend.sessions.revoke(session.id, now) is True
    later = backend.clock.advance(minutes=1)

    result = await backend.sessions.rotate(
        session.id, session.refresh_jti, new_id(), later, later + DAY
    )

    assert result is None
    stored = await backend.sessions.get(session.id)
    assert stored is not None
    assert stored.refresh_jti == session.refresh_jti
    assert stored.revoked_at == now


@pytest.mark.parametrize("after_expiry", [timedelta(0), timedelta(seconds=1)])
async def test_rotate_expired_session_is_none(backend: Backend, after_expiry: timedelta) -> None:
    user = await owner(backend)
    session = await backend.add_session(user.id, ttl=timedelta(hours=1))
    now = session.expires_at + after_expiry

    result = await backend.sessions.rotate(
        session.id, session.refresh_jti, new_id(), now, now + DAY
    )

    assert result is None
    assert await backend.sessions.get(session.id) == session


async def test_twenty_concurrent_rotations_of_one_jti_let_exactly_one_win(
    backend: Backend,
) -> None:
    user = await owner(backend)
    session = await backend.add_session(user.id)
    now = backend.clock.advance(minutes=1)
    candidates = [new_id() for _ in range(20)]

    results = await asyncio.gather(
        *(
            backend.sessions.rotate(session.id, session.refresh_jti, jti, now, now + DAY)
            for jti in candidates
        )
    )

    winners = [result for result in results if result is not None]
    assert len(winners) == 1, results
    winner = winners[0]
    assert winner.refresh_jti in candidates
    assert winner.previous_refresh_jti == session.refresh_jti
    stored = await backend.sessions.get(session.id)
    assert stored == winner


# --- list_active -----------------------------------------------------------------------


async def test_list_active_returns_only_live_sessions_of_the_user_newest_first(
    backend: Backend,
) -> None:
    user = await owner(backend)
    other = await owner(backend, "other@example.com")
    start = backend.clock.now()
    oldest = await backend.add_session(user.id, created_at=start)
    middle = await backend.add_session(user.id, created_at=start + timedelta(minutes=1))
    newest = await backend.add_session(user.id, created_at=start + timedelta(minutes=2))
    revoked = await backend.add_session(user.id, created_at=start + timedelta(minutes=3))
    expired = await backend.add_session(
        user.id, created_at=start - timedelta(hours=2), ttl=timedelta(hours=1)
    )
    await backend.add_session(other.id, created_at=start + timedelta(minutes=4))
    now = start + timedelta(minutes=5)
    assert await backend.sessions.revoke(revoked.id, now) is True

    active = await backend.sessions.list_active(user.id, now)

    assert [s.id for s in active] == [newest.id, middle.id, oldest.id]
    assert expired.id not in {s.id for s in active}
    assert all(s.user_id == user.id for s in active)
    assert active[0] == newest


async def test_list_active_uses_the_given_instant(backend: Backend) -> None:
    user = await owner(backend)
    start = backend.clock.now()
    short = await backend.add_session(user.id, created_at=start, ttl=timedelta(hours=1))
    long = await backend.add_session(
        user.id, created_at=start + timedelta(seconds=1), ttl=timedelta(days=1)
    )

    before = await backend.sessions.list_active(user.id, start + timedelta(minutes=30))
    after = await backend.sessions.list_active(user.id, short.expires_at)

    assert [s.id for s in before] == [long.id, short.id]
    assert [s.id for s in after] == [long.id]


async def test_list_active_of_a_user_without_sessions_is_empty(backend: Backend) -> None:
    user = await owner(backend)
    other = await owner(backend, "other@example.com")
    await backend.add_session(other.id)
    assert await backend.sessions.list_active(user.id, backend.clock.now()) == []


# --- revoke ----------------------------------------------------------------------------


async def test_revoke_is_true_once_then_false(backend: Backend) -> None:
    user = await owner(backend)
    session = await backend.add_session(user.id)
    keep = await backend.add_session(user.id)
    now = backend.clock.advance(minutes=1)

    assert await backend.sessions.revoke(session.id, now) is True
    assert await backend.sessions.revoke(session.id, backend.clock.advance(minutes=1)) is False

    stored = await backend.sessions.get(session.id)
    assert stored is not None
    assert stored.revoked_at == now
    assert_utc(stored.revoked_at)
    assert not stored.is_active(backend.clock.now())
    assert await backend.sessions.get(keep.id) == keep


async def test_revoke_with_the_owner_id_revokes(backend: Backend) -> None:
    user = await owner(backend)
    session = await backend.add_session(user.id)
    assert await backend.sessions.revoke(session.id, backend.clock.now(), user_id=user.id) is True
    stored = await backend.sessions.get(session.id)
    assert stored is not None
    assert stored.revoked_at is not None


async def test_revoke_with_another_users_id_is_false_and_keeps_the_session(
    backend: Backend,
) -> None:
    user = await owner(backend)
    intruder = await owner(backend, "intruder@example.com")
    session = await backend.add_session(user.id)

    assert (
        await backend.sessions.revoke(session.id, backend.clock.now(), user_id=intruder.id) is False
    )
    assert await backend.sessions.get(session.id) == session


async def test_revoke_unknown_or_expired_session_is_false(backend: Backend) -> None:
    user = await owner(backend)
    session = await backend.add_session(user.id, ttl=timedelta(hours=1))
    assert await backend.sessions.revoke(new_id(), backend.clock.now()) is False
    assert await backend.sessions.revoke(session.id, session.expires_at) is False
    stored = await backend.sessions.get(session.id)
    assert stored is not None
    assert stored.revoked_at is None


# --- revoke_all ------------------------------------------------------------------------


async def test_revoke_all_revokes_every_live_session_and_counts_them(backend: Backend) -> None:
    user = await owner(backend)
    other = await owner(backend, "other@example.com")
    mine = [await backend.add_session(user.id) for _ in range(3)]
    theirs = await backend.add_session(other.id)
    now = backend.clock.advance(minutes=1)

    assert await backend.sessions.revoke_all(user.id, now) == 3
    assert await backend.sessions.revoke_all(user.id, backend.clock.advance(minutes=1)) == 0

    for session in mine:
        stored = await backend.sessions.get(session.id)
        assert stored is not None
        assert stored.revoked_at == now
    assert await backend.sessions.list_active(user.id, backend.clock.now()) == []
    assert await backend.sessions.get(theirs.id) == theirs


async def test_revoke_all_except_one_session(backend: Backend) -> None:
    user = await owner(backend)
    current = await backend.add_session(user.id)
    others = [await backend.add_session(user.id) for _ in range(2)]
    now = backend.clock.advance(minutes=1)

    assert await backend.sessions.revoke_all(user.id, now, except_session_id=current.id) == 2

    active = await backend.sessions.list_active(user.id, now)
    assert [s.id for s in active] == [current.id]
    for session in others:
        stored = await backend.sessions.get(session.id)
        assert stored is not None
        assert stored.revoked_at == now
    assert await backend.sessions.revoke_all(user.id, now, except_session_id=current.id) == 0
    assert await backend.sessions.revoke_all(user.id, now) == 1


async def test_revoke_all_of_a_user_without_sessions_is_zero(backend: Backend) -> None:
    user = await owner(backend)
    assert await backend.sessions.revoke_all(user.id, backend.clock.now()) == 0


async def test_revoke_all_counts_only_live_sessions(backend: Backend) -> None:
    user = await owner(backend)
    start = backend.clock.now()
    live = await backend.add_session(user.id, created_at=start)
    expired = await backend.add_session(
        user.id, created_at=start - timedelta(hours=2), ttl=timedelta(hours=1)
    )

    assert await backend.sessions.revoke_all(user.id, start) == 1

    stored_live = await backend.sessions.get(live.id)
    stored_expired = await backend.sessions.get(expired.id)
    assert stored_live is not None
    assert stored_live.revoked_at == start
    assert stored_expired == expired


# --- deleting a user ---------------------------------------------------------------------


async def test_deleting_a_user_deletes_its_sessions(backend: Backend) -> None:
    user = await owner(backend)
    other = await owner(backend, "other@example.com")
    sessions: list[Session] = [await backend.add_session(user.id) for _ in range(2)]
    theirs = await backend.add_session(other.id)

    assert await backend.users.delete(user.id) is True

    for session in sessions:
        assert await backend.sessions.get(session.id) is None
    assert await backend.sessions.list_active(user.id, backend.clock.now()) == []
    assert await backend.sessions.get(theirs.id) == theirs


async def test_get_with_user_returns_the_session_and_its_owner(backend: Backend) -> None:
    owner = await backend.add_user("owner@example.com")
    session = await backend.add_session(owner.id)

    found = await backend.sessions.get_with_user(session.id)

    assert found is not None
    assert found == (session, owner)


async def test_get_with_user_of_an_unknown_session_is_none(backend: Backend) -> None:
    assert await backend.sessions.get_with_user(new_id()) is None
