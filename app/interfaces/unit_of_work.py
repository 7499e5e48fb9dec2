"""Contract for running several repository calls as one atomic operation."""

from abc import ABC, abstractmethod
from contextlib import AbstractAsyncContextManager


class UnitOfWork(ABC):
    """``async with uow.atomic():`` makes the repository calls inside commit together.

    Stores that cannot span documents atomically run the calls in order instead;
    services order their writes so that a crash between them loses nothing a user
    cannot ask for again.
    """

    @abstractmethod
    def atomic(self) -> AbstractAsyncContextManager[None]: ...
