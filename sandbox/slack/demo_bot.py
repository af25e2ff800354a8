"""A tiny Bolt app that uses every surface the emulator offers, so it can be tried without AWS.

`python -m sandbox.slack --demo-bot` runs it beside the emulator; the emulator's own tests use
it as their bot. `/demo` posts an approval card; Approve updates it and replies in its thread;
Reject opens a modal asking why (too short a reason is refused inline), then DMs the rejecter;
`/demo modal` opens the modal straight from the command.
"""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from sandbox.slack.server import BackgroundServer

COMMAND = "/demo"
APPROVE = "demo_approve"
REJECT = "demo_reject"
REASON_VIEW = "demo_reason"
REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"
MIN_REASON = 5


def card(requester: str, state: str = "waiting", by: str | None = None) -> list[dict[str, Any]]:
    """The approval card; `state` is waiting, approved or rejected."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Approval needed: rotate key"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*<@{requester}>* asks to run `RotateAccessKey`."},
            "fields": [
                {"type": "mrkdwn", "text": "*Runbook*\nAutomation-RotateKey"},
                {"type": "mrkdwn", "text": "*Approvals*\n1 of 1 needed"},
            ],
        },
    ]
    if state == "waiting":
        blocks.append(
            {
                "type": "actions",
                "block_id": "decision",
                "elements": [
                    {
                        "type": "button",
                        "action_id": APPROVE,
                        "text": {"type": "plain_text", "text": "Approve"},
                        "style": "primary",
                        "value": requester,
                    },
                    {
                        "type": "button",
                        "action_id": REJECT,
                        "text": {"type": "plain_text", "text": "Reject"},
                        "style": "danger",
                        "value": requester,
                        "confirm": {
                            "title": {"type": "plain_text", "text": "Reject this request?"},
                            "text": {"type": "mrkdwn", "text": "You will be asked why."},
                            "confirm": {"type": "plain_text", "text": "Reject"},
                            "deny": {"type": "plain_text", "text": "Keep it"},
                        },
                    },
                ],
            }
        )
    else:
        mark = ":white_check_mark: Approved" if state == "approved" else ":x: Rejected"
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{mark} by <@{by}>"}]}
        )
    return blocks


def reason_modal(channel: str, ts: str, requester: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": REASON_VIEW,
        "title": {"type": "plain_text", "text": "Reject request"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        # Only ids travel in private_metadata, never secrets (DESIGN §3).
        "private_metadata": json.dumps({"channel": channel, "ts": ts, "requester": requester}),
        "blocks": [
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "label": {"type": "plain_text", "text": "Why reject?"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_INPUT,
                    "multiline": True,
                    "placeholder": {"type": "plain_text", "text": "Tell the requester why"},
                },
                "hint": {"type": "plain_text", "text": "The requester sees this in the thread."},
            }
        ],
    }


def build_demo_app(*, api_url: str, bot_token: str, signing_secret: str) -> App:
    """The Bolt app, talking to the emulator's Web API at `api_url`."""
    app = App(
        signing_secret=signing_secret,
        client=WebClient(token=bot_token, base_url=api_url),
        token_verification_enabled=False,
    )

    @app.command(COMMAND)
    def on_command_demo(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        if body.get("text", "").strip() == "modal":
            client.views_open(
                trigger_id=body["trigger_id"],
                view=reason_modal(body["channel_id"], "", body["user_id"]),
            )
            ack()
            return
        ack(text="Posting a demo approval…")
        client.chat_postMessage(
            channel=body["channel_id"],
            text="Approval needed: rotate key",
            blocks=card(body["user_id"]),
        )

    @app.action(APPROVE)
    def on_action_approve(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        channel, ts, user = body["channel"]["id"], body["message"]["ts"], body["user"]["id"]
        requester = body["actions"][0]["value"]
        client.chat_update(
            channel=channel, ts=ts, text="Approved", blocks=card(requester, "approved", user)
        )
        client.chat_postMessage(channel=channel, thread_ts=ts, text=f"<@{user}> approved.")

    @app.action(REJECT)
    def on_action_reject(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        # views.open inside the ack window: the trigger_id lives 3 seconds.
        client.views_open(
            trigger_id=body["trigger_id"],
            view=reason_modal(
                body["channel"]["id"], body["message"]["ts"], body["actions"][0]["value"]
            ),
        )
        ack()

    @app.view(REASON_VIEW)
    def on_view_reason(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        reason = view["state"]["values"][REASON_BLOCK][REASON_INPUT]["value"] or ""
        if len(reason.strip()) < MIN_REASON:
            ack(
                response_action="errors",
                errors={REASON_BLOCK: f"Say a little more ({MIN_REASON}+ characters)."},
            )
            return
        ack()
        where = json.loads(view["private_metadata"])
        user = body["user"]["id"]
        if where["ts"]:
            client.chat_update(
                channel=where["channel"],
                ts=where["ts"],
                text="Rejected",
                blocks=card(where["requester"], "rejected", user),
            )
            client.chat_postMessage(
                channel=where["channel"],
                thread_ts=where["ts"],
                text=f"<@{user}> rejected: {reason}",
            )
        dm = client.conversations_open(users=user)["channel"]["id"]
        client.chat_postMessage(channel=dm, text=f"You rejected the request: {reason}")

    return app


def serve_demo_bot(
    *, api_url: str, bot_token: str, signing_secret: str, host: str = "127.0.0.1", port: int = 0
) -> BackgroundServer:
    """Start the demo bot on a threaded server; its Request URL is `<server.url>/slack/events`."""
    handler = SlackRequestHandler(
        build_demo_app(api_url=api_url, bot_token=bot_token, signing_secret=signing_secret)
    )
    server = BackgroundServer(handler, host, port)
    server.start()
    return server
