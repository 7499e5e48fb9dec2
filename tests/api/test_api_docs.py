"""The docs stay true: docs/API.md runs as written, and every relative link in docs/ resolves.

docs/API.md is a walk-through of ```sh blocks. The test starts the app in a real
uvicorn process (fresh SQLite, emails over SMTP to the in-process ``smtp_server``) and
runs every block with bash, in order, each under ``set -euo pipefail``. The blocks
share their variables the way one terminal would: each block runs with ``set -a``, and
what it leaves in its environment is handed to the next block.

The first fenced block after an ```sh block, when it is ```json, ```http or ```text, is
that command's documented output, and the real output must match it:

* ``json``: the same keys at every level, the same list lengths, and the same values,
  except for the keys in ``VOLATILE_KEYS`` (ids, times, tokens, ...);
* ``http``: the same status code; every header shown is present, with the same value
  unless it is in ``VOLATILE_HEADERS``; a body shown is compared as ``json``;
* ``text``: the same text.

What a reader does by hand between blocks, the test does in ``Walkthrough.before``:
it reads the codes from the emails the SMTP server received, and it makes the access
token expire (by signing an expired token of the same session) where the doc waits
for that.
"""

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.utils.jwt_codec import JwtTokenCodec
from tests.api.email_helpers import extract_code
from tests.api.helpers import expired_copy
from tests.conftest import KeyPems
from tests.live_server import LiveServer
from tests.smtp_server import SmtpTestServer
from tests.unit.test_architecture import ALLOWED

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
API_DOC = DOCS / "API.md"

# The address the doc tells the reader to start the server on; the test puts the
# live server's address in its place.
DOC_BASE = "http://127.0.0.1:8000"
V1 = "/api/v1"

VOLATILE_KEYS = frozenset(
    {
        "id",
        "created_at",
        "updated_at",
        "last_used_at",
        "expires_at",
        "next_attempt_at",
        "sent_at",
        "access_token",
        "refresh_token",
        "request_id",
        "next_cursor",
        "user_agent",
        # Wording of other libraries and of the Python version (HTTPStatus phrases).
        "msg",
        "title",
    }
)
VOLATILE_HEADERS = frozenset({"x-request-id", "x-access-token", "x-refresh-token", "date"})
OUTPUT_LANGUAGES = frozenset({"json", "http", "text"})
# bash's own bookkeeping, not the reader's variables.
SHELL_VARIABLES = frozenset({"_", "SHLVL", "PWD", "OLDPWD"})

SUBJECT_VERIFY = "Verify your email for"
SUBJECT_RESET = "Reset your"
SUBJECT_WELCOME = "Welcome to"
SUBJECT_CHANGED = "password was changed"
BLOCK_TIMEOUT_SECONDS = 60
SETTLE_SECONDS = 15.0
POLL_SECONDS = 0.05


# -- Reading the markdown ------------------------------------------------------------

FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
INLINE_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.MULTILINE)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass(frozen=True)
class Block:
    language: str
    text: str
    line: int


@dataclass(frozen=True)
class Step:
    command: Block
    expected: Block | None


def fenced_blocks(markdown: str) -> list[Block]:
    return [
        Block(match[1], match[2], markdown.count("\n", 0, match.start()) + 1)
        for match in FENCE.finditer(markdown)
    ]


def steps_of(markdown: str) -> list[Step]:
    """Each ```sh block with its documented output: the next block, if an output one."""
    blocks = fenced_blocks(markdown)
    steps = []
    for index, block in enumerate(blocks):
        if block.language != "sh":
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        expected = (
            following if following is not None and following.language in OUTPUT_LANGUAGES else None
        )
        steps.append(Step(block, expected))
    return steps


def without_blocks(markdown: str) -> str:
    """The markdown with its fenced blocks blanked out (line numbers kept)."""
    return FENCE.sub(lambda match: "\n" * match[0].count("\n"), markdown)


