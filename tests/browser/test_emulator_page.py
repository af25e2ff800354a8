"""The emulator's page as a person uses it: act as someone, run a command, click, fill a modal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from slack_sdk import WebClient

from sandbox.slack import SlackEmulator, demo_workspace

pytestmark = pytest.mark.browser


PEOPLE = {u.name: u for u in demo_workspace().users}


def act_as(page: Page, name: str) -> None:
    person = PEOPLE[name]
    page.get_by_label("Acting as").select_option(label=f"{person.name} — {person.real_name}")


def run_command(page: Page, text: str) -> None:
    composer = page.get_by_label("Message or slash command")
    composer.fill(text)
    composer.press("Enter")
    expect(composer).to_have_value("")


def card(page: Page, mentioning: str) -> Locator:
    return page.get_by_test_id("message").filter(has_text=f"@{mentioning} asks to run")


def test_a_person_runs_a_command_approves_and_rejects_through_a_modal(
    page: Page, tmp_path: Path
) -> None:
    act_as(page, "dave")
    run_command(page, "/demo")

    note = page.get_by_test_id("ephemeral")
    expect(note).to_contain_text("Only visible to you")
    expect(note).to_contain_text("Posting a demo approval…")
    dave_card = card(page, "dave")
    expect(dave_card).to_contain_text("Approval needed: rotate key")

    act_as(page, "alice")
    expect(page.get_by_test_id("ephemeral")).to_have_count(0)  # dave's note is dave's alone
    dave_card.get_by_role("button", name="Approve").click()
    expect(dave_card).to_contain_text("Approved by @alice")
    expect(dave_card).to_contain_text("(edited)")
    expect(dave_card.get_by_role("button", name="Approve")).to_have_count(0)

    run_command(page, "/demo")
    alice_card = card(page, "alice")
    alice_card.get_by_role("button", name="Reject").click()
    confirm = page.get_by_role("alertdialog", name="Reject this request?")
    confirm.get_by_role("button", name="Reject").click()

    modal = page.get_by_role("dialog", name="Reject request")
    expect(modal).to_be_visible()
    modal.get_by_label("Why reject?").fill("no")
    modal.get_by_role("button", name="Reject").click()
    expect(modal.get_by_role("alert")).to_have_text("Say a little more (5+ characters).")
    expect(modal.get_by_label("Why reject?")).to_have_value("no")

    modal.get_by_label("Why reject?").fill("Not during the <b>freeze</b>")
    modal.get_by_role("button", name="Reject").click()
    expect(modal).to_have_count(0)
    expect(alice_card).to_contain_text("Rejected by @alice")

    alice_card.get_by_role("button", name=re.compile("1 reply")).click()
    thread = page.get_by_role("complementary", name="Thread")
    expect(thread).to_contain_text("@alice rejected: Not during the <b>freeze</b>")

    page.get_by_role("link", name="Signoff").click()
    expect(page.get_by_role("main").get_by_test_id("message")).to_contain_text(
        "You rejected the request: Not during the <b>freeze</b>"
    )

    page.get_by_role("link", name="approvals", exact=True).click()
    shot = tmp_path / "emulator.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_text_from_bots_and_people_is_shown_never_run(page: Page, bot_client: WebClient) -> None:
    hostile = '<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script>'
    bot_client.chat_postMessage(
        channel="approvals",
        text=hostile,
        blocks=[
            {"type": "header", "text": {"type": "plain_text", "text": "<b>not bold</b>"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{hostile}*"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "<javascript:alert(1)|click>"}},
        ],
    )

    posted = page.get_by_test_id("message")
    expect(posted).to_contain_text("<b>not bold</b>")
    expect(posted).to_contain_text('<img src=x onerror="window.__pwned=1">')
    assert page.locator("img[src='x']").count() == 0
    assert page.get_by_role("link", name="click").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_the_page_follows_slack_live_and_renders_block_kit(
    page: Page, bot_client: WebClient
) -> None:
    bot_client.chat_postMessage(
        channel="approvals-level2",
        text="Level 2 needs you",
        blocks=[
            {"type": "header", "text": {"type": "plain_text", "text": "Level 2 approval"}},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "Runbook `Deploy` by <@U0BOB> — <https://example.com/x|details>",
                },
                "fields": [{"type": "mrkdwn", "text": "*Approvers*\n_two_ of three"}],
            },
            {"type": "divider"},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "Times out in 1 hour"}]},
        ],
    )

    channel = page.get_by_role("link", name="approvals-level2")
    expect(channel).to_have_class(re.compile("unread"))
    channel.click()
    message = page.get_by_test_id("message")
    expect(message.locator(".b-header")).to_have_text("Level 2 approval")
    expect(message.locator("code")).to_have_text("Deploy")
    expect(message.locator(".mention")).to_have_text("@bob")
    expect(message.get_by_role("link", name="details")).to_have_attribute(
        "href", "https://example.com/x"
    )
    expect(message.locator("b", has_text="Approvers")).to_be_visible()
    expect(message.locator("i")).to_have_text("two")
    expect(message).to_contain_text("Times out in 1 hour")


def test_a_bot_that_does_not_answer_is_reported_like_slack_does(
    page: Page, slack: SlackEmulator
) -> None:
    slack.configure(bot_url="http://127.0.0.1:9/slack/events")  # nothing listens on port 9

    run_command(page, "/demo")

    note = page.get_by_test_id("ephemeral")
    expect(note).to_contain_text('/demo failed with the error "dispatch_failed"')
    expect(note).to_contain_text("Slackbot")
    expect(page.get_by_role("status")).to_contain_text("didn't respond")
