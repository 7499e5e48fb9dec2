"""The email commands render real templates: subjects, bodies, escaping and links."""

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from app.commands.base import EmailBranding, EmailCommand
from app.commands.email_commands import (
    AccountUnlockCommand,
    BulkVerificationCommand,
    PasswordChangedCommand,
    PasswordResetCodeCommand,
    VerificationCodeCommand,
    WelcomeCommand,
)
from app.models.email import EmailKind, RenderedEmail
from app.models.role import Role
from app.models.user import User
from app.utils.template_renderer import JinjaTemplateRenderer

PROJECT_NAME = "Acme Accounts"
FRONTEND_URL = "https://app.acme.example/portal/"
UNLOCK_TOKEN = "1767225600.c2VjcmV0LW5vbmNlLTEyMzQ." + "ab" * 32
CODE = "739164"
SCRIPT_NAME = "<script>alert(1)</script>"
CHANGED_AT = datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC)


def make_user(email: str = "alice@example.com", full_name: str | None = "Alice") -> User:
    now = datetime.now(UTC)
    return User(
        id=f"user-{email}",
        email=email,
        hashed_password="not-a-hash",
        role=Role.USER,
        permissions=frozenset(),
        created_at=now,
        updated_at=now,
        full_name=full_name,
    )


@dataclass(frozen=True)
class Case:
    """One command, the link its email must carry and whether it carries a code."""

    build: Callable[[User], EmailCommand]
    kind: EmailKind
    path: str
    code: str | None


CASES: dict[str, Case] = {
    "verification_code": Case(
        lambda user: VerificationCodeCommand(user, CODE, ttl_minutes=15),
        EmailKind.VERIFICATION_CODE,
        "verify-email",
        CODE,
    ),
    "password_reset_code": Case(
        lambda user: PasswordResetCodeCommand(user, CODE, ttl_minutes=15),
        EmailKind.PASSWORD_RESET_CODE,
        "reset-password",
        CODE,
    ),
    "password_changed": Case(
        lambda user: PasswordChangedCommand(user, CHANGED_AT),
        EmailKind.PASSWORD_CHANGED,
        "forgot-password",
        None,
    ),
    "welcome": Case(lambda user: WelcomeCommand(user), EmailKind.WELCOME, "login", None),
    "account_unlock": Case(
        lambda user: AccountUnlockCommand(user, UNLOCK_TOKEN, ttl_minutes=15),
        EmailKind.ACCOUNT_UNLOCK,
        f"unlock?token={UNLOCK_TOKEN}",
        UNLOCK_TOKEN,
    ),
}


@pytest.fixture(params=list(CASES))
def case(request: pytest.FixtureRequest) -> Case:
    return CASES[request.param]


@pytest.fixture(scope="module")
def renderer() -> JinjaTemplateRenderer:
    return JinjaTemplateRenderer()


BRANDING = EmailBranding(project_name=PROJECT_NAME, frontend_url=FRONTEND_URL)


def render_one(
    command: EmailCommand,
    renderer: JinjaTemplateRenderer,
    branding: EmailBranding = BRANDING,
) -> RenderedEmail:
    [email] = command.render(renderer, branding)
    return email


def test_every_command_has_a_kind_with_templates() -> None:
    assert {case.kind for case in CASES.values()} == set(EmailKind)


def test_renders_one_email_to_the_user(case: Case, renderer: JinjaTemplateRenderer) -> None:
    email = render_one(case.build(make_user("bob@example.com")), renderer)

    assert email.kind is case.kind
    assert email.recipient == "bob@example.com"


def test_subject_names_the_project_and_never_holds_the_code(
    case: Case, renderer: JinjaTemplateRenderer
) -> None:
    email = render_one(case.build(make_user()), renderer)

    assert PROJECT_NAME in email.subject
    assert CODE not in email.subject
    assert "\n" not in email.subject


def test_both_bodies_carry_the_code_where_there_is_one(
    case: Case, renderer: JinjaTemplateRenderer
) -> None:
    email = render_one(case.build(make_user()), renderer)

    if case.code is None:
        assert CODE not in email.text_body
        assert CODE not in email.html_body
    else:
        assert case.code in email.text_body
        assert case.code in email.html_body
        assert "15 minutes" in email.text_body


def test_bodies_show_the_project_name_and_greet_the_user(
    case: Case, renderer: JinjaTemplateRenderer
) -> None:
    email = render_one(case.build(make_user(full_name="Alice Liddell")), renderer)

    for body in (email.text_body, email.html_body):
        assert PROJECT_NAME in body
        assert "Hello Alice Liddell," in body
    assert f"<title>{email.subject}</title>" in email.html_body


def test_greeting_falls_back_to_the_email_address(
    case: Case, renderer: JinjaTemplateRenderer
) -> None:
    email = render_one(case.build(make_user("nameless@example.com", full_name=None)), renderer)

    assert "Hello nameless@example.com," in email.text_body
    assert "Hello nameless@example.com," in email.html_body
    assert "None" not in email.text_body


