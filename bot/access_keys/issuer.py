"""Flow C, the AWS side: issue an approved request's key into a secret only its owner may read."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from bot.access_key_models import (
    MAX_KEYS,
    IssueKeyPayload,
    KeyReport,
    KeyStatus,
    RecordedKeyRequest,
)
from bot.gateways.automation import Automation
from bot.gateways.iam import EXECUTION_TAG, AccessKeyGateway, IamUserDenied
from bot.gateways.key_requests import KeyRequestRecords
from bot.gateways.tables import AuditLog, IdentityStore
from bot.models import Approval, Identity, Outcome, principal_matches

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class KeyIssuer:
    """Called by the runbook after approval: a key into a secret only its owner may read.

    Anyone allowed to start the runbook (or to invoke this function) could call it; it issues
    only for a request Signoff recorded and started itself, with its own parameters, approved
    by as many of the deployed key approvers as the deployment asks (the requester excepted).
    """

    def __init__(
        self,
        *,
        document: str,
        secret_prefix: str,
        admin_role_arn: str | None,
        key_user_path: str = "/",
        approvers: Iterable[str],
        min_approvals: int = 1,
        automation: Automation,
        keys: AccessKeyGateway,
        identities: IdentityStore,
        records: KeyRequestRecords,
        audit: AuditLog,
        now: Clock,
    ) -> None:
        self._document = document
        self._identities = identities
        self._approvers = tuple(approvers)
        self._min_approvals = max(min_approvals, 1)
        self._records = records
        self._prefix = secret_prefix
        self._admin_role_arn = admin_role_arn
        self._key_user_path = key_user_path
        self._automation = automation
        self._keys = keys
        self._audit = audit
        self._now = now

    def issue(self, *, request: IssueKeyPayload) -> dict[str, str]:
        """Issue a key for an approved request; report what happened, holding no secret."""
        report = self._issue(request)
        self._audit.append(
            request.execution_id,
            "access_key_issued" if report.status is KeyStatus.ISSUED else "access_key_refused",
            status=report.status.value,
            iam_user=request.iam_user,
            requester=request.requester,
            reason=request.reason,
            secret_name=report.secret_name,
        )
        logger.info(
            "access key request handled",
            extra={"execution_id": request.execution_id, **report.payload()},
        )
        return report.payload()

    def _issue(self, request: IssueKeyPayload) -> KeyReport:
        user = request.iam_user
        approval = self._automation.get_approval(request.execution_id)
        if approval.document_name != self._document or self._recorded(approval, request) is None:
            logger.warning(
                "access key refused: not a request Signoff started",
                extra={
                    "execution_id": request.execution_id,
                    "document": approval.document_name,
                    "executed_by": approval.executed_by,
                    "iam_user": user,
                },
            )
            return KeyReport(KeyStatus.NOT_RECORDED, user)
        approvers = self._valid_approvals(approval, request)
        if not approvers:
            return KeyReport(KeyStatus.NOT_APPROVED, user)
        already = self._keys.secret_for_execution(request.execution_id)
        if already:
            # A retry after the idempotency record was lost: the key exists; report it again.
            return KeyReport(KeyStatus.ISSUED, user, already)
        try:
            return self._issue_new(request, approvers)
        except IamUserDenied:
            # Moved out of KeyUserPath since the request was checked: IAM now denies Signoff.
            return KeyReport(KeyStatus.OUT_OF_PATH, user)

    def _issue_new(self, request: IssueKeyPayload, approvers: tuple[str, ...]) -> KeyReport:
        user = request.iam_user
        found = self._keys.user(user)
        if found is None:
            return KeyReport(KeyStatus.USER_NOT_FOUND, user)
        if not found.is_under(self._key_user_path):
            return KeyReport(KeyStatus.OUT_OF_PATH, user)
        if self._keys.key_count(user) >= MAX_KEYS:
            return KeyReport(KeyStatus.KEY_LIMIT, user)
        name = secret_name(self._prefix, user, self._now())
        readers = [found.arn, *([self._admin_role_arn] if self._admin_role_arn else [])]
        tags = {
            EXECUTION_TAG: request.execution_id,
            "signoff:iam-user": user,
            "signoff:requester": request.requester,
            "signoff:approvers": " ".join(approvers),
        }
        self._keys.issue_into_secret(user, name, readers, tags)
        return KeyReport(KeyStatus.ISSUED, user, name)

    def _recorded(self, approval: Approval, request: IssueKeyPayload) -> RecordedKeyRequest | None:
        """The request Signoff recorded for this run, if it is one: the record its `RequestId`
        names, bound to this execution (the first that claims it, should the binding after the
        start have failed), with the same IAM user, requester and reason in SSM and payload."""
        request_id = approval.parameter("RequestId")
        record = self._records.get(request_id) if request_id else None
        if record is None or not self._records.bind(record.request_id, request.execution_id):
            return None
        asked = (record.iam_user, record.requester, record.reason)
        in_ssm = (
            approval.parameter("IamUser"),
            approval.parameter("RequesterSlackId"),
            approval.parameter("RequestReason"),
        )
        in_payload = (request.iam_user, request.requester, request.reason)
        return record if asked == in_ssm == in_payload else None

    def _valid_approvals(self, approval: Approval, request: IssueKeyPayload) -> tuple[str, ...]:
        """Who approved, if enough key approvers other than the requester did; else nobody.

        The deployed approvers and quorum count, not the run's own: an older version of the
        document (UpdateMethod NewVersion keeps them startable) let its starter choose both.
        """
        if approval.outcome is not Outcome.APPROVED:
            return ()
        # Read afresh: who the requester acts as, by the mapping, when the key is at stake.
        mapped = self._identities.get(request.requester) if request.requester else None
        others = [p for p in approval.approved_by if not _is_requester(p, request, mapped)]
        deciders = tuple(p for p in others if any(principal_matches(a, p) for a in self._approvers))
        needed = max(self._min_approvals, approval.min_required)
        if len(deciders) >= needed:
            return deciders
        logger.warning(
            "access key refused: not enough approvals by key approvers",
            extra={
                "execution_id": approval.execution_id,
                "approved_by": list(approval.approved_by),
                "key_approvers": list(self._approvers),
                "needed": needed,
            },
        )
        return ()


def _is_requester(principal: str, request: IssueKeyPayload, mapped: Identity | None) -> bool:
    """Whether an approval by `principal` is the requester's own; when in doubt, it is.

    The mapping says who the requester acts as: their session of their approver role, and the
    IAM user they are (a console approval signed in as it); the IAM user the key is for counts
    too. A session's name proves nothing about who opened it, so it may only ever refuse more:
    any session named after the requester's Slack id, in any case, is taken as theirs.
    """
    if mapped is not None and principal == mapped.principal_arn:
        return True
    if ":assumed-role/" in principal:
        return principal.rsplit("/", 1)[-1].casefold() == request.requester.casefold()
    users = {request.iam_user, *([mapped.iam_user] if mapped and mapped.iam_user else [])}
    # `arn:aws:iam::ACCT:user/path/name`: the name is the part after the last slash.
    name = principal.rsplit("/", 1)[-1] if ":user/" in principal else principal
    return name in users


def secret_name(prefix: str, iam_user: str, at: datetime) -> str:
    """`<prefix><iam-user>/access-key-<UTC timestamp>`, e.g. `dave/access-key-20261123T101500Z`."""
    stamp = at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    # Secrets Manager names allow /_+=.@- but not the comma IAM user names may hold.
    return f"{prefix}{iam_user.replace(',', '_')}/access-key-{stamp}"
