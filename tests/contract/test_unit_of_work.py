"""Contract of ``UnitOfWork``: repository calls inside ``atomic()`` commit or roll back together."""

import asyncio
import contextlib
from datetime import timedelta

import pytest

from app.models.email import OutboxStatus
from app.models.errors import EmailTakenError
from app.models.one_time_code import CodePurpose
from tests.contract.conftest import Backend

COOLDOWN = 60
# A deadlock between the tasks of a test fails it instead of hanging the run.
DEADLINE_SECONDS = 20


class AbortError(Exception):
    """Raised inside ``atomic()`` to abort it."""


async def test_writes_outside_atomic_commit_on_their_own(backend: Backend) -> None:
    # The baseline the rollback tests depend on: without ``atomic()`` nothing is undone.
    async def write_then_fail() -> None:
        await backend.add_user("alone@example.com")
        await backend.add_message()
        raise AbortError

    with pytest.raises(AbortError):
        await write_then_fail()

    assert await backend.users.get_by_email("alone@example.com") is not None
    assert (await backend.outbox.count_by_status())[OutboxStatus.PENDING] == 1


async def test_writes_to_several_repositories_commit_together(backend: Backend) -> None:
    now = backend.clock.now()

    async with backend.uow.atomic():
        user = await backend.add_user("alice@example.com")
        session = await backend.add_session(user.id)
        code = await backend.replace_code(user.id, CodePurpose.VERIFY_EMAIL)
        message = await backend.add_message(recipient=user.email)
        assert await backend.cooldowns.acquire("key-1", now, COOLDOWN) is None

    assert await backend.users.get_by_id(user.id) == user
    assert await backend.sessions.get(session.id) == session
    assert await backend.codes.get(user.id, CodePurpose.VERIFY_EMAIL) == code
    assert await backend.outbox.get(message.id) == message
    assert await backend.cooldowns.acquire("key-1", now, COOLDOWN) == pytest.approx(COOLDOWN)


async def test_writes_inside_atomic_are_read_back_inside_it(backend: Backend) -> None:
    async with backend.uow.atomic():
        user = await backend.add_user("alice@example.com")
        message = await backend.add_message(recipient=user.email)
        code = await backend.replace_code(user.id, CodePurpose.RESET_PASSWORD)

        assert await backend.users.get_by_id(user.id) == user
        assert await backend.users.get_by_email("alice@example.com") == user
        assert await backend.users.count() == 1
        assert await backend.outbox.get(message.id) == message
        assert [m.id for m in await backend.outbox.list_messages(None, 10, None)] == [message.id]
        assert (await backend.outbox.count_by_status())[OutboxStatus.PENDING] == 1
        assert await backend.codes.get(user.id, CodePurpose.RESET_PASSWORD) == code
        assert await backend.codes.record_failure(code.id) == 1


async def test_an_exception_rolls_back_every_write(backend: Backend) -> None:
    backend.require_transactions()
    now = backend.clock.now()
    user = backend.new_user("alice@example.com")
    session = backend.new_session(user.id)
    message = backend.new_message(recipient=user.email)

    async def transaction() -> None:
        async with backend.uow.atomic():
            await backend.users.add(user)
            await backend.sessions.add(session)
            await backend.replace_code(user.id, CodePurpose.VERIFY_EMAIL)
            await backend.outbox.add(message)
            assert await backend.cooldowns.acquire("key-1", now, COOLDOWN) is None
            await backend.cooldowns.touch("key-2", now)
            raise AbortError

    with pytest.raises(AbortError):
        await transaction()

    assert await backend.users.get_by_id(user.id) is None
    assert await backend.users.get_by_email("alice@example.com") is None
    assert await backend.users.count() == 0
    assert await backend.sessions.get(session.id) is None
    assert await backend.codes.get(user.id, CodePurpose.VERIFY_EMAIL) is None
    assert await backend.outbox.get(message.id) is None
    assert await backend.outbox.count_by_status() == dict.fromkeys(OutboxStatus, 0)
    assert await backend.cooldowns.acquire("key-1", now, COOLDOWN) is None
    assert await backend.cooldowns.acquire("key-2", now, COOLDOWN) is None


