"""Reading, checking, fingerprinting and generating the RSA signing keys."""

import base64
import json
import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

from app.utils.keys import (
    KeyLoadError,
    KeyRing,
    KeySet,
    VerificationKey,
    dev_retired_key_path,
    generate_private_key,
    load_key_pair,
    load_or_create_dev_key,
    load_public_key,
    load_retired_dev_keys,
    private_pem,
    public_pem,
    read_pem,
    rotate_dev_key,
    signing_key,
    thumbprint,
    write_new_files,
)
from tests.conftest import KeyPems

SETTING = "ACCESS_TOKEN_PRIVATE_KEY"


def public_key_of(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    return key


# --- read_pem ----------------------------------------------------------------


def test_read_pem_accepts_pem_text(key_pems: KeyPems) -> None:
    assert read_pem(key_pems.access_private, SETTING) == key_pems.access_private.strip().encode()


def test_read_pem_accepts_pem_with_surrounding_whitespace(key_pems: KeyPems) -> None:
    value = f"\n  {key_pems.access_public}  \n"

    assert read_pem(value, SETTING) == key_pems.access_public.strip().encode()


def test_read_pem_accepts_literal_backslash_n_escapes(key_pems: KeyPems) -> None:
    one_line = key_pems.access_private.replace("\n", "\\n")
    assert "\n" not in one_line

    result = read_pem(one_line, SETTING)

    assert result.rstrip() == key_pems.access_private.strip().encode()
    assert isinstance(serialization.load_pem_private_key(result, None), rsa.RSAPrivateKey)


def test_read_pem_decodes_a_base64_value() -> None:
    framed = b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"

    assert read_pem(base64.b64encode(framed).decode(), SETTING) == framed


@pytest.mark.parametrize("which", ["access_private", "access_public"])
def test_read_pem_accepts_base64_of_a_real_pem(key_pems: KeyPems, which: str) -> None:
    pem: str = getattr(key_pems, which)
    encoded = base64.b64encode(pem.encode()).decode()

    assert read_pem(encoded, SETTING) == pem.encode()


def test_read_pem_accepts_a_file_path(tmp_path: Path, key_pems: KeyPems) -> None:
    path = tmp_path / "access_private.pem"
    path.write_text(key_pems.access_private)

    assert read_pem(str(path), SETTING) == key_pems.access_private.encode()
    assert read_pem(f"  {path}\n", SETTING) == key_pems.access_private.encode()


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not a key",
        "-----END PRIVATE KEY-----",
        base64.b64encode(b"hello, not a pem").decode(),
        "/nonexistent/dir/key.pem",
    ],
)
def test_read_pem_rejects_garbage_naming_the_setting(value: str) -> None:
    with pytest.raises(KeyLoadError, match=SETTING):
        read_pem(value, SETTING)


def test_read_pem_rejects_a_directory(tmp_path: Path) -> None:
    with pytest.raises(KeyLoadError, match=SETTING):
        read_pem(str(tmp_path), SETTING)


def test_read_pem_rejects_a_long_non_pem_value_with_key_load_error(key_pems: KeyPems) -> None:
    # A JWK pasted instead of a PEM: base64url has no '/', so it is one long "file name".
    jwk = json.dumps(RSAAlgorithm.to_jwk(public_key_of(key_pems.access_public), as_dict=True))
    assert "/" not in jwk
    assert len(jwk) > 255

    with pytest.raises(KeyLoadError, match=SETTING):
        read_pem(jwk, SETTING)


# --- load_key_pair -------------------------------------------------------------


def test_load_key_pair_loads_a_matching_pair(key_pems: KeyPems) -> None:
    key = load_key_pair(key_pems.access_private, key_pems.access_public, "ACCESS_TOKEN")

    public = public_key_of(key_pems.access_public)
    assert key.public_key.public_numbers() == public.public_numbers()
    assert key.private_key.public_key().public_numbers() == public.public_numbers()
    assert key.kid == thumbprint(public)


def test_load_key_pair_accepts_a_file_and_escaped_text(tmp_path: Path, key_pems: KeyPems) -> None:
    path = tmp_path / "refresh_public.pem"
    path.write_text(key_pems.refresh_public)

    key = load_key_pair(key_pems.refresh_private.replace("\n", "\\n"), str(path), "REFRESH_TOKEN")

    assert key.kid == thumbprint(public_key_of(key_pems.refresh_public))


def test_load_key_pair_rejects_a_mismatched_pair(key_pems: KeyPems) -> None:
    with pytest.raises(KeyLoadError, match="ACCESS_TOKEN_PUBLIC_KEY does not belong"):
        load_key_pair(key_pems.access_private, key_pems.refresh_public, "ACCESS_TOKEN")


