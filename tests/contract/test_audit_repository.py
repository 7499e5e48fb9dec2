"""Contract of ``AuditRepository``, run against every backend of ``backend``."""

import inspect
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from app.interfaces.repositories import AuditRepository
from app.models.audit import (
    MAX_IP_ADDRESS_LENGTH,
    MAX_SUBJECT_EMAIL_LENGTH,
    MAX_USER_AGENT_LENGTH,
    AuditEvent,
    AuditEventType,
)
from app.utils.ids import new_id
from tests.contract.conftest import Backend

# The smallest step every backend stores (MongoDB keeps milliseconds).
TICK = timedelta(milliseconds=1)


def assert_utc(value: datetime) -> None:
    assert value.tzinfo is not None, value
    assert value.utcoffset() == timedelta(0), value


def ids(events: list[AuditEvent]) -> list[str]:
    return [event.id for event in events]


def new_event(
    backend: Backend, event: AuditEventType = AuditEventType.LOGIN_SUCCEEDED, **fields: Any
) -> AuditEvent:
    """An event as the services record it: a fresh id, occurring now (then a tick later)."""
    occurred_at = fields.pop("occurred_at", None) or backend.clock.now()
    backend.clock.advance(milliseconds=1)
    return AuditEvent(id=new_id(), event=event, occurred_at=occurred_at, **fields)


async def add_event(
    backend: Backend, event: AuditEventType = AuditEventType.LOGIN_SUCCEEDED, **fields: Any
) -> AuditEvent:
    recorded = new_event(backend, event, **fields)
    await backend.audit.add(recorded)
    return recorded


async def list_all(backend: Backend, **filters: Any) -> list[AuditEvent]:
    return await backend.audit.list_events(
        filters.get("user_id"), filters.get("event"), filters.get("limit", 1000), None
    )


# --- add / list round trip -------------------------------------------------------------


async def test_add_then_list_round_trips_every_field(backend: Backend) -> None:
    event = new_event(
        backend,
        AuditEventType.ROLE_CHANGED,
        actor_id=new_id(),
        subject_id=new_id(),
        subject_email="alice@example.com",
        ip_address="2001:db8::7",
        user_agent="Mozilla/5.0 (X11; Linux x86_64) pytest",
        details={"from": "user", "to": "admin"},
    )

    await backend.audit.add(event)
    listed = await list_all(backend)

    assert listed == [event]
    got = listed[0]
    assert got.id == event.id
    assert got.event is AuditEventType.ROLE_CHANGED
    assert got.occurred_at == event.occurred_at
    assert_utc(got.occurred_at)
    assert got.occurred_at.microsecond % 1000 == 0
    assert got.actor_id == event.actor_id
    assert got.subject_id == event.subject_id
    assert got.subject_email == "alice@example.com"
    assert got.ip_address == "2001:db8::7"
    assert got.user_agent == "Mozilla/5.0 (X11; Linux x86_64) pytest"
    assert got.details == {"from": "user", "to": "admin"}
    assert isinstance(got.details, dict)


async def test_optional_fields_round_trip_as_none(backend: Backend) -> None:
    # A failed login by an unknown address: no actor, no subject, nothing but the try.
    event = new_event(backend, AuditEventType.LOGIN_FAILED)

    await backend.audit.add(event)

    [got] = await list_all(backend)
    assert got == event
    assert got.actor_id is None
    assert got.subject_id is None
    assert got.subject_email is None
    assert got.ip_address is None
    assert got.user_agent is None
    assert got.details == {}


async def test_every_event_type_round_trips(backend: Backend) -> None:
    recorded = [await add_event(backend, kind, subject_id=new_id()) for kind in AuditEventType]

    listed = await list_all(backend)

    assert listed == recorded[::-1]
    assert [event.event for event in listed] == list(AuditEventType)[::-1]
    assert all(type(event.event) is AuditEventType for event in listed)