async def test_a_rollback_undoes_updates_and_deletes_too(backend: Backend) -> None:
    backend.require_transactions()
    user = await backend.add_user("alice@example.com")
    session = await backend.add_session(user.id)
    code = await backend.replace_code(user.id, CodePurpose.VERIFY_EMAIL)
    await backend.add_message()
    now = backend.clock.advance(minutes=1)
    leased = await backend.outbox.claim("worker-1", now, now + timedelta(seconds=30), limit=10)
    assert len(leased) == 1
    message = leased[0]

    async def transaction() -> None:
        async with backend.uow.atomic():
            assert await backend.users.update(user.id, {"full_name": "Changed"}, now)
            assert await backend.sessions.revoke(session.id, now) is True
            assert await backend.codes.record_failure(code.id) == 1
            assert await backend.outbox.mark_sent(message.id, "worker-1", now) is True
            await backend.codes.delete(user.id, CodePurpose.VERIFY_EMAIL)
            raise AbortError

    with pytest.raises(AbortError):
        await transaction()

    assert await backend.users.get_by_id(user.id) == user
    assert await backend.sessions.get(session.id) == session
    assert await backend.codes.get(user.id, CodePurpose.VERIFY_EMAIL) == code
    assert await backend.outbox.get(message.id) == message
    # The lease survived the rollback, so its owner can still finish.
    assert await backend.outbox.mark_sent(message.id, "worker-1", now) is True


async def test_a_rolled_back_user_delete_keeps_the_user_and_what_it_owns(
    backend: Backend,
) -> None:
    backend.require_transactions()
    user = await backend.add_user("alice@example.com")
    session = await backend.add_session(user.id)
    code = await backend.replace_code(user.id, CodePurpose.RESET_PASSWORD)

    async def transaction() -> None:
        async with backend.uow.atomic():
            assert await backend.users.delete(user.id) is True
            assert await backend.users.get_by_id(user.id) is None
            raise AbortError

    with pytest.raises(AbortError):
        await transaction()

    assert await backend.users.get_by_id(user.id) == user
    assert await backend.sessions.get(session.id) == session
    assert await backend.codes.get(user.id, CodePurpose.RESET_PASSWORD) == code


async def test_email_taken_inside_atomic_rolls_back_the_other_writes(backend: Backend) -> None:
    backend.require_transactions()
    taken = await backend.add_user("taken@example.com", full_name="First")

    newcomer = backend.new_user("new@example.com")
    message = backend.new_message(recipient=newcomer.email)

    async def transaction() -> None:
        async with backend.uow.atomic():
            await backend.users.add(newcomer)
            await backend.replace_code(newcomer.id, CodePurpose.VERIFY_EMAIL)
            await backend.outbox.add(message)
            await backend.add_user("taken@example.com", full_name="Second")

    with pytest.raises(EmailTakenError):
        await transaction()

    assert await backend.users.get_by_email("new@example.com") is None
    assert await backend.codes.get(newcomer.id, CodePurpose.VERIFY_EMAIL) is None
    assert await backend.outbox.get(message.id) is None
    assert await backend.users.get_by_email("taken@example.com") == taken
    assert await backend.users.count() == 1


@pytest.mark.parametrize("clash", ["add", "update"])
async def test_a_caught_email_taken_error_does_not_silently_discard_the_unit_of_work(
    backend: Backend, clash: str
) -> None:
    await backend.add_user("taken@example.com")
    other = await backend.add_user("other@example.com")
    newcomer = backend.new_user("new@example.com")
    message = backend.new_message(recipient=newcomer.email)

    async def email_clash() -> None:
        if clash == "add":
            await backend.add_user("taken@example.com")
        else:
            changes = {"email": "taken@example.com"}
            await backend.users.update(other.id, changes, backend.clock.now())

    try:
        async with backend.uow.atomic():
            await backend.users.add(newcomer)
            await backend.outbox.add(message)
            with contextlib.suppress(EmailTakenError):
                await email_clash()
    except Exception:  # noqa: S110 - reporting the failure is an acceptable outcome
        pass
    else:
        # atomic() returned normally, so what ran inside it must have been committed.
        assert await backend.users.get_by_id(newcomer.id) == newcomer
        assert await backend.outbox.get(message.id) == message
    assert await backend.users.get_by_id(other.id) == other


