"""A local Pwned Passwords range API, over http.server in a thread, for the breach tests.

    with RangeApiServer({"Tr0ub4dor&3": 42}) as server:
        server.url                      # http://127.0.0.1:PORT, the base URL to configure
        server.behaviour = Behaviour.HANG
        server.requests                 # (path, headers) of every request received

``GET /range/{PREFIX}`` answers ``SUFFIX:COUNT`` lines, CRLF-separated like the real
service, for every listed password whose uppercase SHA-1 starts with PREFIX. With the
``Add-Padding: true`` header it adds made-up suffixes with count 0, and the suffixes of
``padded`` passwords with count 0 too, so a test can ask about a password that the
answer lists only as padding.
"""

import hashlib
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

PADDING_ENTRIES = 50
HANG_SECONDS = 30.0


class Behaviour(Enum):
    ANSWER = "answer"
    HANG = "hang"  # accept the request, then say nothing until the server stops
    GARBAGE = "garbage"  # 200 with a body that is no range answer
    EMPTY = "empty"  # 200 with nothing in it
    HUGE = "huge"  # 200 with well-formed lines, over 2 MiB of them
    ERROR = "error"  # 503


def sha1_hex(password: str) -> str:
    return hashlib.sha1(password.encode()).hexdigest().upper()  # noqa: S324 - the API's key


@dataclass
class RangeApiServer:
    breached: Mapping[str, int]
    padded: Iterable[str] = ()
    behaviour: Behaviour = Behaviour.ANSWER
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def range_answer(self, prefix: str, padding: bool) -> str:
        lines = [
            f"{digest[5:]}:{count}"
            for password, count in self.breached.items()
            if (digest := sha1_hex(password)).startswith(prefix)
        ]
        if padding:
            lines += [f"{sha1_hex(p)[5:]}:0" for p in self.padded if sha1_hex(p).startswith(prefix)]
            lines += [f"{secrets.token_hex(18)[:35].upper()}:0" for _ in range(PADDING_ENTRIES)]
        return "\r\n".join(lines)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append((self.path, dict(self.headers.items())))
                if server.behaviour is Behaviour.HANG:
                    server._stopping.wait(HANG_SECONDS)
                    return
                if server.behaviour is Behaviour.ERROR:
                    self._send(503, b"try later")
                    return
                if server.behaviour is Behaviour.GARBAGE:
                    self._send(200, b"<html>not a range answer</html>")
                    return
                if server.behaviour is Behaviour.EMPTY:
                    self._send(200, b"")
                    return
                if server.behaviour is Behaviour.HUGE:
                    self._send(200, (b"0" * 35 + b":0\r\n") * 60_000)
                    return
                prefix = self.path.removeprefix("/range/")
                if self.path == prefix or len(prefix) != 5:
                    self._send(400, b"The hash prefix was not in a valid format")
                    return
                padding = self.headers.get("Add-Padding", "").lower() == "true"
                self._send(200, server.range_answer(prefix.upper(), padding).encode())

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return None

        return Handler

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