async def test_occurred_at_in_another_zone_reads_back_as_the_same_instant_in_utc(
    backend: Backend,
) -> None:
    paris = datetime(2031, 3, 4, 15, 30, 45, 123000, tzinfo=timezone(timedelta(hours=2)))
    event = new_event(backend, occurred_at=paris)

    await backend.audit.add(event)

    [got] = await list_all(backend)
    assert_utc(got.occurred_at)
    assert got.occurred_at == paris
    assert got.occurred_at.hour == 13
    assert got.occurred_at.microsecond == 123000


async def test_values_at_their_maximum_length_round_trip(backend: Backend) -> None:
    email = "a" * (MAX_SUBJECT_EMAIL_LENGTH - len("@example.com")) + "@example.com"
    event = new_event(
        backend,
        subject_email=email,
        ip_address="9" * MAX_IP_ADDRESS_LENGTH,
        user_agent="é" * MAX_USER_AGENT_LENGTH,
    )

    await backend.audit.add(event)

    [got] = await list_all(backend)
    assert got == event
    assert got.subject_email == email
    assert len(got.subject_email) == MAX_SUBJECT_EMAIL_LENGTH
    assert got.user_agent == "é" * MAX_USER_AGENT_LENGTH


async def test_oversized_request_values_are_clipped_not_rejected(backend: Backend) -> None:
    event = new_event(
        backend,
        subject_email="b" * 400 + "@example.com",
        ip_address="1" * 100,
        user_agent="x" * 600 + "tail",
    )
    assert event.user_agent == "x" * MAX_USER_AGENT_LENGTH

    await backend.audit.add(event)

    [got] = await list_all(backend)
    assert got == event
    assert got.user_agent == "x" * MAX_USER_AGENT_LENGTH
    assert got.ip_address == "1" * MAX_IP_ADDRESS_LENGTH
    assert got.subject_email == "b" * MAX_SUBJECT_EMAIL_LENGTH


@pytest.mark.parametrize(
    "details",
    [
        {},
        {"reason": "bad_password"},
        {"from": "user", "to": "admin"},
        {"sessions": "3", "except_current": "true", "note": ""},
        {"ünïcödé": "ça va? 日本語 ✓", "quote": "he said \"no\" \\ 'yes'"},
        {f"key_{i}": f"value {i}" for i in range(20)},
    ],
    ids=["empty", "one", "two", "empty-value", "unicode", "twenty"],
)
async def test_details_round_trip(backend: Backend, details: dict[str, str]) -> None:
    event = new_event(backend, AuditEventType.STATUS_CHANGED, subject_id=new_id(), details=details)

    await backend.audit.add(event)

    [got] = await list_all(backend)
    assert got.details == details
    assert got == event


async def test_the_event_keeps_its_own_copy_of_details(backend: Backend) -> None:
    details = {"reason": "bad_password"}
    event = new_event(backend, details=details)
    details["reason"] = "changed after the fact"

    await backend.audit.add(event)

    [got] = await list_all(backend)
    assert got.details == {"reason": "bad_password"}


# --- ordering and limit ----------------------------------------------------------------


async def test_list_of_an_empty_log_is_empty(backend: Backend) -> None:
    assert await backend.audit.list_events(None, None, 10, None) == []
    assert await backend.audit.list_events(new_id(), AuditEventType.LOGGED_OUT, 10, None) == []
    assert await backend.audit.list_events(None, None, 10, new_id()) == []


async def test_list_is_newest_first(backend: Backend) -> None:
    recorded = [await add_event(backend, subject_id=new_id()) for _ in range(5)]

    listed = await list_all(backend)

    assert ids(listed) == ids(recorded)[::-1]
    assert listed[0] == recorded[-1]
    occurred = [event.occurred_at for event in listed]
    assert occurred == sorted(occurred, reverse=True)


