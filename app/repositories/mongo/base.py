"""What every MongoDB repository shares: the database, the session, error mapping."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, OperationFailure

from app.db.mongo import Document
from app.interfaces.unit_of_work import UnitOfWork
from app.models.errors import StorageUnavailableError
from app.repositories.nul_guard import NulRefusingRepository

# The client session of the unit of work running in this task, if any.
_current_session: ContextVar[Any | None] = ContextVar("mongo_unit_of_work_session", default=None)
# What to run once that unit of work's transaction has ended, committed or not.
_after_transaction: ContextVar[list[Callable[[], Awaitable[None]]] | None] = ContextVar(
    "mongo_after_transaction", default=None
)

DatabaseProvider = Callable[[], AsyncDatabase[Document]]


@asynccontextmanager
async def unavailable_as_domain_error() -> AsyncIterator[None]:
    """A lost server becomes the domain's 503, never a stack trace."""
    try:
        yield
    except ConnectionFailure as exc:
        raise StorageUnavailableError() from exc


async def after_unit_of_work(action: Callable[[], Awaitable[None]]) -> None:
    """Run ``action`` once this task's transaction has ended, or now outside of one.

    What others must only see once the transaction's writes are visible (a released
    lease) waits for the end of the transaction, committed or not.
    """
    pending = _after_transaction.get()
    if pending is None:
        await action()
    else:
        pending.append(action)


class MongoRepository(NulRefusingRepository):
    """Base of the MongoDB adapters: one collection, joined to the current unit of work."""

    collection_name: str

    def __init__(self, database: DatabaseProvider) -> None:
        self._database = database

    @property
    def _collection(self) -> AsyncCollection[Document]:
        return self._database()[self.collection_name]

    @staticmethod
    def _session() -> Any | None:
        return _current_session.get()


class MongoUnitOfWork(UnitOfWork):
    """A multi-document transaction where the server has them (replica sets).

    A standalone server (and the test fake) has none: the calls then run one by one,
    and the services order their writes so that nothing accepted is lost.
    """

    def __init__(self, client: Callable[[], Any], transactions: Callable[[], bool]) -> None:
        self._client = client
        self._transactions = transactions

    @asynccontextmanager
    async def atomic(self) -> AsyncIterator[None]:
        if _current_session.get() is not None or not self._transactions():
            yield
            return
        pending: list[Callable[[], Awaitable[None]]] = []
        async with unavailable_as_domain_error(), self._client().start_session() as session:
            try:
                transaction = await session.start_transaction()
                async with transaction:
                    token = _current_session.set(session)
                    pending_token = _after_transaction.set(pending)
                    try:
                        yield
                    finally:
                        _current_session.reset(token)
                        _after_transaction.reset(pending_token)
            finally:
                for action in pending:
                    await action()


def is_duplicate_key(exc: OperationFailure) -> bool:
    return exc.code == 11000
