"""The App Home tab on the sandbox's Slack page: alice opens it, approves from it, and sees the
approval decided, with the bot from `signoff sandbox` behind the page."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import TIMEOUT_MS
from tests.browser.test_sandbox_page import FLOW_TIMEOUT_MS, TEST_OUTPUT, act_as
from tests.e2e.conftest import SandboxClient

pytestmark = pytest.mark.browser


@pytest.fixture
def sandbox(running_sandbox: object) -> SandboxClient:
    client = SandboxClient(
        aws_url=running_sandbox.aws_url,  # type: ignore[attr-defined]
        slack_url=running_sandbox.slack_url,  # type: ignore[attr-defined]
    )
    stack = client.aws("cloudformation").describe_stacks(StackName="signoff")["Stacks"][0]
    client.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    return client


@pytest.fixture
def home_page(browser: Browser, sandbox: SandboxClient) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1500, "height": 950})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(sandbox.slack_url + "/")
    try:
        yield page
    finally:
        context.close()
    assert errors == [], f"the page threw: {errors}"


def test_alice_approves_from_the_home_tab_and_sees_it_decided(
    home_page: Page, sandbox: SandboxClient, tmp_path: Path
) -> None:
    page = home_page
    execution_id = sandbox.start_approval("Deploy build 99 from the Home tab")
    act_as(page, "alice")

    page.get_by_test_id("home-tab").click()

    home = page.get_by_test_id("home-view")
    expect(home).to_contain_text("Waiting for you", timeout=FLOW_TIMEOUT_MS)
    expect(home).to_contain_text("Deploy build 99 from the Home tab")
    entry_buttons = home.locator(".b-actions").filter(
        has=page.locator(f'[data-block-id*="{execution_id}"]')
    )
    entry_buttons.get_by_role("button", name="Approve").click()
    modal = page.get_by_role("dialog", name="Approve")
    modal.get_by_label("Comment (optional)").fill("approved from home")
    modal.get_by_role("button", name="Approve").click()
    expect(modal).to_have_count(0)

    # The Home redraws by itself: the approval leaves the list and shows under her decisions.
    expect(home).not_to_contain_text("Deploy build 99 from the Home tab", timeout=FLOW_TIMEOUT_MS)
    expect(home).to_contain_text("approved from home")
    assert sandbox.execution(execution_id)["AutomationExecutionStatus"] == "Success"

    shot = tmp_path / "sandbox-home-tab-approved.png"
    page.screenshot(path=str(shot), full_page=True)
    TEST_OUTPUT.mkdir(exist_ok=True)
    shutil.copy(shot, TEST_OUTPUT / shot.name)
