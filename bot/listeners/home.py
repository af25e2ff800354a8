"""Slack glue for the App Home tab: publish it when opened, and its Approve / Reject buttons."""

from __future__ import annotations

import logging
from itertools import pairwise
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot import views
from bot.approvals import ApprovalService
from bot.errors import ServiceError, UserFacingError
from bot.events import is_execution_id
from bot.gateways.slack import SlackGateway
from bot.home import HomeService
from bot.listeners.approvals import modal_external_id, show_refusal_in_modal
from bot.models import CardRef, Verdict
from bot.views import home as home_view

logger = logging.getLogger(__name__)


def register(app: App, home: HomeService, approvals: ApprovalService, slack: SlackGateway) -> None:
    """Wire `app_home_opened` and the Home tab's buttons. A decision made from Home goes through
    the card's own decision modal (views.VIEW_DECISION), so it is sent, recorded and told in the
    card's thread exactly as one made on the card."""

    def on_home_opened_ack(ack: Ack) -> None:
        ack()

    def on_home_opened(event: dict[str, Any]) -> None:
        # Lazy: the Home reads DynamoDB and SSM; Slack wants the event acknowledged in 3 s.
        # The Messages tab opens the same event (tab "messages"): nothing to publish for it.
        if event.get("tab") != "home":
            return
        home.publish(str(event["user"]))

    def on_home_approve_click(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        _open_decision_modal(client, body, Verdict.APPROVE)

    def on_home_reject_click(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        _open_decision_modal(client, body, Verdict.REJECT)

    def on_home_click_check(body: dict[str, Any]) -> None:
        # Lazy: tell a person at once when they cannot decide, before they type a comment.
        target = _target(body)
        if target is None:
            return
        user = body["user"]["id"]
        try:
            approvals.check(user, target.execution_id, target.step_name)
        except ServiceError:
            logger.warning("could not check the Home click in advance", exc_info=True)
        except UserFacingError as refusal:
            if not show_refusal_in_modal(slack, body, refusal):
                slack.ephemeral(target.channel, user, views.refusal_text(str(refusal)))
            # The Home showed something it should not have (decided elsewhere, closed): redo it.
            home.publish(user)

    app.event("app_home_opened")(ack=on_home_opened_ack, lazy=[on_home_opened])
    app.action(home_view.ACTION_HOME_APPROVE)(ack=on_home_approve_click, lazy=[on_home_click_check])
    app.action(home_view.ACTION_HOME_REJECT)(ack=on_home_reject_click, lazy=[on_home_click_check])


def _target(
    body: dict[str, Any], verdict: Verdict = Verdict.APPROVE
) -> views.DecisionTarget | None:
    """The decision a Home button asks for: the approval from its value (the card's), the card
    from its block id. None, logged, for anything a Home button of Signoff's never carries."""
    action = body["actions"][0]
    execution_id, step = views.parse_card_value(str(action.get("value") or ""))
    card: CardRef | None = home_view.parse_home_block_id(str(action.get("block_id") or ""))
    if not is_execution_id(execution_id) or card is None:
        logger.warning("Home click on a value that names no SSM execution or card; ignored")
        return None
    return views.DecisionTarget(
        execution_id=execution_id,
        step_name=step,
        verdict=verdict,
        channel=card.channel,
        ts=card.ts,
    )


def _open_decision_modal(client: WebClient, body: dict[str, Any], verdict: Verdict) -> None:
    # trigger_id lives 3 seconds: the modal opens in the ack function, with no AWS call first.
    target = _target(body, verdict)
    if target is None:
        return
    view = views.decision_modal(target, _summary(body, target), modal_external_id(body))
    client.views_open(trigger_id=body["trigger_id"], view=view)


def _summary(body: dict[str, Any], target: views.DecisionTarget) -> str:
    # The title of the Home entry the button sits under (the section just before its block).
    blocks = (body.get("view") or {}).get("blocks") or []
    block_id = body["actions"][0].get("block_id")
    title = "this approval"
    for before, block in pairwise(blocks):
        if block.get("block_id") == block_id and before.get("type") == "section":
            text = str((before.get("text") or {}).get("text") or "")
            title = text.split("\n", 1)[0].strip("*") or title
    return f"{title}\nExecution {target.execution_id}"
