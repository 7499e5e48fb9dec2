"""``python -m app create-superuser``."""

import asyncio
import getpass
from typing import Annotated

import typer
from pydantic import TypeAdapter, ValidationError

from app.cli.common import EXIT_REFUSED, fail, settings_or_exit
from app.config import ConfigurationError, Settings
from app.models.errors import DomainError
from app.schemas.base import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, Email


async def _create(settings: Settings, email: str, password: str) -> int:
    # Imported here: wiring every layer is slow, and `keys` and `--help` need none of it.
    from app.container import build_container

    container = build_container(settings)
    await container.storage.open()
    try:
        user, created = await container.user_service.ensure_superuser(email, password)
    finally:
        await container.storage.close()
        container.hasher.close()
        container.strength_estimator.close()
    if created:
        typer.echo(f"Created superuser {user.email} ({user.id})")
        return 0
    typer.echo(f"An account with the email {user.email} already exists; nothing changed.")
    return EXIT_REFUSED


def _prompt_password() -> str:
    try:
        return getpass.getpass("Password: ")
    except EOFError:
        fail("No password was entered.")
    except KeyboardInterrupt:
        typer.echo(err=True)
        raise typer.Exit(130) from None


def create_superuser(
    email: Annotated[str, typer.Option(help="Email address of the new account.")],
    password: Annotated[
        str | None,
        typer.Option(
            help="Its password. Omit it to type it at a hidden prompt, "
            "which keeps it out of the shell history and the process list.",
        ),
    ] = None,
) -> None:
    """Create a superadmin account, verified and active.

    Applies pending migrations first, like the app at start-up.

    Exit status: 0 created, 1 an account with this email exists (nothing changed),
    2 invalid email, password or settings.
    """
    try:
        email = TypeAdapter(Email).validate_python(email)
    except ValidationError:
        fail(f"{email!r} is not a valid email address.")
    password = password or _prompt_password()
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        fail(f"The password must be {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters.")
    settings = settings_or_exit()
    try:
        code = asyncio.run(_create(settings, email, password))
    except ConfigurationError as exc:
        fail(str(exc))
    except DomainError as exc:
        # The service refused the account (a password policy, for instance).
        fail(exc.message)
    if code != 0:
        raise typer.Exit(code)
