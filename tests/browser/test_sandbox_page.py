"""The sandbox's Slack page as an approver uses it: dave asks for a key, alice approves it.

Everything behind the page is `signoff sandbox`: the template deployed into the local AWS, the
bot behind its Function URL, the access-key runbook and its issuer.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from sandbox.slack import demo_workspace
from tests.browser.conftest import TIMEOUT_MS

pytestmark = pytest.mark.browser

PEOPLE = {u.name: u for u in demo_workspace().users}
TEST_OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
# The approval runs a runbook, a Lambda and a DM after the click: more than one page update.
FLOW_TIMEOUT_MS = 15_000


@pytest.fixture
def sandbox_page(browser: Browser, running_sandbox: object) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1500, "height": 950})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(running_sandbox.slack_url + "/")  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()
    assert errors == [], f"the page threw: {errors}"


def act_as(page: Page, name: str) -> None:
    person = PEOPLE[name]
    page.get_by_label("Acting as").select_option(label=f"{person.name} — {person.real_name}")


def test_dave_requests_a_key_alice_approves_with_a_comment(
    sandbox_page: Page, tmp_path: Path
) -> None:
    page = sandbox_page
    page.get_by_role("link", name="approvals", exact=True).click()
    act_as(page, "dave")
    composer = page.get_by_label("Message or slash command")
    composer.fill("/request-key dave CI deploy key")
    composer.press("Enter")
    expect(composer).to_have_value("")

    card = page.get_by_role("main").get_by_test_id("message").filter(has_text="CI deploy key")
    expect(card).to_have_count(1, timeout=FLOW_TIMEOUT_MS)
    expect(card).to_contain_text("0 of 1 approval")

    act_as(page, "alice")
    card.get_by_role("button", name="Approve").click()
    modal = page.get_by_role("dialog", name="Approve")
    modal.get_by_label("Comment (optional)").fill("OK for the CI pipeline")
    modal.get_by_role("button", name="Approve").click()
    expect(modal).to_have_count(0)

    expect(card).to_contain_text("Approved", timeout=FLOW_TIMEOUT_MS)
    expect(card.get_by_role("button", name="Approve")).to_have_count(0)
    card.get_by_role("button", name="replies").click()
    thread = page.get_by_role("complementary", name="Thread")
    expect(thread).to_contain_text("approved: OK for the CI pipeline")
    issued = thread.get_by_test_id("message").filter(has_text="dave/access-key-")
    expect(issued).to_have_count(1, timeout=FLOW_TIMEOUT_MS)
    issued.scroll_into_view_if_needed()

    shot = tmp_path / "sandbox-key-approved.png"
    page.screenshot(path=str(shot), full_page=True)
    TEST_OUTPUT.mkdir(exist_ok=True)
    shutil.copy(shot, TEST_OUTPUT / shot.name)
