"""Loading, generating, rotating and fingerprinting the RSA keys that sign tokens.

Each token kind (access, refresh) has a :class:`KeySet`: the current key pair signs
every new token, and the current public key plus every retired public key verify,
chosen by the token's ``kid``. Retiring a key rather than dropping it is what lets
keys rotate without logging anybody out.
"""

import base64
import binascii
import functools
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

logger = logging.getLogger(__name__)

ACCESS_TOKEN = "ACCESS_TOKEN"
REFRESH_TOKEN = "REFRESH_TOKEN"
TOKEN_KINDS = (ACCESS_TOKEN, REFRESH_TOKEN)
MIN_KEY_BITS = 2048


class KeyLoadError(ValueError):
    """A configured key could not be read as an RSA key in PEM form."""


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """An RSA public key that verifies tokens, named by its RFC 7638 thumbprint ``kid``."""

    kid: str
    public_key: rsa.RSAPublicKey

    def public_jwk(self) -> dict[str, Any]:
        """The public key as a JWK for the JWKS document (never any private part)."""
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return jwk


@dataclass(frozen=True, slots=True)
class SigningKey(VerificationKey):
    """An RSA key pair: signs new tokens, and verifies them like any verification key."""

    private_key: rsa.RSAPrivateKey


@dataclass(frozen=True, slots=True)
class KeySet(Sequence[VerificationKey]):
    """The keys of one token kind: ``current`` signs; it and every ``retired`` key verify.

    As a sequence it holds the verification keys, the current one first.
    """

    current: SigningKey
    retired: tuple[VerificationKey, ...] = ()

    @classmethod
    def build(cls, current: SigningKey, retired: Iterable[VerificationKey]) -> "KeySet":
        """Drop retired keys that repeat the current key or one another (same ``kid``)."""
        seen = {current.kid}
        kept: list[VerificationKey] = []
        for key in retired:
            if key.kid not in seen:
                seen.add(key.kid)
                kept.append(VerificationKey(key.kid, key.public_key))
        return cls(current, tuple(kept))

    @property
    def verification_keys(self) -> tuple[VerificationKey, ...]:
        return (self.current, *self.retired)

    def find(self, kid: object) -> VerificationKey | None:
        """The key named ``kid``, or None for a key this set does not hold."""
        return next((key for key in self.verification_keys if key.kid == kid), None)

    @overload
    def __getitem__(self, index: int) -> VerificationKey: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[VerificationKey, ...]: ...

    def __getitem__(self, index: int | slice) -> VerificationKey | tuple[VerificationKey, ...]:
        return self.verification_keys[index]

    def __len__(self) -> int:
        return 1 + len(self.retired)

    def __iter__(self) -> Iterator[VerificationKey]:
        return iter(self.verification_keys)


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
    if public_key.key_size < MIN_KEY_BITS:
        raise KeyLoadError(f"{name}_PRIVATE_KEY must be at least {MIN_KEY_BITS} bits")
    return SigningKey(kid=thumbprint(public_key), public_key=public_key, private_key=private_key)


def parse_public_pem(data: bytes, source: str) -> VerificationKey:
    """Parse an RSA public key in PEM form; errors name ``source``, never the value."""
    try:
        public_key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise KeyLoadError(
            f"{source} is not an RSA public key in PEM form (a private key is refused too)"
        ) from None
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise KeyLoadError(f"{source} must be an RSA public key")
    if public_key.key_size < MIN_KEY_BITS:
        raise KeyLoadError(f"{source} must be at least {MIN_KEY_BITS} bits")
    return VerificationKey(thumbprint(public_key), public_key)


def load_public_key(value: str, setting: str) -> VerificationKey:
    """A retired public key given as PEM text, base64 of PEM or a path."""
    return parse_public_pem(read_pem(value, setting), setting)


