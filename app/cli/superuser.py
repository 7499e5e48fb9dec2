"""``python -m app create-superuser``."""

import asyncio
import getpass
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import TypeAdapter, ValidationError

from app.cli.common import EXIT_REFUSED, fail, settings_or_exit
from app.config import ConfigurationError, Settings
from app.models.errors import DomainError
from app.models.role import Role
from app.models.user import User
from app.schemas.base import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, Email

if TYPE_CHECKING:
    from app.services.user_service import UserService


async def _create(settings: Settings, email: str, password: str | None, assume_yes: bool) -> int:
    # Imported here: wiring every layer is slow, and `keys` and `--help` need none of it.
    from app.container import build_container

    container = build_container(settings)
    await container.storage.open()
    try:
        existing = await container.user_service.find_by_email(email)
        if existing is not None:
            return await _promote(container.user_service, existing, password, assume_yes)
        password = password or _checked(_prompt_password())
        user, created = await container.user_service.ensure_superuser(email, password)
    finally:
        await container.storage.close()
        container.hasher.close()
        container.strength_estimator.close()
        if container.http_client is not None:
            await container.http_client.aclose()
    if created:
        typer.echo(f"Created superuser {user.email} ({user.id})")
        return 0
    # Another process created it between the look-up and now.
    typer.echo(f"An account with the email {user.email} already exists; nothing changed.")
    return EXIT_REFUSED


async def _promote(users: "UserService", user: User, password: str | None, assume_yes: bool) -> int:
    if user.role is Role.SUPERADMIN and user.is_active and user.is_verified:
        typer.echo(
            f"An account with the email {user.email} already exists and is an active "
            "superadmin; nothing changed."
        )
        return EXIT_REFUSED
    if password is not None:
        typer.echo("The account exists: --password is not used, its password stays.", err=True)
    state = "active" if user.is_active else "disabled"
    question = (
        f"An account with the email {user.email} exists ({user.role}, {state}). Make it an "
        "active, verified superadmin? Its password does not change."
    )
    if not assume_yes and not _confirmed(question):
        typer.echo("Nothing changed.", err=True)
        return EXIT_REFUSED
    promoted = await users.promote_to_superuser(user)
    typer.echo(
        f"Promoted {promoted.email} ({promoted.id}) to superadmin; its password is unchanged."
    )
    return 0


def _confirmed(question: str) -> bool:
    try:
        return typer.confirm(question, default=False, err=True)
    except typer.Abort:
        # No answer (end of input, Ctrl-C) is a no.
        typer.echo(err=True)
        return False


def _checked(password: str) -> str:
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        fail(f"The password must be {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters.")
    return password


def _prompt_password() -> str:
    try:
        return getpass.getpass("Password: ")
    except EOFError:
        fail("No password was entered.")
    except KeyboardInterrupt:
        typer.echo(err=True)
        raise typer.Exit(130) from None


def create_superuser(
    email: Annotated[
        str, typer.Option(help="Email address of the new account, or of one to promote.")
    ],
    password: Annotated[
        str | None,
        typer.Option(
            help="The new account's password. Omit it to type it at a hidden prompt, "
            "which keeps it out of the shell history and the process list.",
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Promote an existing account without asking.")
    ] = False,
) -> None:
    """Create a superadmin account, verified and active, or promote an existing one.

    An account with this email that exists already is made an active, verified
    superadmin after a confirmation (--yes skips it), and keeps its password:
    the way back in when no superadmin can sign in. The change is audited.

    Applies pending migrations first, like the app at start-up.

    Exit status: 0 created or promoted, 1 nothing changed (already an active
    superadmin, or the promotion was not confirmed), 2 invalid email, password or
    settings.
    """
    try:
        email = TypeAdapter(Email).validate_python(email)
    except ValidationError:
        fail(f"{email!r} is not a valid email address.")
    if password is not None:
        _checked(password)
    settings = settings_or_exit()
    try:
        code = asyncio.run(_create(settings, email, password, yes))
    except ConfigurationError as exc:
        fail(str(exc))
    except DomainError as exc:
        # The service refused the account (a password policy, for instance).
        fail(exc.message)
    if code != 0:
        raise typer.Exit(code)
