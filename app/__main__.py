"""Command line: ``python -m app create-superuser``."""

import argparse
import asyncio
import getpass
import sys

from pydantic import TypeAdapter, ValidationError

from app.config import ConfigurationError, load_settings
from app.container import build_container
from app.schemas.base import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, Email


async def _create_superuser(email: str, password: str) -> int:
    settings = load_settings()
    container = build_container(settings)
    await container.storage.open()
    try:
        user, created = await container.user_service.ensure_superuser(email, password)
    finally:
        await container.storage.close()
        container.hasher.close()
    if created:
        print(f"Created superuser {user.email} ({user.id})")
        return 0
    print(f"An account with the email {user.email} already exists; nothing changed.")
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-superuser", help="Create a superadmin account.")
    create.add_argument("--email", required=True)
    create.add_argument(
        "--password", help="Read from a prompt when omitted (keeps it out of shell history)."
    )
    args = parser.parse_args(argv)
    try:
        email = TypeAdapter(Email).validate_python(args.email)
    except ValidationError:
        print(f"{args.email!r} is not a valid email address.", file=sys.stderr)
        return 2
    password = args.password or getpass.getpass("Password: ")
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        print(
            f"The password must be {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters.",
            file=sys.stderr,
        )
        return 2
    try:
        return asyncio.run(_create_superuser(email, password))
    except ConfigurationError as exc:
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
