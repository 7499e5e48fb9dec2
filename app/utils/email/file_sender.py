"""Delivery into a folder of .eml files, for inspection or a mail pickup directory."""

import asyncio
import os
from pathlib import Path

from app.interfaces.email_sender import EmailDeliveryError, EmailSender
from app.models.email import OutboxMessage
from app.utils.email.mime import build_mime


class FileEmailSender(EmailSender):
    """One ``<outbox id>.eml`` per message, written atomically (temp file, then rename)."""

    def __init__(self, directory: Path, from_email: str, from_name: str | None) -> None:
        self._directory = directory
        self._from_email = from_email
        self._from_name = from_name

    async def send(self, message: OutboxMessage) -> None:
        data = bytes(build_mime(message, self._from_email, self._from_name))
        try:
            await asyncio.to_thread(self._write, message.id, data)
        except OSError as exc:
            raise EmailDeliveryError(f"could not write .eml: {exc.strerror}") from exc

    def _write(self, name: str, data: bytes) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        temporary = self._directory / f".{name}.tmp"
        temporary.write_bytes(data)
        os.replace(temporary, self._directory / f"{name}.eml")
