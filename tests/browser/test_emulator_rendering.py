"""How the emulator's page shows what Slack's clients show: dates in the reader's time zone, emoji
as emoji, and whether it is live."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from slack_sdk import WebClient

from sandbox.slack import SlackEmulator
from tests.browser.conftest import TIMEOUT_MS

pytestmark = pytest.mark.browser

# 2014-02-18 14:39:42 UTC, Slack's own example in its date-formatting docs.
STAMP = 1392734382
DATE_TEXT = f"Times out <!date^{STAMP}^{{date_short}} {{time}}|Feb 18, 2014 14:39 UTC>."


@pytest.fixture
def page_in() -> Iterator[Callable[[str], Page]]:
    """A page opened by a reader in a given time zone."""
    opened: list[object] = []

    def open_page(browser: Browser, slack: SlackEmulator, time_zone: str) -> Page:
        context = browser.new_context(timezone_id=time_zone, locale="en-US")
        context.set_default_timeout(TIMEOUT_MS)
        opened.append(context)
        page = context.new_page()
        page.goto(slack.url + "/#channel=C0APPROVALS")
        return page

    yield open_page  # type: ignore[misc]
    for context in opened:
        context.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("time_zone", "shown"),
    [("Asia/Tokyo", "Feb 18, 2014 11:39 PM"), ("America/New_York", "Feb 18, 2014 9:39 AM")],
)
def test_a_date_token_shows_in_the_readers_time_zone(
    browser: Browser,
    slack: SlackEmulator,
    bot_client: WebClient,
    page_in: Callable[..., Page],
    time_zone: str,
    shown: str,
) -> None:
    bot_client.chat_postMessage(channel="C0APPROVALS", text=DATE_TEXT)
    page = page_in(browser, slack, time_zone)

    message = page.get_by_test_id("message").filter(has_text="Times out")
    expect(message).to_contain_text(f"Times out {shown}.")
    expect(message.locator(".mention")).to_have_count(0)  # not a yellow "@date" mention
    expect(message.locator(".date-token")).to_have_attribute("title", "Feb 18, 2014 14:39 UTC")


def test_a_date_token_says_today_and_falls_back_when_broken(
    browser: Browser, slack: SlackEmulator, bot_client: WebClient, page_in: Callable[..., Page]
) -> None:
    import time

    now = int(time.time())
    bot_client.chat_postMessage(
        channel="C0APPROVALS",
        text=f"Due <!date^{now}^{{date_short_pretty}}|soon>; broken <!date^never^{{date}}|later>",
    )
    page = page_in(browser, slack, "UTC")

    expect(page.get_by_test_id("message").filter(has_text="Due")).to_contain_text(
        "Due Today; broken later"
    )


def test_emoji_shortcodes_show_as_color_emoji(page: Page, bot_client: WebClient) -> None:
    bot_client.chat_postMessage(channel="C0APPROVALS", text=":white_check_mark: Approved")
    page.goto(page.url.split("#")[0] + "#channel=C0APPROVALS")

    message = page.get_by_test_id("message").filter(has_text="Approved")
    expect(message).to_contain_text("✅ Approved")
    # Drawn with the page's own fonts: a color emoji font paints colored pixels (a green box),
    # a missing glyph (tofu) or a monochrome font only greys.
    colored = page.evaluate(
        """() => {
          const canvas = document.createElement("canvas");
          canvas.width = canvas.height = 64;
          const ctx = canvas.getContext("2d");
          ctx.font = `48px ${getComputedStyle(document.body).fontFamily}`;
          ctx.textBaseline = "top";
          ctx.fillText("\\u2705", 4, 4);
          const data = ctx.getImageData(0, 0, 64, 64).data;
          let count = 0;
          for (let i = 0; i < data.length; i += 4) {
            const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
            if (a > 200 && Math.max(r, g, b) - Math.min(r, g, b) > 60) count++;
          }
          return count;
        }"""
    )
    assert colored > 500, "no emoji font: `make chromium` installs fonts-noto-color-emoji"


def test_a_quiet_page_says_live_at_once(page: Page) -> None:
    # Nothing happens in the workspace: the page must not wait out a long poll to say so.
    expect(page.locator("#live-text")).to_have_text("Live", timeout=3000)
    expect(page.locator("#live-dot")).not_to_have_class("off")