def test_load_key_pair_rejects_a_1024_bit_key() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the weak key under test

    with pytest.raises(KeyLoadError, match="at least 2048 bits"):
        load_key_pair(
            private_pem(small).decode(), public_pem(small.public_key()).decode(), "ACCESS_TOKEN"
        )


def test_load_key_pair_rejects_a_non_rsa_key() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    private = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        ec_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )

    with pytest.raises(KeyLoadError, match="must be RSA keys"):
        load_key_pair(private, public, "ACCESS_TOKEN")


def test_load_key_pair_rejects_a_corrupt_pem_naming_the_setting(key_pems: KeyPems) -> None:
    corrupt = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"

    with pytest.raises(KeyLoadError, match="REFRESH_TOKEN_PRIVATE_KEY"):
        load_key_pair(corrupt, key_pems.refresh_public, "REFRESH_TOKEN")


# --- thumbprint ----------------------------------------------------------------


def test_thumbprint_matches_the_rfc_7638_example() -> None:
    # RFC 7638, section 3.1.
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSo"
        "c_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YG"
        "jQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdk"
        "t-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKn"
        "qDKgw"
    )
    modulus = int.from_bytes(base64.urlsafe_b64decode(n + "=" * (-len(n) % 4)), "big")
    public = rsa.RSAPublicNumbers(e=65537, n=modulus).public_key()

    assert thumbprint(public) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_thumbprint_is_stable_and_distinguishes_keys(key_pems: KeyPems) -> None:
    access = public_key_of(key_pems.access_public)
    private = serialization.load_pem_private_key(key_pems.access_private.encode(), None)
    assert isinstance(private, rsa.RSAPrivateKey)

    first = thumbprint(access)

    assert thumbprint(access) == first
    assert thumbprint(public_key_of(key_pems.access_public)) == first
    assert thumbprint(private.public_key()) == first
    assert thumbprint(public_key_of(key_pems.refresh_public)) != first
    assert len(first) == 43
    assert "=" not in first
    assert "+" not in first
    assert "/" not in first


# --- development keys ------------------------------------------------------------


def test_load_or_create_dev_key_creates_a_private_0600_file_once(tmp_path: Path) -> None:
    first = load_or_create_dev_key(tmp_path, "access_token")
    path = tmp_path / "keys" / "access_token_private.pem"
    content = path.read_bytes()

    second = load_or_create_dev_key(tmp_path, "access_token")

    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert second.kid == first.kid
    assert path.read_bytes() == content
    assert [p.name for p in path.parent.iterdir()] == ["access_token_private.pem"]
    assert first.kid == thumbprint(first.public_key)
    assert first.public_key.key_size >= 2048


def test_load_or_create_dev_key_reads_an_existing_file(tmp_path: Path, key_pems: KeyPems) -> None:
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    (keys_dir / "refresh_token_private.pem").write_text(key_pems.refresh_private)

    key = load_or_create_dev_key(tmp_path, "refresh_token")

    assert key.kid == thumbprint(public_key_of(key_pems.refresh_public))


# --- KeyRing ------------------------------------------------------------------------


def test_key_ring_raises_before_load(tmp_path: Path, key_pems: KeyPems) -> None:
    ring = key_pems.ring(tmp_path)

    with pytest.raises(RuntimeError, match="load"):
        _ = ring.access
    with pytest.raises(RuntimeError, match="load"):
        _ = ring.refresh


def test_key_ring_uses_the_configured_keys(tmp_path: Path, key_pems: KeyPems) -> None:
    ring = key_pems.ring(tmp_path)

    ring.load()

    assert [k.kid for k in ring.access] == [thumbprint(public_key_of(key_pems.access_public))]
    assert [k.kid for k in ring.refresh] == [thumbprint(public_key_of(key_pems.refresh_public))]
    assert not (tmp_path / "keys").exists()


def test_key_ring_without_configuration_generates_separate_dev_keys(tmp_path: Path) -> None:
    ring = KeyRing(
        access_private=None,
        access_public=None,
        refresh_private=None,
        refresh_public=None,
        data_dir=tmp_path,
    )

    ring.load()

    assert ring.access[0].kid != ring.refresh[0].kid
    assert (tmp_path / "keys" / "access_token_private.pem").is_file()
    assert (tmp_path / "keys" / "refresh_token_private.pem").is_file()


def dev_ring(data_dir: Path, access_previous: tuple[str, ...] = ()) -> KeyRing:
    return KeyRing(
        access_private=None,
        access_public=None,
        refresh_private=None,
        refresh_public=None,
        data_dir=data_dir,
        access_previous=access_previous,
    )


