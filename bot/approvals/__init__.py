"""The approval rules: post a card once, authorize and send a decision once, keep the card true.

cards (post, recover, render), decisions (check, authorize, decide, their thread lines), the
reconciler, and people (who a principal is, by the mapping); `ApprovalService` composes them.
"""

from bot.approvals.cards import CardService, FlowHooks, Placement, Router, card_key
from bot.approvals.decisions import DecisionLines, DecisionService
from bot.approvals.people import (
    CHECK_IDENTITY_MAX_AGE,
    approval_people,
    approver_people,
    mapped_people,
    undecided_mentions,
)
from bot.approvals.reconciler import Reconciler
from bot.approvals.service import ApprovalService

__all__ = [
    "CHECK_IDENTITY_MAX_AGE",
    "ApprovalService",
    "CardService",
    "DecisionLines",
    "DecisionService",
    "FlowHooks",
    "Placement",
    "Reconciler",
    "Router",
    "approval_people",
    "approver_people",
    "card_key",
    "mapped_people",
    "undecided_mentions",
]
