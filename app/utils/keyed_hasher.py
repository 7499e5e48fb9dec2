"""HMAC-SHA256 digests of short secrets, and the development secret key."""

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from app.interfaces.keyed_hasher import KeyedHasher

logger = logging.getLogger(__name__)


class SecretKey:
    """The server secret, loaded at start-up (configured, or generated for development)."""

    def __init__(self, configured: str | None, data_dir: Path) -> None:
        self._configured = configured
        self._data_dir = data_dir
        self._value: bytes | None = None

    def load(self) -> None:
        self._value = load_or_create_secret(self._configured, self._data_dir)

    @property
    def value(self) -> bytes:
        if self._value is None:
            raise RuntimeError("SecretKey.load() has not been called")
        return self._value


class HmacHasher(KeyedHasher):
    """A six-digit code has only a million values, so a plain hash of it is no
    protection; keyed with a server secret, a leaked table reveals nothing."""

    def __init__(self, key: SecretKey) -> None:
        self._key = key

    def digest(self, *parts: str) -> str:
        message = "\x1f".join(parts).encode()
        return hmac.new(self._key.value, message, hashlib.sha256).hexdigest()

    def matches(self, digest: str, *parts: str) -> bool:
        return hmac.compare_digest(digest, self.digest(*parts))


def load_or_create_secret(configured: str | None, data_dir: Path) -> bytes:
    """The configured SECRET_KEY, or a random one kept under the data directory."""
    if configured:
        return configured.encode()
    path = data_dir / "keys" / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        else:
            logger.warning("No SECRET_KEY configured: generated a development secret at %s", path)
        finally:
            temporary.unlink()
    return path.read_text().strip().encode()