@pytest.fixture(scope="module")
def retired_pem() -> str:
    """The public half of a key that signed tokens before a rotation."""
    return public_pem(generate_private_key().public_key()).decode()


# --- KeySet -----------------------------------------------------------------------------


def test_key_set_holds_the_current_key_first_then_the_retired_ones(
    key_pems: KeyPems, retired_pem: str
) -> None:
    current = load_key_pair(key_pems.access_private, key_pems.access_public, "ACCESS_TOKEN")
    retired = load_public_key(retired_pem, "X")

    keys = KeySet.build(current, [retired])

    assert keys.current is current
    assert [key.kid for key in keys] == [current.kid, retired.kid]
    assert len(keys) == 2
    assert keys[0].kid == current.kid
    assert keys.find(retired.kid) == retired
    assert keys.find(current.kid) is current
    assert keys.find("unknown") is None
    assert keys.find(None) is None


def test_key_set_drops_a_retired_key_equal_to_the_current_one_and_repeats(
    key_pems: KeyPems, retired_pem: str
) -> None:
    current = load_key_pair(key_pems.access_private, key_pems.access_public, "ACCESS_TOKEN")
    retired = load_public_key(retired_pem, "X")

    keys = KeySet.build(current, [current, retired, load_public_key(retired_pem, "Y")])

    assert [key.kid for key in keys] == [current.kid, retired.kid]


def test_a_retired_key_never_keeps_a_private_key(key_pems: KeyPems) -> None:
    current = load_key_pair(key_pems.access_private, key_pems.access_public, "ACCESS_TOKEN")
    old = signing_key(generate_private_key())

    keys = KeySet.build(current, [old])

    assert type(keys.retired[0]) is VerificationKey
    assert not hasattr(keys.retired[0], "private_key")


# --- retired keys from the *_PREVIOUS_PUBLIC_KEYS settings ------------------------------


def test_previous_keys_given_as_pem_and_as_a_path_are_accepted(
    tmp_path: Path, key_pems: KeyPems, retired_pem: str
) -> None:
    refresh_retired = public_pem(generate_private_key().public_key()).decode()
    path = tmp_path / "refresh_old.pem"
    path.write_text(refresh_retired)
    ring = key_pems.ring(tmp_path, access_previous=(retired_pem,), refresh_previous=(str(path),))

    ring.load()

    assert [k.kid for k in ring.access] == [
        thumbprint(public_key_of(key_pems.access_public)),
        thumbprint(public_key_of(retired_pem)),
    ]
    assert [k.kid for k in ring.refresh] == [
        thumbprint(public_key_of(key_pems.refresh_public)),
        thumbprint(public_key_of(refresh_retired)),
    ]
    assert ring.access.current.kid == thumbprint(public_key_of(key_pems.access_public))


def test_previous_key_as_base64_of_pem_is_accepted(
    tmp_path: Path, key_pems: KeyPems, retired_pem: str
) -> None:
    encoded = base64.b64encode(retired_pem.encode()).decode()
    ring = key_pems.ring(tmp_path, access_previous=(encoded,))

    ring.load()

    assert ring.access.retired[0].kid == thumbprint(public_key_of(retired_pem))


def test_previous_key_equal_to_the_current_key_is_ignored(
    tmp_path: Path, key_pems: KeyPems
) -> None:
    ring = key_pems.ring(tmp_path, access_previous=(key_pems.access_public,))

    ring.load()

    assert len(ring.access) == 1
    assert ring.access.retired == ()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("not a key", "not PEM text"),
        ("/nonexistent/old_access.pem", "not PEM text"),
        ("-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----", "not an RSA"),
    ],
)
def test_a_bad_previous_key_refuses_to_load_naming_the_setting(
    tmp_path: Path, key_pems: KeyPems, retired_pem: str, value: str, reason: str
) -> None:
    ring = key_pems.ring(tmp_path, refresh_previous=(retired_pem, value))

    with pytest.raises(KeyLoadError, match=reason) as caught:
        ring.load()

    assert "REFRESH_TOKEN_PREVIOUS_PUBLIC_KEYS (item 2)" in str(caught.value)
    with pytest.raises(RuntimeError, match="load"):
        _ = ring.access  # nothing half-loaded


def test_a_private_key_as_previous_key_is_refused_without_echoing_it(
    tmp_path: Path, key_pems: KeyPems
) -> None:
    ring = key_pems.ring(tmp_path, access_previous=(key_pems.refresh_private,))

    with pytest.raises(KeyLoadError, match="ACCESS_TOKEN_PREVIOUS_PUBLIC_KEYS") as caught:
        ring.load()

    body = key_pems.refresh_private.splitlines()[1]
    assert body not in str(caught.value)


