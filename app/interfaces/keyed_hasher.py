"""Contract for keyed hashes of short secrets (one-time codes, cool-down keys)."""

from abc import ABC, abstractmethod


class KeyedHasher(ABC):
    """A keyed digest of some parts, and a constant-time check against one."""

    @abstractmethod
    def digest(self, *parts: str) -> str: ...

    @abstractmethod
    def matches(self, digest: str, *parts: str) -> bool: ...