def generate_private_key() -> rsa.RSAPrivateKey:
    """A new 2048-bit RSA key (e 65537)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=MIN_KEY_BITS)


def signing_key(private_key: rsa.RSAPrivateKey) -> SigningKey:
    """Wrap a private key with its public half and ``kid``."""
    public_key = private_key.public_key()
    return SigningKey(kid=thumbprint(public_key), public_key=public_key, private_key=private_key)


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM: only ever written to a 0600 file, never printed."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: rsa.RSAPublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM, the form every key setting accepts."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# --- writing key files -------------------------------------------------------------

PRIVATE_FILE_MODE = 0o600
PUBLIC_FILE_MODE = 0o644


def write_file_atomically(path: Path, data: bytes, mode: int, *, overwrite: bool) -> bool:
    """Write ``data`` to ``path`` with exactly ``mode``; readers never see a partial file.

    Without ``overwrite`` an existing file wins and False is returned (``link`` is
    atomic and refuses to replace, so two processes racing agree on one file).
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)  # left behind by a crashed process with our pid
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(temporary, path)
            return True
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        return True
    finally:
        temporary.unlink(missing_ok=True)


def write_new_files(files: Sequence[tuple[Path, bytes, int]], *, force: bool) -> None:
    """Write each ``(path, data, mode)``; without ``force`` write none if any exists.

    Raises FileExistsError naming the existing files (their content is left alone).
    """
    if not force:
        existing = [str(path) for path, _, _ in files if path.exists() or path.is_symlink()]
        if existing:
            raise FileExistsError(", ".join(existing))
    for path, data, mode in files:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not write_file_atomically(path, data, mode, overwrite=force):
            raise FileExistsError(str(path))


# --- development keys under DATA_DIR/keys ----------------------------------------------


def dev_keys_dir(data_dir: Path) -> Path:
    """Where development keys live: ``DATA_DIR/keys``."""
    return data_dir / "keys"


def dev_private_key_path(data_dir: Path, name: str) -> Path:
    """The current development key of ``name`` ("access_token" or "refresh_token")."""
    return dev_keys_dir(data_dir) / f"{name}_private.pem"


def dev_retired_key_path(data_dir: Path, name: str, kid: str) -> Path:
    """A retired development public key, kept by ``keys rotate`` until removed."""
    return dev_keys_dir(data_dir) / f"{name}_retired_{kid}.pem"


def _read_dev_private_key(path: Path) -> SigningKey:
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise KeyLoadError(f"{path} is not an RSA private key in PEM form") from None
    if not isinstance(private, rsa.RSAPrivateKey):
        raise KeyLoadError(f"{path} is not an RSA private key")
    return signing_key(private)


def load_or_create_dev_key(directory: Path, name: str) -> SigningKey:
    """A development key kept under the data directory, generated on first use."""
    path = dev_private_key_path(directory, name)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # When two processes start at once, exactly one key wins and both read the
        # same complete file.
        created = write_file_atomically(
            path, private_pem(generate_private_key()), PRIVATE_FILE_MODE, overwrite=False
        )
        if created:
            logger.warning(
                "No %s key configured: generated a development key at %s. "
                "Configure real keys before production.",
                name,
                path,
            )
    return _read_dev_private_key(path)


def load_retired_dev_keys(data_dir: Path, name: str) -> list[VerificationKey]:
    """The retired development public keys of ``name``, most recently retired first."""
    directory = dev_keys_dir(data_dir)
    if not directory.is_dir():
        return []
    paths = sorted(
        directory.glob(f"{name}_retired_*.pem"),
        key=lambda path: (-path.stat().st_mtime_ns, path.name),
    )
    return [parse_public_pem(path.read_bytes(), str(path)) for path in paths]


@dataclass(frozen=True, slots=True)
class DevRotation:
    """What ``rotate_dev_key`` did: the new current key and the key it retired, if any."""

    current: SigningKey
    retired: VerificationKey | None
    retired_path: Path | None