async def test_list_respects_the_limit(backend: Backend) -> None:
    recorded = [await add_event(backend) for _ in range(5)]

    assert ids(await backend.audit.list_events(None, None, 2, None)) == [
        recorded[4].id,
        recorded[3].id,
    ]
    assert ids(await backend.audit.list_events(None, None, 1, None)) == [recorded[4].id]
    assert len(await backend.audit.list_events(None, None, 5, None)) == 5
    assert len(await backend.audit.list_events(None, None, 50, None)) == 5


@pytest.mark.parametrize("limit", [0, -1])
async def test_a_limit_below_one_is_an_error(backend: Backend, limit: int) -> None:
    await add_event(backend)
    with pytest.raises(ValueError, match="limit"):
        await backend.audit.list_events(None, None, limit, None)


# --- filters ---------------------------------------------------------------------------


async def seed(backend: Backend) -> tuple[dict[str, str], list[AuditEvent]]:
    """Events of alice, bob and an admin in every role; returned oldest first."""
    people = {"alice": new_id(), "bob": new_id(), "admin": new_id(), "carol": new_id()}
    alice, bob, admin = people["alice"], people["bob"], people["admin"]
    events = [
        # Alice logs in by herself: subject and actor.
        await add_event(backend, AuditEventType.LOGIN_SUCCEEDED, actor_id=alice, subject_id=alice),
        # Someone fails to log in as alice: subject only.
        await add_event(backend, AuditEventType.LOGIN_FAILED, subject_id=alice),
        # The admin changes alice's role: alice is the subject, the admin the actor.
        await add_event(backend, AuditEventType.ROLE_CHANGED, actor_id=admin, subject_id=alice),
        # Bob logs in.
        await add_event(backend, AuditEventType.LOGIN_SUCCEEDED, actor_id=bob, subject_id=bob),
        # Alice (now an admin) deactivates bob: alice is the actor only.
        await add_event(backend, AuditEventType.STATUS_CHANGED, actor_id=alice, subject_id=bob),
        # A failed login for an address nobody has: no user at all.
        await add_event(backend, AuditEventType.LOGIN_FAILED, subject_email="x@example.com"),
        # The admin logs out.
        await add_event(backend, AuditEventType.LOGGED_OUT, actor_id=admin, subject_id=admin),
    ]
    return people, events


def involving(events: list[AuditEvent], user_id: str) -> list[str]:
    return [e.id for e in reversed(events) if user_id in (e.subject_id, e.actor_id)]


async def test_filter_by_user_matches_the_subject_or_the_actor(backend: Backend) -> None:
    people, events = await seed(backend)

    alice = await list_all(backend, user_id=people["alice"])
    assert ids(alice) == [events[4].id, events[2].id, events[1].id, events[0].id]
    assert ids(alice) == involving(events, people["alice"])

    bob = await list_all(backend, user_id=people["bob"])
    assert ids(bob) == [events[4].id, events[3].id]

    admin = await list_all(backend, user_id=people["admin"])
    assert ids(admin) == [events[6].id, events[2].id]

    assert await list_all(backend, user_id=people["carol"]) == []


async def test_an_event_where_the_user_is_both_subject_and_actor_is_listed_once(
    backend: Backend,
) -> None:
    user_id = new_id()
    event = await add_event(backend, actor_id=user_id, subject_id=user_id)

    assert ids(await list_all(backend, user_id=user_id)) == [event.id]


async def test_filter_by_event(backend: Backend) -> None:
    _, events = await seed(backend)

    for kind in AuditEventType:
        listed = await list_all(backend, event=kind)
        assert ids(listed) == [e.id for e in reversed(events) if e.event is kind], kind
        assert all(e.event is kind for e in listed)
    assert ids(await list_all(backend, event=AuditEventType.LOGIN_FAILED)) == [
        events[5].id,
        events[1].id,
    ]


async def test_filters_by_user_and_event_together(backend: Backend) -> None:
    people, events = await seed(backend)

    assert ids(
        await list_all(backend, user_id=people["alice"], event=AuditEventType.LOGIN_FAILED)
    ) == [events[1].id]
    assert ids(
        await list_all(backend, user_id=people["alice"], event=AuditEventType.STATUS_CHANGED)
    ) == [events[4].id]
    assert ids(
        await list_all(backend, user_id=people["bob"], event=AuditEventType.LOGIN_SUCCEEDED)
    ) == [events[3].id]
    assert await list_all(backend, user_id=people["bob"], event=AuditEventType.ROLE_CHANGED) == []


