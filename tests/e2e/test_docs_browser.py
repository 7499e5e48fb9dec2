"""End to end: in a real browser, a person authorizes in /docs and sees their own account.

The app runs as a real server (uvicorn in a subprocess, a fresh SQLite file) in
development mode; the browser is Debian's headless Chromium, driven by Playwright (whose
own browser download cannot reach this network). The browser test skips where Chromium
is not installed; CI installs it (.ci/run). A quick check without a browser, that the
pages' assets are the app's own, runs everywhere.
"""

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.helpers import V1
from tests.conftest import DEFAULT_PASSWORD, KeyPems
from tests.live_server import LiveServer

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Error,
    Page,
    Request,
    Response,
    expect,
    sync_playwright,
)

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium (apt-get install chromium; .ci/run does)"
)

EMAIL = "docs-reader@example.com"
ME = f"{V1}/users/me"
LOGIN = f"{V1}/auth/login"
# Each step is quick on an idle machine; these leave room for a busy one.
STEP_MS = 5_000
PAGE_LOAD_MS = 15_000
LAUNCH_MS = 20_000
# Under X-Content-Type-Options: nosniff a browser runs or applies nothing else.
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


@pytest.fixture
def server(tmp_path: Path, key_pems: KeyPems) -> Iterator[LiveServer]:
    """The app as `make run` serves it, launched but not waited for: the browser
    starts meanwhile, and the test waits for both."""
    env = {
        "ENVIRONMENT": "development",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
        "DATA_DIR": str(tmp_path / "data"),
        "ACCESS_TOKEN_PRIVATE_KEY": key_pems.access_private,
        "ACCESS_TOKEN_PUBLIC_KEY": key_pems.access_public,
        "REFRESH_TOKEN_PRIVATE_KEY": key_pems.refresh_private,
        "REFRESH_TOKEN_PUBLIC_KEY": key_pems.refresh_public,
        "SECRET_KEY": "docs-browser-secret-key-of-32-chars-or-more",
        "AUTH_REQUIRE_VERIFIED_EMAIL": "false",
        "EMAIL_WORKER_ENABLED": "false",
        "ARGON2_MEMORY_KIB": "1024",
        "ARGON2_TIME_COST": "1",
        "LOG_LEVEL": "warning",
    }
    work = tmp_path / "cwd"
    work.mkdir()
    live = LiveServer(env, cwd=work)
    live.launch()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def browser(server: LiveServer) -> Iterator[Browser]:
    """Headless Chromium; takes ``server`` only so that the server launches first."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, timeout=LAUNCH_MS
        )
        try:
            yield chromium
        finally:
            chromium.close()


def watch_for_trouble(page: Page, origin: str) -> list[str]:
    """Console errors (a refused content policy shows there too), uncaught exceptions,
    failed requests, error answers, and any request that leaves the server: a page that
    needs the internet is broken offline."""
    trouble: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            trouble.append(f"console error: {message.text}")

    def on_request(request: Request) -> None:
        if not request.url.startswith((f"{origin}/", "data:", "blob:")):
            trouble.append(f"off-site request: {request.url}")

    def on_request_failed(request: Request) -> None:
        trouble.append(f"failed request: {request.url} ({request.failure})")

    def on_response(response: Response) -> None:
        if response.status >= 400:
            trouble.append(f"HTTP {response.status}: {response.url}")

    def on_page_error(error: Error) -> None:
        trouble.append(f"uncaught: {error}")

    page.on("console", on_console)
    page.on("request", on_request)
    page.on("requestfailed", on_request_failed)
    page.on("response", on_response)
    page.on("pageerror", on_page_error)
    return trouble


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_docs_pages_load_only_the_apps_own_assets(
    client: httpx.AsyncClient, path: str
) -> None:
    """Without a browser: every script, style sheet and icon the page names is served by
    the app, with a type that nosniff lets the browser use."""
    page = await client.get(path)
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert any(asset.endswith(".js") for asset in assets), page.text
    for asset in assets:
        assert asset.startswith("/"), f"{path} loads {asset} from elsewhere"
        response = await client.get(asset)
        assert response.status_code == 200, asset
        media_type = response.headers["content-type"].split(";")[0]
        assert media_type == ASSET_TYPES[Path(asset).suffix], asset


@needs_chromium
def test_authorize_in_the_docs_and_get_users_me(server: LiveServer, browser: Browser) -> None:
    server.wait_ready()
    registered = httpx.post(
        f"{server.base_url}{V1}/auth/register",
        json={"email": EMAIL, "password": DEFAULT_PASSWORD},
        timeout=10,
    )
    assert registered.status_code == 201, registered.text

    page = browser.new_page()
    page.set_default_timeout(STEP_MS)
    page.set_default_navigation_timeout(PAGE_LOAD_MS)
    trouble = watch_for_trouble(page, server.base_url)

    page.goto(f"{server.base_url}/docs", wait_until="load")
    authorize = page.locator("button.btn.authorize")
    expect(authorize).to_be_visible(timeout=PAGE_LOAD_MS)

    # The OAuth2 password flow: Swagger posts the form to tokenUrl, the login route.
    authorize.click()
    dialog = page.locator(".dialog-ux .modal-ux")
    dialog.locator("#oauth_username").fill(EMAIL)
    dialog.locator("#oauth_password").fill(DEFAULT_PASSWORD)
    with page.expect_response(lambda r: r.url == f"{server.base_url}{LOGIN}") as login:
        dialog.locator(".auth-btn-wrapper button.authorize").click()
    assert login.value.status == 200
    sent = login.value.request
    assert sent.header_value("content-type") == "application/x-www-form-urlencoded"
    assert sent.post_data_json["username"] == EMAIL
    expect(dialog.get_by_role("button", name="Remove authorization")).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    expect(authorize).to_have_class(re.compile(r"\blocked\b"))

    operation = page.locator(
        ".opblock.opblock-get", has=page.locator(f'.opblock-summary-path[data-path="{ME}"]')
    )
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    with page.expect_response(lambda r: r.url == f"{server.base_url}{ME}") as called:
        operation.locator("button.execute").click()
    me: Response = called.value
    assert me.status == 200
    assert (me.request.header_value("authorization") or "").startswith("Bearer ")
    assert me.json()["email"] == EMAIL

    # What the person sees: the live response, its status and their own email.
    live = operation.locator(".live-responses-table .response")
    expect(live.locator(".response-col_status")).to_have_text("200")
    body = live.locator(".response-col_description .highlight-code code")
    expect(body).to_contain_text(EMAIL)
    assert json.loads(body.inner_text())["email"] == EMAIL
    assert trouble == []