def rotate_dev_key(data_dir: Path, name: str) -> DevRotation:
    """Make a new current development key; keep the old public key as a retired file.

    The retired file is written before the private key is replaced, so a crash in
    between leaves the old key current (a retired copy of the current key is ignored).
    """
    path = dev_private_key_path(data_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    old = _read_dev_private_key(path) if path.exists() else None
    retired_path = None
    if old is not None:
        retired_path = dev_retired_key_path(data_dir, name, old.kid)
        write_file_atomically(
            retired_path, public_pem(old.public_key), PUBLIC_FILE_MODE, overwrite=True
        )
    new = generate_private_key()
    write_file_atomically(path, private_pem(new), PRIVATE_FILE_MODE, overwrite=True)
    retired = VerificationKey(old.kid, old.public_key) if old is not None else None
    return DevRotation(signing_key(new), retired, retired_path)


# --- the key ring -------------------------------------------------------------------


class KeyRing:
    """The access and refresh key sets, loaded at start-up rather than at import.

    Configured keys win; without them a development key pair per token kind is
    generated once under the data directory (refused in production by Settings).
    Retired public keys come from ``*_PREVIOUS_PUBLIC_KEYS`` and, for development
    keys, from the ``<kind>_retired_<kid>.pem`` files ``keys rotate`` leaves behind.
    """

    def __init__(
        self,
        *,
        access_private: str | None,
        access_public: str | None,
        refresh_private: str | None,
        refresh_public: str | None,
        data_dir: Path,
        access_previous: Sequence[str] = (),
        refresh_previous: Sequence[str] = (),
    ) -> None:
        self._configured = {
            ACCESS_TOKEN: (access_private, access_public),
            REFRESH_TOKEN: (refresh_private, refresh_public),
        }
        self._previous = {
            ACCESS_TOKEN: tuple(access_previous),
            REFRESH_TOKEN: tuple(refresh_previous),
        }
        self._data_dir = data_dir
        self._keys: dict[str, KeySet] = {}

    def load(self) -> None:
        """Read every key; raises KeyLoadError naming the setting or file at fault."""
        current: dict[str, SigningKey] = {}
        retired: dict[str, list[VerificationKey]] = {}
        for name in TOKEN_KINDS:
            private, public = self._configured[name]
            setting = f"{name}_PREVIOUS_PUBLIC_KEYS"
            retired[name] = [
                load_public_key(value, f"{setting} (item {index})")
                for index, value in enumerate(self._previous[name], start=1)
            ]
            if private and public:
                current[name] = load_key_pair(private, public, name)
            else:
                current[name] = load_or_create_dev_key(self._data_dir, name.lower())
                retired[name] += load_retired_dev_keys(self._data_dir, name.lower())
        for name, other in ((ACCESS_TOKEN, REFRESH_TOKEN), (REFRESH_TOKEN, ACCESS_TOKEN)):
            if any(key.kid == current[other].kid for key in retired[name]):
                # Each kind keeps its own keys: one kind's key must never verify the other.
                raise KeyLoadError(
                    f"{name}_PREVIOUS_PUBLIC_KEYS holds the current {other} public key"
                )
        keys = {name: KeySet.build(current[name], retired[name]) for name in TOKEN_KINDS}
        for name, key_set in keys.items():
            if key_set.retired:
                logger.info(
                    "%s tokens: signing with %s; also accepting retired keys %s",
                    name.lower(),
                    key_set.current.kid,
                    ", ".join(key.kid for key in key_set.retired),
                )
        self._keys = keys

    @property
    def access(self) -> KeySet:
        return self._get(ACCESS_TOKEN)

    @property
    def refresh(self) -> KeySet:
        return self._get(REFRESH_TOKEN)

    def _get(self, name: str) -> KeySet:
        if name not in self._keys:
            raise RuntimeError("KeyRing.load() has not been called")
        return self._keys[name]
