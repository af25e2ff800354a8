"""Who an approval's principals are, as Slack users: only through Signoff's own mapping."""

from __future__ import annotations

from collections.abc import Iterable

from bot import views
from bot.gateways.tables import IdentityStore
from bot.models import Approval, principal_matches

# Seconds a mapping read for an earlier click may answer a click's check (never a decision).
CHECK_IDENTITY_MAX_AGE = 60.0


def mapped_people(identities: IdentityStore, principals: Iterable[str]) -> dict[str, str]:
    """The principals that are people by Signoff's mapping: principal → Slack user id.

    A principal is a person only when it is exactly the session Signoff opens for a mapped
    user (their mapped role, their Slack id as session name and SourceIdentity). Any other
    principal, however its session is named, is shown as itself: anyone who may assume any
    role can call a session `U0CAROL`.
    """
    people: dict[str, str] = {}
    for principal in set(principals):
        session = principal.rsplit("/", 1)[-1] if ":assumed-role/" in principal else ""
        if not views.looks_like_slack_user(session):
            continue
        identity = identities.get(session, max_age=CHECK_IDENTITY_MAX_AGE)
        if identity is not None and identity.principal_arn == principal:
            people[principal] = session
    return people


def approval_people(identities: IdentityStore, approval: Approval) -> dict[str, str]:
    """`mapped_people` of everyone an approval's card names: its deciders and its approvers."""
    principals = {d.principal for d in approval.decisions} | set(approval.approvers)
    return mapped_people(identities, principals)


def approver_people(identities: IdentityStore, approval: Approval) -> dict[str, tuple[str, ...]]:
    """Who may decide, as people: each `Approvers` entry → the Slack users whose mapping SSM
    counts as that entry (a role's members, an exact session's owner), in display-name order.

    Only through the mapping, as `undecided_mentions` nudges: an entry nobody is mapped to is
    left out, and the card shows it as the principal it is. For display only (a mapping up to
    a minute old may stand in); a decision is checked afresh.
    """
    mapped = [
        (i.slack_user_id, principal)
        for i in identities.everyone(max_age=CHECK_IDENTITY_MAX_AGE)
        if (principal := i.principal_arn)
    ]
    people: dict[str, tuple[str, ...]] = {}
    for entry in approval.approvers:
        users = tuple(user for user, p in mapped if principal_matches(entry, p))
        if users:
            people[entry] = users
    return people


def undecided_mentions(identities: IdentityStore, approval: Approval) -> list[str]:
    """The mapped people who may decide and have not: whom a reminder mentions."""
    return [
        i.slack_user_id
        for i in identities.all()
        if i.principal_arn
        and any(principal_matches(a, i.principal_arn) for a in approval.approvers)
        and approval.decision_of(i.principal_arn) is None
    ]