def test_links_are_built_from_the_frontend_url(case: Case, renderer: JinjaTemplateRenderer) -> None:
    email = render_one(case.build(make_user()), renderer)

    link = f"https://app.acme.example/portal/{case.path}"
    assert link in email.text_body
    assert f'href="{link}"' in email.html_body
    assert "localhost" not in email.text_body + email.html_body


def test_frontend_url_without_trailing_slash_gives_the_same_link(
    case: Case, renderer: JinjaTemplateRenderer
) -> None:
    branding = EmailBranding(project_name=PROJECT_NAME, frontend_url="https://acme.example")

    email = render_one(case.build(make_user()), renderer, branding)

    assert f"https://acme.example/{case.path}" in email.text_body
    assert "//" + case.path not in email.text_body


def test_html_escapes_the_user_name_and_text_keeps_it_verbatim(
    case: Case, renderer: JinjaTemplateRenderer
) -> None:
    email = render_one(case.build(make_user(full_name=SCRIPT_NAME)), renderer)

    assert "<script>" not in email.html_body
    assert html.escape(SCRIPT_NAME, quote=False) in email.html_body
    assert f"Hello {SCRIPT_NAME}," in email.text_body


def test_html_escapes_the_project_name(case: Case, renderer: JinjaTemplateRenderer) -> None:
    branding = EmailBranding(project_name="Tom & Jerry <Co>", frontend_url=FRONTEND_URL)

    email = render_one(case.build(make_user()), renderer, branding)

    assert "Tom &amp; Jerry &lt;Co&gt;" in email.html_body
    assert "<Co>" not in email.html_body
    assert "Tom & Jerry <Co>" in email.text_body
    assert "Tom & Jerry <Co>" in email.subject


def test_password_changed_shows_when(renderer: JinjaTemplateRenderer) -> None:
    email = render_one(PasswordChangedCommand(make_user(), CHANGED_AT), renderer)

    assert "2025-03-14 15:09 (UTC)" in " ".join(email.text_body.split())
    assert "2025-03-14 15:09" in email.html_body


def test_bulk_verification_renders_one_message_per_user_and_code(
    renderer: JinjaTemplateRenderer,
) -> None:
    alice, bob = make_user("alice@example.com", "Alice"), make_user("bob@example.com", "Bob")
    items = [(alice, "111111"), (bob, "222222"), (alice, "333333")]

    emails = BulkVerificationCommand(items, ttl_minutes=30).render(renderer, BRANDING)

    assert [(email.recipient, email.kind) for email in emails] == [
        ("alice@example.com", EmailKind.VERIFICATION_CODE),
        ("bob@example.com", EmailKind.VERIFICATION_CODE),
        ("alice@example.com", EmailKind.VERIFICATION_CODE),
    ]
    for email, (user, code) in zip(emails, items, strict=True):
        others = {other for _, other in items} - {code}
        assert code in email.text_body
        assert code in email.html_body
        assert not any(other in email.text_body + email.html_body for other in others)
        assert f"Hello {user.full_name}," in email.text_body
        assert "30 minutes" in email.text_body
        assert code not in email.subject


def test_bulk_verification_of_nobody_renders_nothing(renderer: JinjaTemplateRenderer) -> None:
    assert BulkVerificationCommand([], ttl_minutes=30).render(renderer, BRANDING) == []


@pytest.mark.parametrize("template", ["verification_code.txt", "verification_code.html"])
def test_a_missing_variable_raises_instead_of_rendering_blank(
    template: str, renderer: JinjaTemplateRenderer
) -> None:
    context = {
        "project_name": PROJECT_NAME,
        "greeting_name": "Alice",
        "subject": "Verify",
        "ttl_minutes": 15,
        "verify_url": "https://acme.example/verify-email",
    }  # no "code"

    with pytest.raises(UndefinedError, match="code"):
        renderer.render(template, context)


def test_strict_undefined_applies_to_any_template_directory(tmp_path: Path) -> None:
    (tmp_path / "note.txt").write_text("Hi {{ name }}, see {{ missing }}.\n")
    renderer = JinjaTemplateRenderer(tmp_path)

    assert renderer.render("note.txt", {"name": "Al", "missing": "x"}) == "Hi Al, see x.\n"
    with pytest.raises(UndefinedError, match="missing"):
        renderer.render("note.txt", {"name": "Al"})


def test_only_html_templates_are_autoescaped(tmp_path: Path) -> None:
    for name in ("page.html", "page.txt"):
        (tmp_path / name).write_text("{{ value }}")
    renderer = JinjaTemplateRenderer(tmp_path)

    assert renderer.render("page.html", {"value": "<b>&"}) == "&lt;b&gt;&amp;"
    assert renderer.render("page.txt", {"value": "<b>&"}) == "<b>&"
