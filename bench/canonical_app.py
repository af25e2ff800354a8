"""The canonical Bolt-on-Lambda app, the baseline bench/lambda_cpu.py measures Signoff against.

Its shape is bolt-python's own Lambda example (github.com/slackapi/bolt-python,
examples/aws_lambda/lazy_aws_lambda.py): `App(process_before_response=True)`, a listener that
acks within Slack's 3 s and hands slow work to a lazy listener, and `SlackRequestHandler` in the
Lambda handler. Doing what Signoff's Approve button does: the action acks and opens a modal
(`views_open`); the lazy listener reads the Automation execution (`ssm.get_automation_execution`).
The token and signing secret come from one Secrets Manager read, at import, as most deployed
Bolt apps do it. Two departures from the example, both in its favour: INFO logging instead of its
DEBUG (Signoff's default level) and no request-logging middleware; and the Slack API URL from
SLACK_API_URL (the bench's emulator), which is Slack's own when unset.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import boto3
from slack_bolt import Ack, App
from slack_bolt.adapter.aws_lambda import SlackRequestHandler
from slack_sdk import WebClient

_secret = json.loads(
    boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["SLACK_SECRET_ARN"])[
        "SecretString"
    ]
)

# process_before_response must be True when running on FaaS
app = App(
    process_before_response=True,
    signing_secret=_secret["signing_secret"],
    client=WebClient(
        token=_secret["bot_token"],
        base_url=os.environ.get("SLACK_API_URL", WebClient.BASE_URL),
    ),
)


def open_decision(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    ack()
    client.views_open(
        trigger_id=body["trigger_id"],
        view={
            "type": "modal",
            "callback_id": "decision",
            "title": {"type": "plain_text", "text": "Approve"},
            "submit": {"type": "plain_text", "text": "Approve"},
            "blocks": [
                {
                    "type": "input",
                    "block_id": "comment",
                    "optional": True,
                    "label": {"type": "plain_text", "text": "Comment"},
                    "element": {"type": "plain_text_input", "action_id": "comment"},
                }
            ],
        },
    )


def read_execution(body: dict[str, Any]) -> None:
    execution_id = body["actions"][0]["value"].partition(":")[0]
    boto3.client("ssm").get_automation_execution(AutomationExecutionId=execution_id)


app.action("approval_approve")(ack=open_decision, lazy=[read_execution])

SlackRequestHandler.clear_all_log_handlers()  # type: ignore[no-untyped-call]
logging.basicConfig(format="%(asctime)s %(message)s", level=logging.INFO)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    slack_handler = SlackRequestHandler(app=app)
    return dict(slack_handler.handle(event, context))  # type: ignore[no-untyped-call]