async def test_the_limit_applies_after_the_filters(backend: Backend) -> None:
    people, events = await seed(backend)

    listed = await backend.audit.list_events(people["alice"], None, 2, None)
    assert ids(listed) == [events[4].id, events[2].id]
    listed = await backend.audit.list_events(None, AuditEventType.LOGIN_FAILED, 1, None)
    assert ids(listed) == [events[5].id]


# --- before_id paging ------------------------------------------------------------------


async def walk(
    backend: Backend,
    page_size: int,
    user_id: str | None = None,
    event: AuditEventType | None = None,
) -> list[list[str]]:
    pages: list[list[str]] = []
    before: str | None = None
    while page := ids(await backend.audit.list_events(user_id, event, page_size, before)):
        assert len(page) <= page_size
        pages.append(page)
        before = page[-1]
        assert len(pages) <= 100, "paging does not end"
    return pages


@pytest.mark.parametrize(("page_size", "sizes"), [(3, [3, 3, 3, 1]), (5, [5, 5]), (1, [1] * 10)])
async def test_before_id_paging_walks_every_event_exactly_once(
    backend: Backend, page_size: int, sizes: list[int]
) -> None:
    recorded = [await add_event(backend, subject_id=new_id()) for _ in range(10)]

    pages = await walk(backend, page_size)

    assert [len(page) for page in pages] == sizes
    walked = [event_id for page in pages for event_id in page]
    assert walked == ids(recorded)[::-1]
    assert len(set(walked)) == len(recorded)


async def test_before_id_paging_with_filters_walks_the_matches_exactly_once(
    backend: Backend,
) -> None:
    user_id = new_id()
    recorded = []
    for i in range(12):
        # Interleave: every third event is somebody else's, every other one a logout.
        kind = AuditEventType.LOGGED_OUT if i % 2 else AuditEventType.LOGIN_SUCCEEDED
        owner = new_id() if i % 3 == 0 else user_id
        recorded.append(await add_event(backend, kind, actor_id=owner, subject_id=owner))
    theirs = involving(recorded, user_id)
    logouts = [e.id for e in reversed(recorded) if e.event is AuditEventType.LOGGED_OUT]
    both = [e.id for e in reversed(recorded) if e.id in theirs and e.id in logouts]
    assert (len(theirs), len(logouts), len(both)) == (8, 6, 4)

    assert [i for page in await walk(backend, 3, user_id=user_id) for i in page] == theirs
    by_event = await walk(backend, 4, event=AuditEventType.LOGGED_OUT)
    assert [i for page in by_event for i in page] == logouts
    by_both = await walk(backend, 3, user_id=user_id, event=AuditEventType.LOGGED_OUT)
    assert [len(page) for page in by_both] == [3, 1]
    assert [i for page in by_both for i in page] == both


async def test_before_id_is_exclusive(backend: Backend) -> None:
    recorded = [await add_event(backend) for _ in range(4)]

    assert ids(await backend.audit.list_events(None, None, 10, recorded[2].id)) == [
        recorded[1].id,
        recorded[0].id,
    ]
    assert await backend.audit.list_events(None, None, 10, recorded[0].id) == []


async def test_before_id_need_not_match_the_filters_nor_exist(backend: Backend) -> None:
    people, events = await seed(backend)

    # events[3] is bob's: alice's listing continues below it all the same.
    below = await backend.audit.list_events(people["alice"], None, 10, events[3].id)
    assert ids(below) == [events[2].id, events[1].id, events[0].id]
    # An id never stored: newer than everything, then older than everything.
    assert ids(await backend.audit.list_events(None, None, 10, new_id())) == ids(events)[::-1]
    oldest = "00000000-0000-7000-8000-000000000000"
    assert await backend.audit.list_events(None, None, 10, oldest) == []