def heading_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors_of(markdown: str) -> set[str]:
    # Headings keep their inline code: `x-refresh` is part of the anchor's text.
    return {heading_anchor(heading) for heading in HEADING.findall(without_blocks(markdown))}


def broken_links(doc: Path) -> list[str]:
    # Code cannot hold links: drop the fenced blocks and the inline code spans.
    prose = INLINE_CODE.sub("", without_blocks(doc.read_text(encoding="utf-8")))
    targets = INLINE_LINK.findall(prose) + REFERENCE_LINK.findall(prose)
    problems = []
    for target in targets:
        if EXTERNAL.match(target) or target.startswith("//"):
            continue
        path_part, _, fragment = target.partition("#")
        path = (doc.parent / path_part).resolve() if path_part else doc
        if not path.exists():
            problems.append(f"{target}: {path} does not exist")
            continue
        if fragment and path.suffix == ".md":
            anchors = anchors_of(path.read_text(encoding="utf-8"))
            if fragment not in anchors:
                problems.append(f"{target}: no heading with the anchor #{fragment}")
    return problems


# -- The links -----------------------------------------------------------------------


@pytest.mark.parametrize("doc", sorted(DOCS.glob("*.md")), ids=lambda path: path.name)
def test_relative_links_in_docs_resolve(doc: Path) -> None:
    problems = broken_links(doc)
    assert not problems, f"{doc.name}:\n" + "\n".join(problems)


def test_the_link_check_sees_links_and_reports_missing_files(tmp_path: Path) -> None:
    (tmp_path / "there.md").write_text("# A title\n\n## Second `part`\n")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "See [here](there.md), [part](there.md#second-part), [out](https://x.test/a).\n"
        "[`gone`](missing.py) and [anchor](there.md#nowhere).\n"
        "```sh\necho [not a link](nope.md)\n```\n"
        "[ref]: ./also-missing.md\n"
    )
    assert broken_links(doc) == [
        f"missing.py: {tmp_path / 'missing.py'} does not exist",
        "there.md#nowhere: no heading with the anchor #nowhere",
        f"./also-missing.md: {tmp_path / 'also-missing.md'} does not exist",
    ]


# -- The layer diagram ---------------------------------------------------------------

ARCHITECTURE_DOC = DOCS / "ARCHITECTURE.md"
MERMAID_EDGE = re.compile(r"^\s*(\w+)\s*-->\s*(\w+)\s*$", re.MULTILINE)


def test_architecture_diagram_has_exactly_the_allowed_imports() -> None:
    """The flowchart's arrows out of each layer are that layer's entry in ``ALLOWED``."""
    diagrams = [
        block.text
        for block in fenced_blocks(ARCHITECTURE_DOC.read_text(encoding="utf-8"))
        if block.language == "mermaid" and block.text.lstrip().startswith("flowchart")
    ]
    assert len(diagrams) == 1, "ARCHITECTURE.md has one mermaid flowchart of the layers"
    drawn: dict[str, set[str]] = {}
    for source, target in MERMAID_EDGE.findall(diagrams[0]):
        drawn.setdefault(source, set()).add(target)
    # Arrows from the composition root (main.py) are not rules: it may import anything.
    assert {layer: drawn.get(layer, set()) for layer in ALLOWED} == ALLOWED
    assert set(drawn) - set(ALLOWED) <= {"main"}, "every other arrow leaves a layer"


# -- Comparing outputs ---------------------------------------------------------------


