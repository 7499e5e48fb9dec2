"""The email request queue in SQL."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, or_, select, update

from app.interfaces.repositories.email_request_repository import EmailRequestRepository
from app.models.email_request import EmailRequest, EmailRequestPurpose
from app.repositories.sql.base import SqlRepository
from app.repositories.sql.tables import email_requests as requests

CLAIM_ATTEMPTS = 5


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(requests.c.lease_until.is_(None), requests.c.lease_until <= now)


class SqlEmailRequestRepository(SqlRepository, EmailRequestRepository):
    """A claim selects the oldest due id (on PostgreSQL skipping rows another claimer
    has locked), then leases it only if it is *still* due, so no request is ever
    handed to two claimers."""

    async def add(self, request: EmailRequest) -> None:
        async with self._write() as conn:
            await conn.execute(
                insert(requests).values(
                    id=request.id,
                    purpose=request.purpose.value,
                    email=request.email,
                    requested_at=request.requested_at,
                    lease_until=request.lease_until,
                )
            )

    async def claim_next(self, now: datetime, lease_until: datetime) -> EmailRequest | None:
        oldest_due = (
            select(requests.c.id)
            .where(_due(now))
            .order_by(requests.c.requested_at, requests.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        for _ in range(CLAIM_ATTEMPTS):
            async with self._write() as conn:
                request_id = (await conn.execute(oldest_due)).scalar_one_or_none()
                if request_id is None:
                    return None
                row = (
                    (
                        await conn.execute(
                            update(requests)
                            .where(requests.c.id == request_id, _due(now))
                            .values(lease_until=lease_until)
                            .returning(requests)
                        )
                    )
                    .mappings()
                    .first()
                )
            if row is not None:
                return self._to_request(row)
            # Another claimer took it in between: look again, so that None always
            # means nothing is due.
        return None

    async def complete(self, request_id: str) -> None:
        async with self._write() as conn:
            await conn.execute(delete(requests).where(requests.c.id == request_id))

    async def count_by_purpose(self) -> dict[EmailRequestPurpose, int]:
        query = select(requests.c.purpose, func.count()).group_by(requests.c.purpose)
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        counts = dict.fromkeys(EmailRequestPurpose, 0)
        for purpose, count in rows:
            counts[EmailRequestPurpose(purpose)] = count
        return counts

    @staticmethod
    def _to_request(row: Mapping[Any, Any]) -> EmailRequest:
        return EmailRequest(
            id=row["id"],
            purpose=EmailRequestPurpose(row["purpose"]),
            email=row["email"],
            requested_at=row["requested_at"],
            lease_until=row["lease_until"],
        )
