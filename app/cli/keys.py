"""``python -m app keys generate|rotate``: the RS256 key pairs that sign tokens.

Only public keys, file paths and ``kid`` thumbprints are ever printed; private keys
go to files readable by their owner only.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from app.cli.common import EXIT_REFUSED, duration, env_line, fail, settings_or_exit
from app.config import Settings
from app.utils.keys import (
    ACCESS_TOKEN,
    PRIVATE_FILE_MODE,
    PUBLIC_FILE_MODE,
    REFRESH_TOKEN,
    TOKEN_KINDS,
    KeyLoadError,
    SigningKey,
    VerificationKey,
    dev_private_key_path,
    generate_private_key,
    load_key_pair,
    load_public_key,
    private_pem,
    public_pem,
    rotate_dev_key,
    signing_key,
    write_new_files,
)

keys_cli = typer.Typer(
    help="Generate and rotate the RS256 keys that sign tokens.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

# File prefix and lifetime setting of each token kind.
PREFIX = {ACCESS_TOKEN: "access", REFRESH_TOKEN: "refresh"}
TTL_SETTING = {ACCESS_TOKEN: "ACCESS_TOKEN_TTL_SECONDS", REFRESH_TOKEN: "REFRESH_TOKEN_TTL_SECONDS"}
ROTATION_DOC = "docs/KEY_ROTATION.md"

OutOption = Annotated[
    Path,
    typer.Option(
        "--out",
        help="Directory for the key files (created when missing).",
        file_okay=False,
        resolve_path=True,
    ),
]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Overwrite key files that already exist in --out.")
]


@dataclass(frozen=True, slots=True)
class _NewPair:
    kind: str
    key: SigningKey
    private_path: Path
    public_path: Path


def _new_pairs(out: Path, kinds: tuple[str, ...]) -> list[_NewPair]:
    pairs = []
    for kind in kinds:
        prefix = PREFIX[kind]
        key = signing_key(generate_private_key())
        pairs.append(
            _NewPair(kind, key, out / f"{prefix}_private.pem", out / f"{prefix}_public.pem")
        )
    return pairs


def _pair_files(pairs: list[_NewPair]) -> list[tuple[Path, bytes, int]]:
    files = []
    for pair in pairs:
        files.append((pair.private_path, private_pem(pair.key.private_key), PRIVATE_FILE_MODE))
        files.append((pair.public_path, public_pem(pair.key.public_key), PUBLIC_FILE_MODE))
    return files


def _write_or_exit(files: list[tuple[Path, bytes, int]], force: bool) -> None:
    try:
        write_new_files(files, force=force)
    except FileExistsError as exc:
        fail(
            f"Refusing to overwrite existing files: {exc}. "
            "Choose another --out directory, or pass --force to replace them.",
            EXIT_REFUSED,
        )
    except OSError as exc:
        fail(f"Could not write the key files: {exc}")


@keys_cli.command("generate")
def generate(out: OutOption, force: ForceOption = False) -> None:
    """Write new access and refresh key pairs to --out and print the variables to set.

    Writes access_private.pem, access_public.pem, refresh_private.pem and
    refresh_public.pem (private files with mode 0600). The standard output is `.env`
    lines, so `python -m app keys generate --out keys >> .env` works.

    Exit status: 0 written, 1 a file exists already (nothing written; see --force),
    2 invalid arguments.
    """
    pairs = _new_pairs(out, TOKEN_KINDS)
    _write_or_exit(_pair_files(pairs), force)
    typer.echo(f"Wrote two RS256 key pairs to {out}; the private keys are mode 0600.", err=True)
    for pair in pairs:
        typer.echo(f"# {pair.kind.lower()} key, kid {pair.key.kid}")
        typer.echo(env_line(f"{pair.kind}_PRIVATE_KEY", str(pair.private_path)))
        typer.echo(env_line(f"{pair.kind}_PUBLIC_KEY", str(pair.public_path)))


def _configured_kinds(settings: Settings) -> dict[str, tuple[str, str]]:
    pairs = {
        ACCESS_TOKEN: (settings.access_token_private_key, settings.access_token_public_key),
        REFRESH_TOKEN: (settings.refresh_token_private_key, settings.refresh_token_public_key),
    }
    return {
        kind: (private, public) for kind, (private, public) in pairs.items() if private and public
    }


def _previous_values(settings: Settings, kind: str) -> list[str]:
    if kind == ACCESS_TOKEN:
        return settings.access_token_previous_public_keys
    return settings.refresh_token_previous_public_keys


def _ttl(settings: Settings, kind: str) -> int:
    if kind == ACCESS_TOKEN:
        return settings.access_token_ttl_seconds
    return settings.refresh_token_ttl_seconds


def _rotate_configured(
    settings: Settings, configured: dict[str, tuple[str, str]], out: Path, force: bool
) -> None:
    """Write the new pairs and every key to keep accepting; print the procedure."""
    retiring: dict[str, list[VerificationKey]] = {}
    try:
        for kind, (private, public) in configured.items():
            setting = f"{kind}_PREVIOUS_PUBLIC_KEYS"
            old = load_key_pair(private, public, kind)
            still_accepted = [
                load_public_key(value, f"{setting} (item {index})")
                for index, value in enumerate(_previous_values(settings, kind), start=1)
            ]
            kept: list[VerificationKey] = []
            for key in [old, *still_accepted]:
                if all(key.kid != other.kid for other in kept):
                    kept.append(VerificationKey(key.kid, key.public_key))
            retiring[kind] = kept
    except KeyLoadError as exc:
        fail(str(exc))
    pairs = _new_pairs(out, tuple(configured))
    retired_paths: dict[str, list[Path]] = {}
    files = _pair_files(pairs)
    for pair in pairs:
        prefix = PREFIX[pair.kind]
        keys = [key for key in retiring[pair.kind] if key.kid != pair.key.kid]
        retired_paths[pair.kind] = [out / f"{prefix}_retired_{key.kid}.pem" for key in keys]
        files += [
            (path, public_pem(key.public_key), PUBLIC_FILE_MODE)
            for path, key in zip(retired_paths[pair.kind], keys, strict=True)
        ]
    _write_or_exit(files, force)

    echo = typer.echo
    echo(f"Wrote the new key pairs to {out} (private keys mode 0600).")
    echo("The keys are configured in the environment, which this command cannot edit.")
    echo("Finish the rotation as follows:")
    echo("")
    echo("1. Set these variables wherever the app's environment is defined (.env, secret")
    echo("   store, orchestrator). The retired public keys stay accepted through")
    echo("   *_PREVIOUS_PUBLIC_KEYS; copy the files next to the app and adjust the paths")
    echo("   if it runs elsewhere (PEM text or base64 of it works as a value too):")
    echo("")
    for pair in pairs:
        echo(env_line(f"{pair.kind}_PRIVATE_KEY", str(pair.private_path)))
        echo(env_line(f"{pair.kind}_PUBLIC_KEY", str(pair.public_path)))
        echo(
            env_line(
                f"{pair.kind}_PREVIOUS_PUBLIC_KEYS",
                ",".join(str(path) for path in retired_paths[pair.kind]),
            )
        )
    echo("")
    echo("2. Restart every instance of the app. New tokens are then signed with the new")
    echo("   keys; tokens signed with the old ones keep verifying by their kid.")
    for pair in pairs:
        old_kid = retiring[pair.kind][0].kid
        echo(f"   {pair.kind.lower()}: kid {old_kid} -> {pair.key.kid}")
    echo(f"   With several instances, roll out in two phases: see {ROTATION_DOC}.")
    echo("")
    echo("3. Once the tokens signed by a retired key have expired, remove it from")
    echo("   *_PREVIOUS_PUBLIC_KEYS and restart again:")
    for pair in pairs:
        old_kid = retiring[pair.kind][0].kid
        ttl = duration(_ttl(settings, pair.kind))
        echo(
            f"   - {pair.kind.lower()} key {old_kid}: {TTL_SETTING[pair.kind]} = {ttl} "
            "after the restart"
        )
    echo("   (if you shortened a lifetime recently, wait for the longer, older one).")


def _rotate_development(settings: Settings, kinds: tuple[str, ...]) -> None:
    """Rotate the generated keys under DATA_DIR/keys in place."""
    retired_kinds = []
    for kind in kinds:
        name = kind.lower()
        rotation = rotate_dev_key(settings.data_dir, name)
        if rotation.retired is None:
            typer.echo(
                f"{name}: no key yet; generated kid {rotation.current.kid} at "
                f"{dev_private_key_path(settings.data_dir, name)}."
            )
            continue
        retired_kinds.append(kind)
        typer.echo(
            f"{name}: kid {rotation.retired.kid} -> {rotation.current.kid}; the retired "
            f"public key is kept at {rotation.retired_path}."
        )
    typer.echo("Restart the app to sign with the new keys.")
    if retired_kinds:
        typer.echo("Tokens signed with the retired keys keep verifying. Delete a retired")
        typer.echo("file once the tokens it signed have expired:")
        for kind in retired_kinds:
            typer.echo(
                f"  {kind.lower()}: {TTL_SETTING[kind]} = {duration(_ttl(settings, kind))} "
                "after the restart."
            )


@keys_cli.command("rotate")
def rotate(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Where to write the new pairs when the keys are configured in the "
            "environment (required then; refused for development keys).",
            file_okay=False,
            resolve_path=True,
        ),
    ] = None,
    force: ForceOption = False,
) -> None:
    """Replace the signing keys, keeping the old public keys accepted.

    Development keys (no *_PRIVATE_KEY configured) rotate in place under
    DATA_DIR/keys: a new current pair per token kind, the old public key kept as
    <kind>_retired_<kid>.pem; restart the app afterwards.

    Configured keys live in the environment, which this command cannot edit: it
    writes the new pairs (and the public keys to keep accepting) to --out and prints
    the procedure: set the new variables, move the old public keys into
    *_PREVIOUS_PUBLIC_KEYS, restart, and remove them after the token lifetimes.

    Exit status: 0 rotated, 1 a file in --out exists already (see --force), 2 invalid
    settings, keys or arguments.
    """
    settings = settings_or_exit()
    configured = _configured_kinds(settings)
    development = tuple(kind for kind in TOKEN_KINDS if kind not in configured)
    if configured and out is None:
        names = ", ".join(f"{kind}_PRIVATE_KEY" for kind in configured)
        fail(
            f"{names} configured in the environment; this command cannot change it. "
            "Pass --out DIR to write the new key pairs there and print the procedure."
        )
    if not configured and out is not None:
        fail(
            "--out is for keys configured in the environment; development keys rotate "
            f"in place under {settings.data_dir / 'keys'}. Run without --out, or use "
            "`keys generate --out DIR` to move to configured keys."
        )
    if configured and out is not None:
        _rotate_configured(settings, configured, out, force)
    if development:
        if configured:
            typer.echo("")
        _rotate_development(settings, development)
