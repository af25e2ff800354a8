"""Slack glue for `/request-key`: the command, its form, and starting the request."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import views
from bot.access_keys import KeyRequestRefused, KeyRequestService, read_command
from bot.errors import ServiceError, UserFacingError

logger = logging.getLogger(__name__)


def register(app: App, keys: KeyRequestService) -> None:
    """Wire `/request-key` and its modal to the key request service."""

    def on_command_request_key(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        ack()
        if not command.get("text", "").strip():
            # trigger_id lives 3 seconds: the form opens here, after one identities read (the
            # requester's own IAM user fills the field) and before any other AWS call.
            own = keys.own_iam_user(command["user_id"])
            client.views_open(trigger_id=command["trigger_id"], view=views.key_request_modal(own))

    def on_command_request_key_start(command: dict[str, Any], respond: Respond) -> None:
        iam_user, reason = read_command(command.get("text", ""))
        if not iam_user:
            return  # the form is open; submitting it starts the request
        try:
            request = keys.request(command["user_id"], iam_user, reason)
        except UserFacingError as refusal:
            respond(text=views.key_request_refused_text(str(refusal)))
            return
        except ServiceError as failure:
            # Bolt swallows a lazy listener's exception: unless told here, nobody would know.
            logger.warning("key request not started", exc_info=True)
            respond(text=views.key_request_refused_text(str(failure)))
            return
        respond(text=views.key_request_started_text(request))

    def on_modal_key_request_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        # Checked and started inside the ack, unlike the command: only the ack can put a refusal
        # under the field it is about, and a lazy start could not tell a race from a refusal the
        # form has already shown. A handful of quick reads and one StartAutomationExecution.
        try:
            request = keys.request(body["user"]["id"], *_form(view))
        except KeyRequestRefused as refusal:
            ack(
                response_action="errors",
                errors=views.key_request_errors(refusal.field, str(refusal)),
            )
            return
        except UserFacingError as refusal:
            ack(
                response_action="update",
                view=views.notice_modal("Not started", views.escape_message(str(refusal))),
            )
            return
        except ServiceError as failure:
            # Unanswered, the form would show Slack's own "trouble connecting" and nothing more.
            logger.warning("key request not started", exc_info=True)
            ack(
                response_action="update",
                view=views.notice_modal("Not started", views.escape_message(str(failure))),
            )
            return
        ack(response_action="update", view=views.key_request_started_modal(request))

    app.command(views.COMMAND_REQUEST_KEY)(
        ack=on_command_request_key, lazy=[on_command_request_key_start]
    )
    app.view(views.VIEW_KEY_REQUEST)(on_modal_key_request_submit)


def _form(view: dict[str, Any]) -> tuple[str, str]:
    values = view.get("state", {}).get("values", {})

    def value(block: str, action: str) -> str:
        return str(values.get(block, {}).get(action, {}).get("value") or "")

    return (
        value(views.KEY_USER_BLOCK, views.KEY_USER_ACTION),
        value(views.KEY_REASON_BLOCK, views.KEY_REASON_ACTION),
    )