def assert_json_matches(expected: Any, actual: Any, where: str = "$") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        assert set(actual) == set(expected), (
            f"{where}: keys differ: documented {sorted(expected)}, real {sorted(actual)}"
        )
        for key, value in expected.items():
            if key not in VOLATILE_KEYS:
                assert_json_matches(value, actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: expected a list, got {actual!r}"
        assert len(actual) == len(expected), (
            f"{where}: {len(actual)} items, documented {len(expected)}"
        )
        for index, (documented, real) in enumerate(zip(expected, actual, strict=True)):
            assert_json_matches(documented, real, f"{where}[{index}]")
    else:
        # `type` too: True == 1 in Python, but not in the doc's JSON.
        assert type(actual) is type(expected), f"{where}: documented {expected!r}, real {actual!r}"
        assert actual == expected, f"{where}: documented {expected!r}, real {actual!r}"


@dataclass(frozen=True)
class HttpMessage:
    status: int
    headers: dict[str, str]
    body: str


def parse_http(text: str) -> HttpMessage:
    head, _, body = text.replace("\r\n", "\n").partition("\n\n")
    status_line, *header_lines = head.strip("\n").split("\n")
    assert status_line.startswith("HTTP/"), f"not a status line: {status_line!r}"
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return HttpMessage(int(status_line.split()[1]), headers, body.strip())


def assert_output_matches(expected: Block, output: str) -> None:
    if expected.language == "text":
        assert output.strip() == expected.text.strip()
    elif expected.language == "json":
        assert_json_matches(json.loads(expected.text), json.loads(output))
    else:
        documented, real = parse_http(expected.text), parse_http(output)
        assert real.status == documented.status, f"status {real.status}:\n{output}"
        for name, value in documented.headers.items():
            assert name in real.headers, f"no {name} header in:\n{output}"
            if name not in VOLATILE_HEADERS:
                assert real.headers[name] == value, f"{name}: {real.headers[name]!r}"
        if documented.body:
            assert_json_matches(json.loads(documented.body), json.loads(real.body))


def test_output_comparison_catches_drift() -> None:
    documented = {"id": "x", "is_verified": True, "items": [{"role": "user"}]}
    assert_json_matches(documented, {"id": "y", "is_verified": True, "items": [{"role": "user"}]})
    for drifted in (
        {"id": "y", "is_verified": False, "items": [{"role": "user"}]},
        {"id": "y", "is_verified": True, "items": [{"role": "admin"}]},
        {"id": "y", "is_verified": True, "items": []},
        {"id": "y", "verified": True, "items": [{"role": "user"}]},
    ):
        with pytest.raises(AssertionError):
            assert_json_matches(documented, drifted)
    http = Block("http", "HTTP/1.1 403 Forbidden\ncontent-type: application/problem+json\n", 1)
    assert_output_matches(
        http, "HTTP/1.1 403 Forbidden\r\ncontent-type: application/problem+json\r\n\r\n{}"
    )
    with pytest.raises(AssertionError):
        assert_output_matches(
            http, "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\n\r\n"
        )


# -- Running the walk-through --------------------------------------------------------


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the doc shows HTTP, which every backend answers alike."""
    return f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"


def documented_superuser(markdown: str) -> tuple[str, str]:
    """The FIRST_SUPERUSER_* the doc starts its server with, so the test does the same."""
    email = re.search(r"FIRST_SUPERUSER_EMAIL=(\S+)", markdown)
    password = re.search(r"FIRST_SUPERUSER_PASSWORD='([^']+)'", markdown)
    assert email, "the doc starts the server with FIRST_SUPERUSER_EMAIL"
    assert password, "the doc starts the server with FIRST_SUPERUSER_PASSWORD='...'"
    return email[1], password[1]


@dataclass
class Walkthrough:
    """The live server, the SMTP server, and the variables the blocks share."""

    server: LiveServer
    smtp: SmtpTestServer
    codec: JwtTokenCodec
    superuser: tuple[str, str]
    workdir: Path
    variables: dict[str, str] = field(default_factory=dict)
    hooks_run: list[str] = field(default_factory=list)
    admin_token: str | None = field(default=None, init=False)

    def hooks(self) -> dict[str, Callable[[], None]]:
        """The reader's hand steps, each before the one block that contains its marker."""
        return {
            "/auth/verify-email": lambda: self._set_code("CODE", SUBJECT_VERIFY),
            "/auth/reset-password": lambda: self._set_code("RESET_CODE", SUBJECT_RESET),
            # The doc waits for the access token to expire before this one.
            'x-refresh: $REFRESH"': self._expire_access_token,
            # The doc shows the outbox once it has delivered everything.
            "/admin/emails": self.settle,
        }

    def before(self, block: Block) -> None:
        """Do what the reader does by hand before ``block``."""
        for marker, hook in self.hooks().items():
            if marker in block.text:
                hook()
                self.hooks_run.append(marker)

    def run(self, block: Block) -> str:
        script = block.text.replace(DOC_BASE, self.server.base_url)
        dump = self.workdir / "variables"
        completed = subprocess.run(  # noqa: S603 - bash running the repository's own doc
            [bash(), "-c", f'set -a -euo pipefail\n{script}\nenv -0 > "$DOC_VARIABLES_FILE"\n'],
            env={**shell_environment(), **self.variables, "DOC_VARIABLES_FILE": str(dump)},
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT_SECONDS,
            check=False,
        )
        assert completed.returncode == 0, (
            f"docs/API.md line {block.line}: exit status {completed.returncode}\n"
            f"--- block\n{script}\n--- stdout\n{completed.stdout}\n"
            f"--- stderr\n{completed.stderr}\n--- server\n{self.server.output[-4000:]}"
        )
        for entry in dump.read_text().split("\0"):
            name, sep, value = entry.partition("=")
            if sep and name not in SHELL_VARIABLES and name != "DOC_VARIABLES_FILE":
                self.variables[name] = value
        return completed.stdout

    def settle(self) -> None:
        """Wait until the outbox holds nothing pending or being sent."""
        deadline = datetime.now(UTC) + timedelta(seconds=SETTLE_SECONDS)
        with httpx.Client(base_url=self.server.base_url, timeout=5.0) as client:
            headers = {"Authorization": f"Bearer {self._admin(client)}"}
            while True:
                busy = [
                    client.get(
                        f"{V1}/admin/emails", params={"status": status, "limit": 1}, headers=headers
                    ).json()["items"]
                    for status in ("pending", "sending")
                ]
                if not any(busy):
                    return
                assert datetime.now(UTC) < deadline, f"the outbox did not empty: {busy}"
                time.sleep(POLL_SECONDS)

    def mails_to(self, address: str) -> list[str]:
        return [
            str(mail.message["Subject"])
            for mail in self.smtp.received
            if mail.rcpt_tos == [address]
        ]

    def _admin(self, client: httpx.Client) -> str:
        if self.admin_token is None:
            email, password = self.superuser
            response = client.post(
                f"{V1}/auth/login", data={"username": email, "password": password}
            )
            assert response.status_code == 200, response.text
            self.admin_token = str(response.json()["access_token"])
        return self.admin_token

    def _set_code(self, variable: str, subject: str) -> None:
        """The code in the newest email of this kind to $EMAIL, as the reader copies it.

        Requests naming an address are queued before their email is, so the outbox can
        be empty a moment before the email exists: wait for the email itself too.
        """
        address = self.variables["EMAIL"]
        deadline = datetime.now(UTC) + timedelta(seconds=SETTLE_SECONDS)
        while True:
            self.settle()
            mails = [
                mail
                for mail in self.smtp.received
                if mail.rcpt_tos == [address] and str(mail.message["Subject"]).startswith(subject)
            ]
            if mails or datetime.now(UTC) >= deadline:
                break
            time.sleep(POLL_SECONDS)
        assert mails, f"no email {subject!r}… reached {address}"
        self.variables[variable] = extract_code(mails[-1])

    def _expire_access_token(self) -> None:
        """$TOKEN as it is once expired: same session and claims, issued long enough ago."""
        self.variables["TOKEN"] = expired_copy(self.codec, self.variables["TOKEN"])


def shell_environment() -> dict[str, str]:
    """What a terminal brings along; nothing else, so an unset variable fails the block."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    return {name: os.environ[name] for name in keep if name in os.environ}


def bash() -> str:
    path = shutil.which("bash")
    assert path is not None
    return path


def codec_for(key_pems: KeyPems, data_dir: Path) -> JwtTokenCodec:
    """A codec with the server's keys, issuer and audience: it signs what the server signs."""
    keys = key_pems.ring(data_dir)
    keys.load()
    fields = Settings.model_fields
    return JwtTokenCodec(keys, fields["jwt_issuer"].default, fields["jwt_audience"].default)


def test_api_doc_runs_as_written(
    tmp_path: Path, database_url: str, key_pems: KeyPems, smtp_server: SmtpTestServer
) -> None:
    for tool in ("bash", "curl", "jq"):
        if shutil.which(tool) is None:
            pytest.skip(f"docs/API.md needs {tool} on PATH")
    markdown = API_DOC.read_text(encoding="utf-8")
    assert DOC_BASE in markdown, "the doc's commands point at DOC_BASE"
    superuser = documented_superuser(markdown)
    steps = steps_of(markdown)
    assert len(steps) >= 15, "the walk-through lost its steps"
    workdir = tmp_path / "shell"
    workdir.mkdir()
    (tmp_path / "server").mkdir()
    server = LiveServer(
        {
            "ENVIRONMENT": "test",
            "DATABASE_URL": database_url,
            "DATA_DIR": str(tmp_path / "server" / "data"),
            "ACCESS_TOKEN_PRIVATE_KEY": key_pems.access_private,
            "ACCESS_TOKEN_PUBLIC_KEY": key_pems.access_public,
            "REFRESH_TOKEN_PRIVATE_KEY": key_pems.refresh_private,
            "REFRESH_TOKEN_PUBLIC_KEY": key_pems.refresh_public,
            "SECRET_KEY": "docs-test-secret-key-of-at-least-32-characters",
            "FIRST_SUPERUSER_EMAIL": superuser[0],
            "FIRST_SUPERUSER_PASSWORD": superuser[1],
            "EMAIL_BACKEND": "smtp",
            "SMTP_HOST": smtp_server.host,
            "SMTP_PORT": str(smtp_server.port),
            "SMTP_TIMEOUT_SECONDS": "5",
            "OUTBOX_POLL_INTERVAL_SECONDS": "0.05",
            # The reader waits a minute before asking for a second code; the test does not.
            "OTP_RESEND_COOLDOWN_SECONDS": "0",
            # Cheap hashing keeps the test fast; the flow is the same.
            "ARGON2_MEMORY_KIB": "1024",
            "ARGON2_TIME_COST": "1",
            "PASSWORD_HASH_CONCURRENCY": "1",
            "LOG_LEVEL": "warning",
        },
        cwd=tmp_path / "server",
    )
    with server:
        walk = Walkthrough(
            server=server,
            smtp=smtp_server,
            codec=codec_for(key_pems, tmp_path / "keys"),
            superuser=superuser,
            workdir=workdir,
        )
        for step in steps:
            walk.before(step.command)
            output = walk.run(step.command)
            if step.expected is not None:
                try:
                    assert_output_matches(step.expected, output)
                except AssertionError as exc:
                    raise AssertionError(
                        f"docs/API.md line {step.expected.line}: the output differs from the "
                        f"doc: {exc}\n--- real output\n{output}"
                    ) from exc
        assert sorted(walk.hooks_run) == sorted(walk.hooks()), (
            "each hand step of the reader matches exactly one block"
        )
        walk.settle()
        subjects = walk.mails_to(walk.variables["EMAIL"])
    # The emails the doc promises, and no other: a code after registering and another
    # after the resend, the welcome once verified, the reset code, and the notice that
    # the password changed.
    kinds = [SUBJECT_VERIFY, SUBJECT_VERIFY, SUBJECT_WELCOME, SUBJECT_RESET, SUBJECT_CHANGED]
    received = [kind for subject in subjects for kind in set(kinds) if kind in subject]
    assert sorted(received) == sorted(kinds), subjects
    assert len(subjects) == len(kinds), subjects
