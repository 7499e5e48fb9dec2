"""Development delivery: the message goes to the log instead of a mail server."""

import logging

from app.interfaces.email_sender import EmailSender
from app.models.email import OutboxMessage

logger = logging.getLogger("app.email.console")


class ConsoleEmailSender(EmailSender):
    """Writes the text part to the log so `make run` needs no mail server.

    The text carries one-time codes, which is why production refuses this backend.
    """

    async def send(self, message: OutboxMessage) -> None:
        logger.warning(
            "Email to %s (%s)\nSubject: %s\n\n%s",
            message.recipient,
            message.kind.value,
            message.subject,
            message.text_body,
        )
