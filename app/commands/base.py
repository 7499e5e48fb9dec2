"""The command interface and the invoker that queues what commands render."""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from app.interfaces.clock import Clock
from app.interfaces.repositories.outbox_repository import OutboxRepository
from app.interfaces.template_renderer import TemplateRenderer
from app.models.email import EmailKind, OutboxMessage, OutboxStatus, RenderedEmail
from app.models.user import User
from app.utils.ids import new_id


@dataclass(frozen=True, slots=True)
class EmailBranding:
    """What every template may show: the product's name and where its pages live."""

    project_name: str
    frontend_url: str

    def link(self, path: str) -> str:
        return f"{self.frontend_url.rstrip('/')}/{path.lstrip('/')}"


class EmailCommand(ABC):
    """Knows which emails to build and from what; does not know how they are sent."""

    @abstractmethod
    def render(self, renderer: TemplateRenderer, branding: EmailBranding) -> list[RenderedEmail]:
        """The finished messages, ready to queue."""


class UserEmailCommand(EmailCommand):
    """One templated email to one user: subclasses name the template and fill the context."""

    kind: ClassVar[EmailKind]

    def __init__(self, user: User) -> None:
        self.user = user

    @abstractmethod
    def subject(self, branding: EmailBranding) -> str: ...

    @abstractmethod
    def context(self, branding: EmailBranding) -> dict[str, Any]: ...

    def render(self, renderer: TemplateRenderer, branding: EmailBranding) -> list[RenderedEmail]:
        subject = self.subject(branding)
        context = {
            "project_name": branding.project_name,
            "greeting_name": self.user.full_name or self.user.email,
            "subject": subject,
            **self.context(branding),
        }
        template = self.kind.value
        return [
            RenderedEmail(
                kind=self.kind,
                recipient=self.user.email,
                subject=subject,
                text_body=renderer.render(f"{template}.txt", context),
                html_body=renderer.render(f"{template}.html", context),
            )
        ]


class EmailInvoker:
    """Executes commands: renders them and stores the result in the outbox.

    Run inside a unit of work, the messages commit together with the change that
    caused them, so an accepted change never loses its email.
    """

    def __init__(
        self,
        outbox: OutboxRepository,
        renderer: TemplateRenderer,
        branding: EmailBranding,
        clock: Clock,
    ) -> None:
        self._outbox = outbox
        self._renderer = renderer
        self._branding = branding
        self._clock = clock

    async def execute(self, command: EmailCommand) -> int:
        emails = command.render(self._renderer, self._branding)
        now = self._clock.now()
        for email in emails:
            await self._outbox.add(
                OutboxMessage(
                    id=new_id(),
                    kind=email.kind,
                    recipient=email.recipient,
                    subject=email.subject,
                    text_body=email.text_body,
                    html_body=email.html_body,
                    status=OutboxStatus.PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
        return len(emails)