async def test_events_added_while_paging_do_not_shift_the_pages(backend: Backend) -> None:
    recorded = [await add_event(backend) for _ in range(6)]
    first = await backend.audit.list_events(None, None, 3, None)
    assert ids(first) == ids(recorded)[:2:-1]

    newer = await add_event(backend)
    second = await backend.audit.list_events(None, None, 3, first[-1].id)

    assert ids(second) == ids(recorded)[2::-1]
    assert newer.id not in ids(first) + ids(second)
    assert ids(await backend.audit.list_events(None, None, 1, None)) == [newer.id]


# --- append-only, outliving users, unit of work ----------------------------------------


async def test_events_survive_the_deletion_of_their_user(backend: Backend) -> None:
    user = await backend.add_user("alice@example.com")
    admin = await backend.add_user("admin@example.com")
    login = await add_event(
        backend,
        AuditEventType.LOGIN_SUCCEEDED,
        actor_id=user.id,
        subject_id=user.id,
        subject_email=user.email,
    )
    deleted = await add_event(
        backend,
        AuditEventType.USER_DELETED,
        actor_id=admin.id,
        subject_id=user.id,
        subject_email=user.email,
    )

    assert await backend.users.delete(user.id) is True
    assert await backend.users.get_by_id(user.id) is None

    assert await list_all(backend, user_id=user.id) == [deleted, login]
    assert await list_all(backend) == [deleted, login]
    # Deleting the actor too leaves the event in place.
    assert await backend.users.delete(admin.id) is True
    assert await list_all(backend, user_id=admin.id) == [deleted]


async def test_an_event_may_name_a_user_that_never_existed(backend: Backend) -> None:
    ghost = new_id()
    event = await add_event(backend, AuditEventType.ACCOUNT_LOCKED, subject_id=ghost)

    assert await backend.users.get_by_id(ghost) is None
    assert await list_all(backend, user_id=ghost) == [event]


APPEND_ONLY = {"add", "list_events"}


class AbortError(Exception):
    """Raised inside ``atomic()`` to abort it."""


def test_the_interface_has_no_update_or_delete() -> None:
    assert AuditRepository.__abstractmethods__ == frozenset(APPEND_ONLY)
    public = {name for name in dir(AuditRepository) if not name.startswith("_")}
    assert public == APPEND_ONLY
    for name in ("update", "delete", "remove", "replace", "clear", "purge"):
        assert not any(name in attribute for attribute in dir(AuditRepository)), name


async def test_the_backend_adds_no_mutating_method(backend: Backend) -> None:
    assert isinstance(backend.audit, AuditRepository)
    public = {
        name
        for name, member in inspect.getmembers(type(backend.audit), inspect.isfunction)
        if not name.startswith("_")
    }
    assert public == APPEND_ONLY


async def test_add_joins_the_unit_of_work_and_commits_with_it(backend: Backend) -> None:
    user = backend.new_user("alice@example.com")
    event = new_event(backend, AuditEventType.USER_CREATED, subject_id=user.id)

    async with backend.uow.atomic():
        await backend.users.add(user)
        await backend.audit.add(event)

    assert await backend.users.get_by_id(user.id) == user
    assert await list_all(backend) == [event]


async def test_add_rolls_back_with_the_unit_of_work(backend: Backend) -> None:
    backend.require_transactions()
    kept = await add_event(backend)
    event = new_event(backend, AuditEventType.PASSWORD_CHANGED, subject_id=new_id())

    seen_inside: list[str] = []

    async def record_then_fail() -> None:
        async with backend.uow.atomic():
            await backend.audit.add(event)
            seen_inside.extend(ids(await list_all(backend)))
            raise AbortError()

    with pytest.raises(AbortError):
        await record_then_fail()

    # Visible inside the transaction, gone after its rollback.
    assert seen_inside == [event.id, kept.id]
    assert await list_all(backend) == [kept]