async def test_a_cancelled_task_rolls_back_its_unit_of_work(backend: Backend) -> None:
    backend.require_transactions()
    written = asyncio.Event()
    user = backend.new_user("alice@example.com")
    message = backend.new_message()

    async def request_handler() -> None:
        async with backend.uow.atomic():
            await backend.users.add(user)
            await backend.outbox.add(message)
            written.set()
            await asyncio.Event().wait()  # the client goes away here

    async with asyncio.timeout(DEADLINE_SECONDS):
        task = asyncio.create_task(request_handler())
        await written.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    assert await backend.users.get_by_id(user.id) is None
    assert await backend.outbox.get(message.id) is None
    # The connection went back to the pool in a usable state.
    async with backend.uow.atomic():
        await backend.users.add(user)
    assert await backend.users.get_by_id(user.id) == user


async def test_the_store_works_normally_after_a_rollback(backend: Backend) -> None:
    backend.require_transactions()

    async def transaction() -> None:
        async with backend.uow.atomic():
            await backend.add_user("first@example.com")
            raise AbortError

    with pytest.raises(AbortError):
        await transaction()
    assert await backend.users.get_by_email("first@example.com") is None

    # Outside any unit of work again: a single write commits on its own.
    alone = await backend.add_user("alone@example.com")
    async with backend.uow.atomic():
        together = await backend.add_user("together@example.com")
        message = await backend.add_message()

    assert await backend.users.get_by_id(alone.id) == alone
    assert await backend.users.get_by_id(together.id) == together
    assert await backend.outbox.get(message.id) == message


async def test_uncommitted_writes_are_hidden_from_other_tasks_until_the_end(
    backend: Backend,
) -> None:
    backend.require_transactions()
    written = asyncio.Event()
    looked = asyncio.Event()
    user = backend.new_user("alice@example.com")
    message = backend.new_message()

    async def writer() -> None:
        async with backend.uow.atomic():
            await backend.users.add(user)
            await backend.outbox.add(message)
            written.set()
            await looked.wait()

    async def observer() -> tuple[bool, bool]:
        await written.wait()
        seen = (
            await backend.users.get_by_id(user.id) is not None,
            await backend.outbox.get(message.id) is not None,
        )
        looked.set()
        return seen

    async with asyncio.timeout(DEADLINE_SECONDS):
        _, seen = await asyncio.gather(writer(), observer())

    assert seen == (False, False)
    assert await backend.users.get_by_id(user.id) == user
    assert await backend.outbox.get(message.id) == message


# --- nesting ---------------------------------------------------------------------------


async def test_nested_atomic_commits_with_the_outer_one(backend: Backend) -> None:
    backend.require_transactions()
    inner_done = asyncio.Event()
    looked = asyncio.Event()
    user = backend.new_user("alice@example.com")
    message = backend.new_message()

    async def writer() -> None:
        async with backend.uow.atomic():
            await backend.users.add(user)
            async with backend.uow.atomic():
                await backend.outbox.add(message)
            # The inner block has ended, but nothing is committed before the outer one.
            assert await backend.outbox.get(message.id) == message
            inner_done.set()
            await looked.wait()

    async def observer() -> tuple[bool, bool]:
        await inner_done.wait()
        seen = (
            await backend.users.get_by_id(user.id) is not None,
            await backend.outbox.get(message.id) is not None,
        )
        looked.set()
        return seen

    async with asyncio.timeout(DEADLINE_SECONDS):
        _, seen = await asyncio.gather(writer(), observer())

    assert seen == (False, False)
    assert await backend.users.get_by_id(user.id) == user
    assert await backend.outbox.get(message.id) == message


