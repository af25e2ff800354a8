"""Headless Debian Chromium driven by Playwright, and a Slack emulator with the demo bot behind it.

Playwright's own browser download cannot work offline, so the tests launch the system Chromium
(`make chromium` installs it) and skip, saying so, only when it is missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from slack_sdk import WebClient

from sandbox.slack import BackgroundServer, SlackEmulator
from sandbox.slack.demo_bot import serve_demo_bot

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "xoxb-browser-test-token"
SECRET = "browser-test-signing-secret"
TIMEOUT_MS = 5000  # a user-visible change that takes longer is a failure, not a wait


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (run `make chromium`)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    """A fresh emulator wired to the demo bot (`/demo`, Approve, Reject → modal)."""
    emulator = SlackEmulator(signing_secret=SECRET, bot_token=TOKEN)
    emulator.start()
    bot: BackgroundServer = serve_demo_bot(
        api_url=emulator.api_url, bot_token=TOKEN, signing_secret=SECRET
    )
    emulator.configure(bot_url=f"{bot.url}/slack/events")
    try:
        yield emulator
    finally:
        bot.stop()
        emulator.stop()


@pytest.fixture
def bot_client(slack: SlackEmulator) -> WebClient:
    """The Web API as the bot sees it, for putting things on the page directly."""
    return WebClient(token=TOKEN, base_url=slack.api_url)


@pytest.fixture
def page(browser: Browser, slack: SlackEmulator) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.goto(slack.url + "/")
    try:
        yield opened
    finally:
        context.close()
    assert errors == [], f"the page threw: {errors}"
