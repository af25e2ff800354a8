"""A card's thread: each line posted once, known in Slack by the claim that guards it."""

from __future__ import annotations

from bot.gateways.claims import ClaimKey
from bot.gateways.slack import Slack, reply_key
from bot.gateways.tables import CardItem


def reply_in_thread(slack: Slack, card: CardItem, claim: ClaimKey, text: str) -> None:
    """A line in the card's thread, posted once: `claim` (taken by the caller) names it, so a
    reply Slack failed after it landed is found, not posted twice."""
    if card.ref is not None:
        slack.reply(card.thread_ref or card.ref, text, key=reply_key(card.execution_id, claim.name))