def test_a_short_previous_key_is_refused(tmp_path: Path, key_pems: KeyPems) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the weak key under test
    ring = key_pems.ring(tmp_path, access_previous=(public_pem(small.public_key()).decode(),))

    with pytest.raises(KeyLoadError, match=r"ACCESS_TOKEN_PREVIOUS_PUBLIC_KEYS.*2048 bits"):
        ring.load()


def test_the_other_kinds_current_key_is_refused_as_a_previous_key(
    tmp_path: Path, key_pems: KeyPems
) -> None:
    ring = key_pems.ring(tmp_path, access_previous=(key_pems.refresh_public,))

    with pytest.raises(KeyLoadError, match=r"ACCESS_TOKEN_PREVIOUS_PUBLIC_KEYS.*REFRESH_TOKEN"):
        ring.load()


# --- development key rotation ------------------------------------------------------------


def test_rotate_dev_key_retires_the_old_public_key_and_replaces_the_private_one(
    tmp_path: Path,
) -> None:
    old = load_or_create_dev_key(tmp_path, "access_token")

    rotation = rotate_dev_key(tmp_path, "access_token")

    private = tmp_path / "keys" / "access_token_private.pem"
    retired = tmp_path / "keys" / f"access_token_retired_{old.kid}.pem"
    assert rotation.retired is not None
    assert rotation.retired.kid == old.kid
    assert rotation.retired_path == retired
    assert rotation.current.kid != old.kid
    assert load_or_create_dev_key(tmp_path, "access_token").kid == rotation.current.kid
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"PRIVATE" not in retired.read_bytes()
    assert thumbprint(public_key_of(retired.read_text())) == old.kid
    assert not [p for p in private.parent.iterdir() if p.name.endswith(".tmp")]


def test_rotate_dev_key_without_a_key_just_creates_one(tmp_path: Path) -> None:
    rotation = rotate_dev_key(tmp_path, "refresh_token")

    assert rotation.retired is None
    assert rotation.retired_path is None
    assert load_or_create_dev_key(tmp_path, "refresh_token").kid == rotation.current.kid
    assert load_retired_dev_keys(tmp_path, "refresh_token") == []


def test_dev_ring_signs_with_the_newest_key_and_accepts_every_retired_one(
    tmp_path: Path,
) -> None:
    first = load_or_create_dev_key(tmp_path, "access_token")
    second = rotate_dev_key(tmp_path, "access_token").current
    third = rotate_dev_key(tmp_path, "access_token").current
    ring = dev_ring(tmp_path)

    ring.load()

    assert ring.access.current.kid == third.kid
    assert ring.access[0].kid == third.kid
    assert {k.kid for k in ring.access.retired} == {first.kid, second.kid}
    assert len(ring.access) == 3
    assert [k.kid for k in ring.refresh] == [ring.refresh.current.kid]


def test_dev_retired_files_are_ignored_once_keys_are_configured(
    tmp_path: Path, key_pems: KeyPems
) -> None:
    old = load_or_create_dev_key(tmp_path, "access_token")
    rotate_dev_key(tmp_path, "access_token")
    assert dev_retired_key_path(tmp_path, "access_token", old.kid).is_file()
    ring = key_pems.ring(tmp_path)

    ring.load()

    assert old.kid not in {k.kid for k in ring.access}
    assert len(ring.access) == 1


def test_a_corrupt_retired_file_refuses_to_load_naming_the_file(tmp_path: Path) -> None:
    load_or_create_dev_key(tmp_path, "access_token")
    bad = dev_retired_key_path(tmp_path, "access_token", "bogus")
    bad.write_text("garbage")

    with pytest.raises(KeyLoadError, match=re.escape(str(bad))):
        dev_ring(tmp_path).load()


# --- writing key files -------------------------------------------------------------------


def test_write_new_files_refuses_to_overwrite_anything_without_force(tmp_path: Path) -> None:
    existing = tmp_path / "b.pem"
    existing.write_bytes(b"keep me")
    files = [(tmp_path / "a.pem", b"new a", 0o600), (existing, b"new b", 0o644)]

    with pytest.raises(FileExistsError, match=r"b\.pem"):
        write_new_files(files, force=False)

    assert not (tmp_path / "a.pem").exists()
    assert existing.read_bytes() == b"keep me"


def test_write_new_files_with_force_replaces_with_the_given_mode(tmp_path: Path) -> None:
    existing = tmp_path / "private.pem"
    existing.write_bytes(b"old")
    existing.chmod(0o644)

    write_new_files([(existing, b"new", 0o600)], force=True)

    assert existing.read_bytes() == b"new"
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["private.pem"]
