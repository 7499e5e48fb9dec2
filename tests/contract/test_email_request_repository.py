"""Contract of ``EmailRequestRepository``, run against every backend of ``backend``."""

import asyncio
from datetime import timedelta

from app.models.email_request import EmailRequest, EmailRequestPurpose
from app.utils.ids import new_id
from tests.contract.conftest import Backend

LEASE = timedelta(seconds=30)


def new_request(
    backend: Backend,
    email: str = "ann@example.com",
    purpose: EmailRequestPurpose = EmailRequestPurpose.RESET_PASSWORD,
) -> EmailRequest:
    return EmailRequest(id=new_id(), purpose=purpose, email=email, requested_at=backend.clock.now())


async def test_a_claim_leases_the_oldest_request_and_reads_it_back_whole(
    backend: Backend,
) -> None:
    first = new_request(backend, "first@example.com", EmailRequestPurpose.UNLOCK_ACCOUNT)
    await backend.email_requests.add(first)
    backend.clock.advance(seconds=1)
    await backend.email_requests.add(new_request(backend, "second@example.com"))
    now = backend.clock.now()

    claimed = await backend.email_requests.claim_next(now, now + LEASE)

    assert claimed is not None
    assert (claimed.id, claimed.purpose, claimed.email) == (
        first.id,
        EmailRequestPurpose.UNLOCK_ACCOUNT,
        "first@example.com",
    )
    assert claimed.requested_at == first.requested_at
    assert claimed.lease_until == now + LEASE
    second = await backend.email_requests.claim_next(now, now + LEASE)
    assert second is not None
    assert second.email == "second@example.com"
    assert await backend.email_requests.claim_next(now, now + LEASE) is None
    assert await backend.email_requests.count_by_purpose() == {
        EmailRequestPurpose.VERIFY_EMAIL: 0,
        EmailRequestPurpose.RESET_PASSWORD: 1,
        EmailRequestPurpose.UNLOCK_ACCOUNT: 1,
    }


async def test_a_request_whose_lease_ran_out_is_due_again(backend: Backend) -> None:
    request = new_request(backend)
    await backend.email_requests.add(request)
    now = backend.clock.now()
    assert await backend.email_requests.claim_next(now, now + LEASE) is not None

    still_leased = backend.clock.advance(seconds=29)
    assert await backend.email_requests.claim_next(still_leased, still_leased + LEASE) is None
    expired = backend.clock.advance(seconds=1)
    again = await backend.email_requests.claim_next(expired, expired + LEASE)
    assert again is not None
    assert again.id == request.id


async def test_complete_removes_the_request_for_good(backend: Backend) -> None:
    request = new_request(backend)
    await backend.email_requests.add(request)

    await backend.email_requests.complete(request.id)
    await backend.email_requests.complete(request.id)  # twice is harmless

    later = backend.clock.advance(hours=1)
    assert await backend.email_requests.claim_next(later, later + LEASE) is None
    assert set((await backend.email_requests.count_by_purpose()).values()) == {0}


async def test_concurrent_claimers_never_share_a_request(backend: Backend) -> None:
    for n in range(6):
        await backend.email_requests.add(new_request(backend, f"user{n}@example.com"))
    now = backend.clock.now()

    claimed = await asyncio.gather(
        *(backend.email_requests.claim_next(now, now + LEASE) for _ in range(10))
    )

    ids = [request.id for request in claimed if request is not None]
    assert len(ids) == 6
    assert len(set(ids)) == 6


async def test_a_completion_rolls_back_with_its_unit_of_work(backend: Backend) -> None:
    backend.require_transactions()
    request = new_request(backend)
    await backend.email_requests.add(request)

    class AbortError(Exception):
        pass

    try:
        async with backend.uow.atomic():
            await backend.email_requests.complete(request.id)
            raise AbortError
    except AbortError:
        pass

    assert (await backend.email_requests.count_by_purpose())[
        EmailRequestPurpose.RESET_PASSWORD
    ] == 1
