"""Contract of ``UserRepository``, run against every backend of ``backend``."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone

import pytest

from app.factories.user_factory import UserFactory
from app.interfaces.repositories import UserFilter
from app.models.errors import EmailTakenError, LastSuperadminError
from app.models.role import Permission, Role
from app.models.user import User
from app.utils.ids import new_id
from tests.backends import interleave_mongodb_fake
from tests.contract.conftest import Backend


def assert_utc(value: datetime) -> None:
    assert value.tzinfo is not None, value
    assert value.utcoffset() == timedelta(0), value


def ids(users: list[User]) -> list[str]:
    return [user.id for user in users]


async def seed(backend: Backend) -> list[User]:
    """Six users covering each filter; returned in id order (the listing order)."""
    users = [
        await backend.add_user("alice@example.com", is_verified=True),
        await backend.add_user("albert@example.com"),
        await backend.add_user("bob@example.com", role=Role.ADMIN, is_verified=True),
        await backend.add_user("carol@example.com", role=Role.SUPERADMIN, is_verified=True),
        await backend.add_user("dave@example.com"),
        await backend.add_user("alina@example.com", role=Role.ADMIN),
    ]
    await backend.users.update(users[4].id, {"is_active": False}, backend.clock.now())
    await backend.users.update(users[5].id, {"is_active": False}, backend.clock.now())
    stored = [await backend.users.get_by_id(user.id) for user in users]
    return sorted((user for user in stored if user is not None), key=lambda user: user.id)


# --- add / get -------------------------------------------------------------------------


async def test_add_then_get_by_id_and_email_round_trips_every_field(backend: Backend) -> None:
    user = backend.new_user("alice@example.com", full_name="Alice", role=Role.ADMIN)
    returned = await backend.users.add(user)
    assert returned == user

    by_id = await backend.users.get_by_id(user.id)
    by_email = await backend.users.get_by_email("alice@example.com")
    assert by_id == user
    assert by_email == user
    assert by_id is not None
    assert by_id.role is Role.ADMIN
    assert isinstance(by_id.permissions, frozenset)
    assert by_id.permissions == UserFactory.permissions_for(Role.ADMIN)
    assert all(isinstance(p, Permission) for p in by_id.permissions)
    assert by_id.full_name == "Alice"
    assert by_id.is_active is True
    assert by_id.is_verified is False


async def test_datetimes_come_back_aware_utc(backend: Backend) -> None:
    user = await backend.add_user("tz@example.com")
    stored = await backend.users.get_by_id(user.id)
    assert stored is not None
    assert_utc(stored.created_at)
    assert_utc(stored.updated_at)
    assert stored.created_at == user.created_at

    # An aware time in another zone is stored as the same instant and read back in UTC,
    # to the millisecond: the precision every backend keeps (MongoDB stores no more).
    paris = datetime(2031, 3, 4, 15, 30, 45, 123000, tzinfo=timezone(timedelta(hours=2)))
    updated = await backend.users.update(user.id, {"full_name": "Tz"}, paris)
    assert updated is not None
    assert_utc(updated.updated_at)
    assert updated.updated_at == paris
    assert updated.updated_at.hour == 13
    reread = await backend.users.get_by_id(user.id)
    assert reread is not None
    assert_utc(reread.updated_at)
    assert reread.updated_at == paris


async def test_get_missing_user_is_none(backend: Backend) -> None:
    await backend.add_user("present@example.com")
    assert await backend.users.get_by_id(new_id()) is None
    assert await backend.users.get_by_email("absent@example.com") is None


async def test_get_by_email_is_exact(backend: Backend) -> None:
    await backend.add_user("exact@example.com")
    assert await backend.users.get_by_email("exact@example.co") is None
    assert await backend.users.get_by_email("xact@example.com") is None


async def test_add_duplicate_email_raises_email_taken(backend: Backend) -> None:
    first = await backend.add_user("dup@example.com")
    with pytest.raises(EmailTakenError):
        await backend.add_user("dup@example.com")
    assert await backend.users.count() == 1
    assert await backend.users.get_by_email("dup@example.com") == first


async def test_twenty_concurrent_adds_of_one_email_store_exactly_one(backend: Backend) -> None:
    candidates = [backend.new_user("race@example.com") for _ in range(20)]
    assert len({user.id for user in candidates}) == 20

    results = await asyncio.gather(
        *(backend.users.add(user) for user in candidates), return_exceptions=True
    )

    winners = [r for r in results if isinstance(r, User)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1, results
    assert len(losers) == 19
    assert all(isinstance(r, EmailTakenError) for r in losers), losers
    assert await backend.users.count() == 1
    stored = await backend.users.get_by_email("race@example.com")
    assert stored is not None
    assert stored.id == winners[0].id


# --- update ----------------------------------------------------------------------------


async def test_update_applies_changes_and_sets_updated_at(backend: Backend) -> None:
    user = await backend.add_user("upd@example.com")
    later = backend.clock.advance(minutes=5)

    updated = await backend.users.update(
        user.id,
        {"full_name": "Updated", "is_active": False, "is_verified": True},
        later,
    )

    assert updated is not None
    assert updated.full_name == "Updated"
    assert updated.is_active is False
    assert updated.is_verified is True
    assert updated.updated_at == later
    assert updated.created_at == user.created_at
    assert updated.email == user.email
    assert await backend.users.get_by_id(user.id) == updated


async def test_update_role_and_permissions_round_trip_as_enums(backend: Backend) -> None:
    user = await backend.add_user("promote@example.com")
    permissions = UserFactory.permissions_for(Role.ADMIN)

    updated = await backend.users.update(
        user.id, {"role": Role.ADMIN, "permissions": permissions}, backend.clock.now()
    )

    assert updated is not None
    stored = await backend.users.get_by_id(user.id)
    assert stored is not None
    for result in (updated, stored):
        assert result.role is Role.ADMIN
        assert isinstance(result.permissions, frozenset)
        assert result.permissions == permissions
        assert all(type(p) is Permission for p in result.permissions)


async def test_update_email_to_a_taken_one_raises_email_taken(backend: Backend) -> None:
    await backend.add_user("taken@example.com")
    other = await backend.add_user("other@example.com")
    with pytest.raises(EmailTakenError):
        await backend.users.update(other.id, {"email": "taken@example.com"}, backend.clock.now())
    assert await backend.users.get_by_id(other.id) == other


async def test_update_missing_user_is_none(backend: Backend) -> None:
    await backend.add_user("someone@example.com")
    assert await backend.users.update(new_id(), {"full_name": "x"}, backend.clock.now()) is None


async def test_update_only_touches_the_given_user(backend: Backend) -> None:
    target = await backend.add_user("target@example.com")
    bystander = await backend.add_user("bystander@example.com")
    await backend.users.update(target.id, {"full_name": "T"}, backend.clock.advance(seconds=1))
    assert await backend.users.get_by_id(bystander.id) == bystander


# --- delete ----------------------------------------------------------------------------


async def test_delete_is_true_once_then_false(backend: Backend) -> None:
    user = await backend.add_user("gone@example.com")
    keep = await backend.add_user("keep@example.com")

    assert await backend.users.delete(user.id) is True
    assert await backend.users.get_by_id(user.id) is None
    assert await backend.users.get_by_email("gone@example.com") is None
    assert await backend.users.delete(user.id) is False
    assert await backend.users.get_by_id(keep.id) == keep
    assert await backend.users.count() == 1


async def test_deleted_email_can_be_registered_again(backend: Backend) -> None:
    user = await backend.add_user("again@example.com")
    assert await backend.users.delete(user.id) is True
    second = await backend.add_user("again@example.com")
    assert await backend.users.get_by_email("again@example.com") == second


# --- the last active superadmin -------------------------------------------------------

# Ends a user's status as an active superadmin: what the guard must refuse for the last one.
Removal = Callable[[Backend, str], Awaitable[object]]


async def demote(backend: Backend, user_id: str) -> object:
    changes = {"role": Role.ADMIN, "permissions": UserFactory.permissions_for(Role.ADMIN)}
    return await backend.users.update(user_id, changes, backend.clock.now())


async def deactivate(backend: Backend, user_id: str) -> object:
    return await backend.users.update(user_id, {"is_active": False}, backend.clock.now())


async def delete(backend: Backend, user_id: str) -> object:
    return await backend.users.delete(user_id)


REMOVALS = [
    pytest.param(demote, id="demote"),
    pytest.param(deactivate, id="deactivate"),
    pytest.param(delete, id="delete"),
]
RACING_REMOVALS = [
    pytest.param(first, second, id=f"{first.__name__}-vs-{second.__name__}")
    for first, second in [
        (demote, demote),
        (deactivate, deactivate),
        (delete, delete),
        (demote, deactivate),
        (demote, delete),
        (deactivate, delete),
    ]
]
RACE_ROUNDS = 15


async def add_superadmin(backend: Backend, email: str) -> User:
    return await backend.add_user(email, role=Role.SUPERADMIN, is_verified=True)


async def active_superadmins(backend: Backend) -> list[User]:
    page = await backend.users.list_page(
        UserFilter(role=Role.SUPERADMIN, is_active=True), limit=100, offset=0
    )
    return page.items


@pytest.mark.parametrize("removal", REMOVALS)
async def test_the_last_active_superadmin_cannot_be_removed(
    backend: Backend, removal: Removal
) -> None:
    root = await add_superadmin(backend, "root@example.com")
    await backend.add_user("admin@example.com", role=Role.ADMIN)

    with pytest.raises(LastSuperadminError):
        await removal(backend, root.id)

    assert await backend.users.get_by_id(root.id) == root


@pytest.mark.parametrize("removal", REMOVALS)
async def test_a_superadmin_can_be_removed_while_another_stays_active(
    backend: Backend, removal: Removal
) -> None:
    first = await add_superadmin(backend, "first@example.com")
    second = await add_superadmin(backend, "second@example.com")

    await removal(backend, first.id)

    assert await active_superadmins(backend) == [second]
    with pytest.raises(LastSuperadminError):
        await removal(backend, second.id)


@pytest.mark.parametrize("removal", REMOVALS)
async def test_an_inactive_superadmin_neither_counts_nor_is_guarded(
    backend: Backend, removal: Removal
) -> None:
    root = await add_superadmin(backend, "root@example.com")
    dormant = await add_superadmin(backend, "dormant@example.com")
    await deactivate(backend, dormant.id)

    with pytest.raises(LastSuperadminError):
        await removal(backend, root.id)
    await removal(backend, dormant.id)

    assert await active_superadmins(backend) == [root]


async def test_changes_that_keep_a_superadmin_active_are_not_refused(backend: Backend) -> None:
    root = await add_superadmin(backend, "root@example.com")
    changes = {"full_name": "Root", "is_active": True, "role": Role.SUPERADMIN}

    updated = await backend.users.update(root.id, changes, backend.clock.now())

    assert updated is not None
    assert updated.full_name == "Root"
    assert await active_superadmins(backend) == [updated]


async def test_removing_a_missing_user_is_not_found_rather_than_refused(
    backend: Backend,
) -> None:
    await add_superadmin(backend, "root@example.com")
    assert await demote(backend, new_id()) is None
    assert await deactivate(backend, new_id()) is None
    assert await delete(backend, new_id()) is False


async def test_a_second_removal_waits_for_the_first_transaction_then_is_refused(
    backend: Backend,
) -> None:
    first = await add_superadmin(backend, "first@example.com")
    second = await add_superadmin(backend, "second@example.com")
    first_written = asyncio.Event()
    commit = asyncio.Event()

    async def first_transaction() -> None:
        async with backend.uow.atomic():
            await demote(backend, first.id)
            first_written.set()
            await commit.wait()

    async def second_transaction() -> None:
        await first_written.wait()
        async with backend.uow.atomic():
            await demote(backend, second.id)

    first_task = asyncio.create_task(first_transaction())
    second_task = asyncio.create_task(second_transaction())
    await first_written.wait()
    await asyncio.sleep(0.3)
    if backend.transactional:
        # It must not decide on what the open transaction has not committed yet.
        assert not second_task.done()
    commit.set()
    await asyncio.wait_for(first_task, timeout=20)
    with pytest.raises(LastSuperadminError):
        await asyncio.wait_for(second_task, timeout=20)

    assert await active_superadmins(backend) == [await backend.users.get_by_id(second.id)]


@pytest.mark.parametrize(("first_removal", "second_removal"), RACING_REMOVALS)
async def test_two_superadmins_removed_at_once_leave_exactly_one(
    backend: Backend, first_removal: Removal, second_removal: Removal
) -> None:
    async def in_its_own_transaction(removal: Removal, user_id: str) -> object:
        async with backend.uow.atomic():
            return await removal(backend, user_id)

    interleave_mongodb_fake()
    survivor = None
    for round_number in range(RACE_ROUNDS):
        first = await add_superadmin(backend, f"first-{round_number}@example.com")
        second = await add_superadmin(backend, f"second-{round_number}@example.com")
        if survivor is not None:
            await demote(backend, survivor.id)

        results = await asyncio.wait_for(
            asyncio.gather(
                in_its_own_transaction(first_removal, first.id),
                in_its_own_transaction(second_removal, second.id),
                return_exceptions=True,
            ),
            timeout=20,
        )

        done = [r for r in results if not isinstance(r, BaseException)]
        refused = [r for r in results if isinstance(r, LastSuperadminError)]
        assert (len(done), len(refused)) == (1, 1), (round_number, results)
        remaining = await active_superadmins(backend)
        assert len(remaining) == 1, (round_number, results)
        survivor = remaining[0]
        assert survivor.id in {first.id, second.id}


# --- list_page -------------------------------------------------------------------------


async def test_list_page_without_filters_returns_all_with_total(backend: Backend) -> None:
    users = await seed(backend)
    page = await backend.users.list_page(UserFilter(), limit=100, offset=0)
    assert page.total == 6
    assert ids(page.items) == ids(users)
    assert page.items == users


@pytest.mark.parametrize(
    ("filters", "emails"),
    [
        pytest.param(
            UserFilter(role=Role.ADMIN), {"bob@example.com", "alina@example.com"}, id="role"
        ),
        pytest.param(UserFilter(role=Role.SUPERADMIN), {"carol@example.com"}, id="superadmin"),
        pytest.param(
            UserFilter(is_active=False),
            {"dave@example.com", "alina@example.com"},
            id="inactive",
        ),
        pytest.param(
            UserFilter(is_active=True),
            {"alice@example.com", "albert@example.com", "bob@example.com", "carol@example.com"},
            id="active",
        ),
        pytest.param(
            UserFilter(is_verified=True),
            {"alice@example.com", "bob@example.com", "carol@example.com"},
            id="verified",
        ),
        pytest.param(
            UserFilter(is_verified=False),
            {"albert@example.com", "dave@example.com", "alina@example.com"},
            id="unverified",
        ),
        pytest.param(
            UserFilter(email_prefix="al"),
            {"alice@example.com", "albert@example.com", "alina@example.com"},
            id="prefix",
        ),
        pytest.param(
            UserFilter(email_prefix="ali"), {"alice@example.com", "alina@example.com"}, id="ali"
        ),
        pytest.param(UserFilter(email_prefix="zzz"), set(), id="no-match"),
        pytest.param(
            UserFilter(role=Role.ADMIN, is_active=True), {"bob@example.com"}, id="role+active"
        ),
        pytest.param(
            UserFilter(email_prefix="al", is_verified=False, is_active=True),
            {"albert@example.com"},
            id="prefix+verified+active",
        ),
    ],
)
async def test_list_page_filters(backend: Backend, filters: UserFilter, emails: set[str]) -> None:
    users = await seed(backend)
    page = await backend.users.list_page(filters, limit=100, offset=0)
    assert {user.email for user in page.items} == emails
    assert page.total == len(emails)
    expected_order = [user.id for user in users if user.email in emails]
    assert ids(page.items) == expected_order


async def test_list_page_limit_and_offset_walk_the_whole_set(backend: Backend) -> None:
    users = await seed(backend)

    first = await backend.users.list_page(UserFilter(), limit=4, offset=0)
    second = await backend.users.list_page(UserFilter(), limit=4, offset=4)
    beyond = await backend.users.list_page(UserFilter(), limit=4, offset=6)

    assert ids(first.items) == ids(users[:4])
    assert ids(second.items) == ids(users[4:])
    assert beyond.items == []
    # The total counts every match, not just the page.
    assert first.total == second.total == beyond.total == 6


async def test_list_page_limit_and_offset_with_a_filter(backend: Backend) -> None:
    users = await seed(backend)
    active = [user for user in users if user.is_active]
    page = await backend.users.list_page(UserFilter(is_active=True), limit=2, offset=1)
    assert ids(page.items) == ids(active[1:3])
    assert page.total == 4


async def test_list_page_is_in_creation_order(backend: Backend) -> None:
    """Users created one after another list in that order (also within one millisecond)."""
    created = [backend.new_user(f"order{i:02}@example.com") for i in range(30)]
    for user in created:
        await backend.users.add(user)
    page = await backend.users.list_page(UserFilter(), limit=100, offset=0)
    assert [u.email for u in page.items] == [u.email for u in created]


async def test_email_prefix_treats_like_wildcards_literally(backend: Backend) -> None:
    for email in (
        "a_b@example.com",
        "axb@example.com",
        "a%c@example.com",
        "abc@example.com",
        "a\\d@example.com",
        "aed@example.com",
    ):
        await backend.add_user(email)

    async def matches(prefix: str) -> set[str]:
        page = await backend.users.list_page(UserFilter(email_prefix=prefix), 100, 0)
        after = await backend.users.list_after(UserFilter(email_prefix=prefix), 100, None)
        assert {u.email for u in after} == {u.email for u in page.items}
        assert page.total == len(page.items)
        return {user.email for user in page.items}

    assert await matches("a_") == {"a_b@example.com"}
    assert await matches("a%") == {"a%c@example.com"}
    assert await matches("a\\") == {"a\\d@example.com"}
    assert await matches("%") == set()
    assert await matches("_") == set()
    assert len(await matches("a")) == 6


# --- list_after ------------------------------------------------------------------------


async def test_list_after_pages_in_id_order(backend: Backend) -> None:
    users = await seed(backend)

    first = await backend.users.list_after(UserFilter(), limit=4, after_id=None)
    second = await backend.users.list_after(UserFilter(), limit=4, after_id=first[-1].id)
    third = await backend.users.list_after(UserFilter(), limit=4, after_id=second[-1].id)

    assert ids(first) == ids(users[:4])
    assert ids(second) == ids(users[4:])
    assert third == []
    assert first + second == users


async def test_list_after_applies_filters_and_excludes_the_cursor(backend: Backend) -> None:
    users = await seed(backend)
    active = [user for user in users if user.is_active]

    page = await backend.users.list_after(
        UserFilter(is_active=True), limit=10, after_id=active[0].id
    )
    assert ids(page) == ids(active[1:])
    admins = await backend.users.list_after(UserFilter(role=Role.ADMIN), limit=10, after_id=None)
    assert {u.email for u in admins} == {"bob@example.com", "alina@example.com"}


async def test_list_after_cursor_of_a_deleted_user_still_works(backend: Backend) -> None:
    users = await seed(backend)
    assert await backend.users.delete(users[2].id)
    page = await backend.users.list_after(UserFilter(), limit=10, after_id=users[2].id)
    assert ids(page) == ids(users[3:])


async def test_list_after_new_rows_arrive_at_the_end(backend: Backend) -> None:
    users = await seed(backend)
    first = await backend.users.list_after(UserFilter(), limit=3, after_id=None)
    late = await backend.add_user("late@example.com")
    rest = await backend.users.list_after(UserFilter(), limit=10, after_id=first[-1].id)
    assert ids(first) == ids(users[:3])
    assert ids(rest) == [*ids(users[3:]), late.id]


# --- count -----------------------------------------------------------------------------


async def test_count_follows_adds_and_deletes(backend: Backend) -> None:
    assert await backend.users.count() == 0
    first = await backend.add_user("one@example.com")
    await backend.add_user("two@example.com")
    assert await backend.users.count() == 2
    await backend.users.delete(first.id)
    assert await backend.users.count() == 1


async def test_timestamps_are_utc_in_listings(backend: Backend) -> None:
    await seed(backend)
    page = await backend.users.list_page(UserFilter(), limit=100, offset=0)
    after = await backend.users.list_after(UserFilter(), limit=100, after_id=None)
    for user in [*page.items, *after]:
        assert_utc(user.created_at)
        assert_utc(user.updated_at)
