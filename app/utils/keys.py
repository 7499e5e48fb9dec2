"""Loading, generating and fingerprinting the RSA keys that sign tokens."""

import base64
import binascii
import functools
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

logger = logging.getLogger(__name__)


class KeyLoadError(ValueError):
    """A configured key could not be read as an RSA key in PEM form."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An RSA key pair with its RFC 7638 thumbprint as ``kid``."""

    kid: str
    private_key: rsa.RSAPrivateKey
    public_key: rsa.RSAPublicKey

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return jwk


def thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url without padding)."""
    jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    canonical = json.dumps(
        {"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def read_pem(value: str, setting: str) -> bytes:
    """Accept PEM text, base64 of PEM (the original project's format) or a file path."""
    text = value.strip()
    if text.startswith("-----BEGIN"):
        return text.replace("\\n", "\n").encode()
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if decoded.lstrip().startswith(b"-----BEGIN"):
        return decoded
    try:
        return Path(text).read_bytes()
    except (OSError, ValueError):
        # Not a readable path either (missing, a directory, or too long a name).
        pass
    raise KeyLoadError(f"{setting} is not PEM text, base64 of PEM, or a path to a PEM file")


@functools.lru_cache(maxsize=16)
def load_key_pair(private_value: str, public_value: str, name: str) -> SigningKey:
    """Parse and check a configured pair; cached, as checking an RSA key is slow."""
    try:
        private_key = serialization.load_pem_private_key(
            read_pem(private_value, f"{name}_PRIVATE_KEY"), password=None
        )
        public_key = serialization.load_pem_public_key(read_pem(public_value, f"{name}_PUBLIC_KEY"))
    except (ValueError, TypeError) as exc:
        raise KeyLoadError(f"{name}_PRIVATE_KEY/{name}_PUBLIC_KEY: {exc}") from None
    if not isinstance(private_key, rsa.RSAPrivateKey) or not isinstance(
        public_key, rsa.RSAPublicKey
    ):
        raise KeyLoadError(f"{name}_PRIVATE_KEY/{name}_PUBLIC_KEY must be RSA keys")
    if private_key.public_key().public_numbers() != public_key.public_numbers():
        raise KeyLoadError(f"{name}_PUBLIC_KEY does not belong to {name}_PRIVATE_KEY")
    if public_key.key_size < 2048:
        raise KeyLoadError(f"{name}_PRIVATE_KEY must be at least 2048 bits")
    return SigningKey(thumbprint(public_key), private_key, public_key)


def generate_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_or_create_dev_key(directory: Path, name: str) -> SigningKey:
    """A development key kept under the data directory, generated on first use."""
    path = directory / "keys" / f"{name}_private.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private_pem(generate_private_key()))
        # link() is atomic and refuses to overwrite: when two processes start at
        # once, exactly one key wins and both read the same complete file.
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        else:
            logger.warning(
                "No %s key configured: generated a development key at %s. "
                "Configure real keys before production.",
                name,
                path,
            )
        finally:
            temporary.unlink()
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private, rsa.RSAPrivateKey):
        raise KeyLoadError(f"{path} is not an RSA private key")
    return SigningKey(thumbprint(private.public_key()), private, private.public_key())


class KeyRing:
    """The access and refresh key sets, loaded at start-up rather than at import.

    Configured keys win; without them a development key pair per token kind is
    generated once under the data directory (refused in production by Settings).
    """

    def __init__(
        self,
        *,
        access_private: str | None,
        access_public: str | None,
        refresh_private: str | None,
        refresh_public: str | None,
        data_dir: Path,
    ) -> None:
        self._configured = {
            "ACCESS_TOKEN": (access_private, access_public),
            "REFRESH_TOKEN": (refresh_private, refresh_public),
        }
        self._data_dir = data_dir
        self._keys: dict[str, list[SigningKey]] = {}

    def load(self) -> None:
        for name, (private, public) in self._configured.items():
            if private and public:
                self._keys[name] = [load_key_pair(private, public, name)]
            else:
                self._keys[name] = [load_or_create_dev_key(self._data_dir, name.lower())]

    @property
    def access(self) -> list[SigningKey]:
        return self._get("ACCESS_TOKEN")

    @property
    def refresh(self) -> list[SigningKey]:
        return self._get("REFRESH_TOKEN")

    def _get(self, name: str) -> list[SigningKey]:
        if name not in self._keys:
            raise RuntimeError("KeyRing.load() has not been called")
        return self._keys[name]