async def test_an_exception_in_a_nested_atomic_rolls_back_the_outer_one(
    backend: Backend,
) -> None:
    backend.require_transactions()
    user = backend.new_user("alice@example.com")
    message = backend.new_message()

    async def transaction() -> None:
        async with backend.uow.atomic():
            await backend.users.add(user)
            async with backend.uow.atomic():
                await backend.outbox.add(message)
                raise AbortError

    with pytest.raises(AbortError):
        await transaction()

    assert await backend.users.get_by_id(user.id) is None
    assert await backend.outbox.get(message.id) is None


async def test_an_outer_exception_rolls_back_a_finished_nested_atomic(backend: Backend) -> None:
    backend.require_transactions()
    user = backend.new_user("alice@example.com")
    message = backend.new_message()

    async def transaction() -> None:
        async with backend.uow.atomic():
            async with backend.uow.atomic():
                await backend.users.add(user)
                await backend.outbox.add(message)
            await backend.replace_code(user.id, CodePurpose.VERIFY_EMAIL)
            raise AbortError

    with pytest.raises(AbortError):
        await transaction()

    assert await backend.users.get_by_id(user.id) is None
    assert await backend.outbox.get(message.id) is None
    assert await backend.codes.get(user.id, CodePurpose.VERIFY_EMAIL) is None


# --- concurrent units of work ----------------------------------------------------------


async def test_concurrent_atomic_blocks_run_in_separate_transactions(backend: Backend) -> None:
    backend.require_transactions()
    a_written = asyncio.Event()
    b_looked = asyncio.Event()
    user_a = backend.new_user("a@example.com")
    message_a = backend.new_message(recipient="a@example.com")
    user_b = backend.new_user("b@example.com")

    async def task_a() -> None:
        async with backend.uow.atomic():
            await backend.users.add(user_a)
            await backend.outbox.add(message_a)
            a_written.set()
            await b_looked.wait()
            assert await backend.users.get_by_id(user_a.id) == user_a
            raise AbortError  # only A's own writes go

    async def task_b() -> tuple[bool, bool]:
        await a_written.wait()
        async with backend.uow.atomic():
            # A's block is open in another task: its writes are not in B's transaction.
            seen = (
                await backend.users.get_by_id(user_a.id) is not None,
                await backend.outbox.get(message_a.id) is not None,
            )
            b_looked.set()
            await backend.users.add(user_b)
            assert await backend.users.get_by_id(user_b.id) == user_b
        return seen

    async with asyncio.timeout(DEADLINE_SECONDS):
        result_a, result_b = await asyncio.gather(task_a(), task_b(), return_exceptions=True)

    assert isinstance(result_a, AbortError)
    assert result_b == (False, False)
    assert await backend.users.get_by_id(user_a.id) is None
    assert await backend.outbox.get(message_a.id) is None
    assert await backend.users.get_by_id(user_b.id) == user_b


async def test_many_concurrent_atomic_blocks_commit_or_roll_back_independently(
    backend: Backend,
) -> None:
    backend.require_transactions()

    async def work(i: int) -> str:
        async with backend.uow.atomic():
            user = await backend.add_user(f"user{i}@example.com")
            await asyncio.sleep(0)  # let the other tasks interleave
            await backend.add_message(recipient=user.email)
            await backend.replace_code(user.id, CodePurpose.VERIFY_EMAIL)
            if i % 2:
                raise AbortError
        return user.id

    async with asyncio.timeout(DEADLINE_SECONDS):
        results = await asyncio.gather(*(work(i) for i in range(10)), return_exceptions=True)

    for i, result in enumerate(results):
        if i % 2:
            assert isinstance(result, AbortError), result
            assert await backend.users.get_by_email(f"user{i}@example.com") is None
        else:
            assert isinstance(result, str), result
            assert await backend.users.get_by_id(result) is not None
            assert await backend.codes.get(result, CodePurpose.VERIFY_EMAIL) is not None
    assert await backend.users.count() == 5
    assert (await backend.outbox.count_by_status())[OutboxStatus.PENDING] == 5
    recipients = {m.recipient for m in await backend.outbox.list_messages(None, 20, None)}
    assert recipients == {f"user{i}@example.com" for i in range(0, 10, 2)}
