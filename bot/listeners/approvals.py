"""Slack glue for approval cards: the Approve / Reject buttons and the decision modal."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot import views
from bot.approvals import ApprovalService
from bot.errors import ServiceError, UserFacingError
from bot.events import is_execution_id
from bot.gateways.slack import SlackGateway
from bot.models import DecisionTarget, Verdict

logger = logging.getLogger(__name__)


def register(app: App, approvals: ApprovalService, slack: SlackGateway) -> None:
    """Wire the card's buttons and the decision modal to the approval service."""

    def on_card_approve_click(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        if _is_card_click(body):
            _open_decision_modal(client, body, Verdict.APPROVE)

    def on_card_reject_click(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        if _is_card_click(body):
            _open_decision_modal(client, body, Verdict.REJECT)

    def on_card_click_check(body: dict[str, Any]) -> None:
        # Lazy: tell a person at once when they cannot decide, before they type a comment.
        target = _target_from_click(body)
        user = body["user"]["id"]
        if not _is_card_click(body):
            # Nothing to ask SSM about; the person still learns why nothing opened.
            refusal = f"No automation execution {target.execution_id!r}."
            slack.ephemeral(target.channel, user, views.refusal_text(refusal))
            return
        try:
            approvals.check(user, target.execution_id, target.step_name)
        except ServiceError:
            # AWS or Slack failing now says nothing about this person; the decision will try again.
            logger.warning("could not check the click in advance", exc_info=True)
        except UserFacingError as refusal:
            # The modal may be closed, already submitted, or Slack busy (a burst of clicks): the
            # private note is what tells the person either way.
            show_refusal_in_modal(slack, body, refusal)
            slack.ephemeral(target.channel, user, views.refusal_text(str(refusal)))

    def on_decision_submit(ack: Ack, view: dict[str, Any]) -> None:
        target = DecisionTarget.loads(view["private_metadata"])
        errors = views.comment_errors(target.verdict, _comment(view))
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()

    def on_decision_send(body: dict[str, Any], view: dict[str, Any]) -> None:
        # Lazy: the decision goes to SSM after the modal has closed (Slack's 3-second budget).
        target = DecisionTarget.loads(view["private_metadata"])
        comment = _comment(view)
        if views.comment_errors(target.verdict, comment):
            # Bolt starts a listener's lazy functions whatever its ack answered
            # (slack_bolt/listener/thread_runner.py, ThreadListenerRunner.run): the modal
            # refused this submission and stays open, so nothing may be sent.
            logger.info("decision refused by its modal; not sent")
            return
        if not is_execution_id(target.execution_id):
            logger.warning("decision for something that is not an SSM execution; ignored")
            return
        user = body["user"]["id"]
        try:
            approvals.decide(
                user, target.execution_id, target.step_name, target.verdict, comment.strip()
            )
        except UserFacingError as refusal:
            slack.ephemeral(target.channel, user, views.refusal_text(str(refusal)))
        except ServiceError as failure:
            # Bolt swallows a lazy listener's exception: unless told here, nobody would know.
            logger.warning("decision not sent", exc_info=True)
            slack.ephemeral(
                target.channel,
                user,
                f":warning: Your decision was not sent. {views.escape_message(str(failure))}",
            )

    app.action(views.ACTION_APPROVE)(ack=on_card_approve_click, lazy=[on_card_click_check])
    app.action(views.ACTION_REJECT)(ack=on_card_reject_click, lazy=[on_card_click_check])
    app.view(views.VIEW_DECISION)(ack=on_decision_submit, lazy=[on_decision_send])


def _is_card_click(body: dict[str, Any]) -> bool:
    """Whether the button's value names an SSM execution (the card's own buttons all do)."""
    execution_id, _ = views.parse_card_value(str(body["actions"][0].get("value") or ""))
    if is_execution_id(execution_id):
        return True
    # Only a hand-made request (signed, so from this app's Slack) carries anything else.
    logger.warning("click on a value that names no SSM execution; ignored")
    return False


def _open_decision_modal(client: WebClient, body: dict[str, Any], verdict: Verdict) -> None:
    # trigger_id lives 3 seconds: the modal opens in the ack function, with no AWS call first.
    target = _target_from_click(body, verdict)
    view = views.decision_modal(target, _card_summary(body), modal_external_id(body))
    client.views_open(trigger_id=body["trigger_id"], view=view)


def _target_from_click(body: dict[str, Any], verdict: Verdict = Verdict.APPROVE) -> DecisionTarget:
    action = body["actions"][0]
    execution_id, step = views.parse_card_value(str(action.get("value") or ""))
    container = body.get("container", {})
    return DecisionTarget(
        execution_id=execution_id,
        step_name=step,
        verdict=verdict,
        channel=container.get("channel_id") or body["channel"]["id"],
        ts=container.get("message_ts") or body["message"]["ts"],
    )


def modal_external_id(body: dict[str, Any]) -> str:
    """The decision modal's id: unique per click, so the lazy check can replace exactly the
    modal this click opened."""
    return f"decide:{body['user']['id']}:{body['actions'][0]['action_ts']}"


def show_refusal_in_modal(slack: SlackGateway, body: dict[str, Any], refusal: Exception) -> bool:
    """Replace the modal this click opened with why not; False when Slack would not."""
    try:
        slack.update_view(
            views.notice_modal("Not possible", views.escape_message(str(refusal))),
            external_id=modal_external_id(body),
        )
    except ServiceError:
        logger.warning("could not replace the decision modal", exc_info=True)
        return False
    return True


def _card_summary(body: dict[str, Any]) -> str:
    blocks = body.get("message", {}).get("blocks") or []
    header = next((b for b in blocks if b.get("type") == "header"), None)
    title = header["text"]["text"] if header else "this approval"
    return f"{title}\nExecution {views.parse_card_value(body['actions'][0]['value'])[0]}"


def _comment(view: dict[str, Any]) -> str:
    state = view.get("state", {}).get("values", {})
    value = state.get(views.COMMENT_BLOCK, {}).get(views.COMMENT_ACTION, {}).get("value")
    return str(value or "")
