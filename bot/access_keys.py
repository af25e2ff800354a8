"""Flow C: request an IAM access key from Slack, issue it after approval, tell the requester."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from msgspec.structs import replace

from bot import views
from bot.access_key_models import (
    IssueKeyPayload,
    KeyOutcome,
    KeyReport,
    KeyRequest,
    KeyStatus,
    OutcomeKind,
    RecordedKeyRequest,
)
from bot.approvals import approval_people, approver_people, mapped_people
from bot.errors import ApprovalNotFound, InvalidRequest, ServiceError
from bot.gateways.automation import Automation
from bot.gateways.iam import EXECUTION_TAG, AccessKeyGateway, IamUserDenied
from bot.gateways.key_requests import KeyRequestRecords
from bot.gateways.runs import Runs, RunSummary
from bot.gateways.slack import Slack, reply_key
from bot.gateways.tables import ApprovalStore, AuditLog, CardItem, IdentityStore
from bot.models import Approval, Identity, Outcome, Verdict, principal_matches

logger = logging.getLogger(__name__)

# IAM's user-name rule (CreateUser: "[\w+=,.@-]+", 1 to 64 characters).
IAM_USER_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
REASON_MAX = 500
# Control characters but tab and line feed: the runbook's RequestReason pattern refuses them.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MAX_KEYS = 2  # IAM's quota of access keys per user
ISSUE_ACTION = "aws:invokeLambdaFunction"
# The reconciler tells outcomes of requests that ended this recently and were never told.
RECONCILE_WINDOW = timedelta(hours=24)
# A run waits at most 86400 s for approval, then runs the issuer at most twice for 120 s: one
# that ended inside the window started at most this much before it.
_LONGEST_RUN = timedelta(hours=25)
# Per reconciler run: pages of SSM's list (50 executions each) read, and outcomes told. The
# rest waits for the next run, five minutes later, so a backlog cannot time the Lambda out.
RECONCILE_PAGES = 4
RECONCILE_MAX_TOLD = 50
# Claimed once a request's outcome has been told everywhere it can be: the reconciler passes
# it by. This long after a run ended, its events' Lambdas are over (the result function drops
# events older than an hour), so a part they still hold was sent: a failed send gives it back.
_TOLD = "key-outcome#done"
# A card that shows a key request's outcome ranks above every state of its approval step
# (Approval.rank stays below 2000), so a late sync of the step cannot render it without.
_OUTCOME_RANK = 1_000_000
# Outcomes that may follow an approval without a key: "Approved" alone would read as issued.
_NO_KEY_AFTER_APPROVAL = frozenset({OutcomeKind.REFUSED, OutcomeKind.FAILED})
_SETTLED = timedelta(hours=2)

Clock = Callable[[], datetime]


# -- refusals: each names the form field it is about, so a modal can show it in place ---------


class KeyRequestRefused(InvalidRequest):
    """A key request that starts nothing; `field` is the input it is about."""

    field = "iam_user"


class BadIamUserName(KeyRequestRefused):
    """Not a name IAM would accept."""


class ReasonMissing(KeyRequestRefused):
    """No reason given (or one too long to pass to SSM and show on a card)."""

    field = "reason"


class NoIamUserMapped(KeyRequestRefused):
    """The requester has no IAM user in the identities table and is not an admin."""


class NotYourIamUser(KeyRequestRefused):
    """A non-admin asked for an IAM user other than their own."""


class UnknownIamUser(KeyRequestRefused):
    """IAM has no such user."""


class IamUserOutOfReach(KeyRequestRefused):
    """IAM denies Signoff that user (outside the IAM path the deployment manages)."""


class KeyRequestPending(KeyRequestRefused):
    """A request for that IAM user is already waiting or being started."""


class KeyLimitReached(KeyRequestRefused):
    """The IAM user already has as many access keys as IAM allows."""


# -- the Slack side: request, then tell the outcome ------------------------------------------


_FORM_IDENTITY_MAX_AGE = 60.0


class KeyRequestService:
    """Validates `/request-key`, starts the access-key runbook, DMs the requester its outcome."""

    def __init__(
        self,
        *,
        document: str,
        admins: Iterable[str],
        automation: Automation,
        runs: Runs,
        key_user_path: str = "/",
        keys: AccessKeyGateway,
        identities: IdentityStore,
        store: ApprovalStore,
        records: KeyRequestRecords,
        audit: AuditLog,
        slack: Slack,
        now: Clock,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._document = document
        self._admins = frozenset(admins)
        self._automation = automation
        self._runs = runs
        self._key_user_path = key_user_path
        self._keys = keys
        self._identities = identities
        self._store = store
        self._records = records
        self._audit = audit
        self._slack = slack
        self._now = now
        self._new_id = new_id

    def own_iam_user(self, requester: str) -> str | None:
        """The IAM user mapped to the requester, to start the form with; None when unmapped or
        unread. Only a convenience (the request is checked against a fresh read), so a mapping
        read in the last minute will do, and a failed read opens the form empty rather than not
        at all: the trigger_id it opens with lives 3 seconds."""
        try:
            identity = self._identities.get(requester, max_age=_FORM_IDENTITY_MAX_AGE)
        except ServiceError:
            logger.warning("identities not read; the key form opens empty", exc_info=True)
            return None
        return identity.iam_user if identity else None

    def request(self, requester: str, iam_user: str, reason: str) -> KeyRequest:
        """Start the access-key runbook for a valid request, at most one per IAM user at a time."""
        request = self._validate(requester, iam_user, reason)
        subject, lock = self._lock(request.iam_user)
        request_id = self._new_id()
        recorded = False
        try:
            self._refuse_if_pending(request.iam_user)
            # Recorded before the runbook starts: the issuer issues only for recorded requests,
            # so a run someone else starts, whatever its parameters, gets no key.
            self._records.record(request_id, request)
            recorded = True
            execution_id = self._automation.start(
                self._document,
                {
                    "IamUser": [request.iam_user],
                    "RequestReason": [request.reason],
                    "RequesterSlackId": [request.requester],
                    "RequestId": [request_id],
                },
            )
        except Exception:
            # Nothing started: a retry must not be told one was.
            self._store.release(subject, lock)
            if recorded:
                self._records.forget(request_id)
            raise
        try:
            self._records.bind(request_id, execution_id)
        except ServiceError:
            # Started all the same: the issuer binds the record to the first run that names it.
            logger.warning(
                "key request not bound to its execution yet",
                exc_info=True,
                extra={"execution_id": execution_id, "request_id": request_id},
            )
        self._audit.append(
            execution_id,
            "access_key_requested",
            requester=requester,
            iam_user=request.iam_user,
            reason=request.reason,
        )
        logger.info(
            "access key requested",
            extra={"execution_id": execution_id, "iam_user": request.iam_user},
        )
        return KeyRequest(requester, request.iam_user, request.reason, execution_id)

    def concerns(self, document_name: str) -> bool:
        """Whether a status event about `document_name` may be about a key request."""
        # Events without a Definition are checked against the execution itself.
        return document_name in ("", self._document)

    def notify_outcome(self, execution_id: str) -> KeyOutcome | None:
        """Once a key request has ended: DM the requester and tell the card's thread, once each."""
        outcome = self._finished_outcome(execution_id)
        if outcome is not None:
            self._tell(outcome)
        return outcome

    def reconcile(
        self,
        *,
        window: timedelta = RECONCILE_WINDOW,
        max_pages: int = RECONCILE_PAGES,
        max_told: int = RECONCILE_MAX_TOLD,
    ) -> dict[str, int]:
        """Tell the outcome of key requests that ended within `window` and were never told.

        EventBridge is best-effort: when the event for a finished run is lost, this is what DMs
        the requester. It does what the event does (`notify_outcome`), so the claims that keep
        a redelivered event from DMing twice also keep this from racing it.
        """
        now = self._now()
        counts = {"checked": 0, "told": 0, "failed": 0}
        listed = self._runs.finished(
            self._document, started_after=now - window - _LONGEST_RUN, max_pages=max_pages
        )
        if listed.truncated:
            logger.warning(
                "more finished key requests than one run reads; older ones were not checked",
                extra={"pages": max_pages},
            )
        recent = [run for run in listed.runs if (run.ended_at or now) >= now - window]
        # Read up front, 100 at a time: most were told long ago. One told since is kept from a
        # second DM by the claim notify_outcome takes, as an event racing this would be.
        told = self._store.with_claim([run.execution_id for run in recent], _TOLD)
        for run in recent:
            if run.execution_id in told:
                continue
            ended = run.ended_at or now
            if counts["checked"] == max_told:
                logger.warning("outcomes left for the next run", extra={"limit": max_told})
                break
            counts["checked"] += 1
            try:
                counts["told"] += self._reconcile_one(
                    run.execution_id, settled=ended < now - _SETTLED
                )
            except (ServiceError, ApprovalNotFound):
                counts["failed"] += 1
                logger.exception(
                    "key request outcome not told", extra={"execution_id": run.execution_id}
                )
        return counts

    # -- helpers ---------------------------------------------------------------------------

    def _finished_outcome(self, execution_id: str) -> KeyOutcome | None:
        run = self._runs.summary(execution_id)
        if run.document_name != self._document or not run.is_finished:
            return None
        return self._outcome(run)

    def _reconcile_one(self, execution_id: str, *, settled: bool) -> bool:
        outcome = self._finished_outcome(execution_id)
        sent = outcome is not None and self._tell(outcome)
        if settled:
            self._store.claim(execution_id, _TOLD)
        return sent

    def _tell(self, outcome: KeyOutcome) -> bool:
        """DM the requester and reply in the card's thread, each at most once; True if sent now.

        Marks the outcome told when this call sent every part itself; a part someone else
        holds may still be on its way, or fail and be given back.
        """
        execution_id = outcome.execution_id
        # Who rejected, named only as the mapping proves it (never by a session's name alone).
        people = mapped_people(self._identities, outcome.decided_by) if outcome.decided_by else {}
        parts: list[bool] = []
        if outcome.requester:
            parts.append(
                self._once(
                    execution_id,
                    "key-outcome#dm",
                    lambda: self._slack.dm(
                        outcome.requester, views.key_outcome_dm(outcome, people)
                    ),
                )
            )
            if parts[-1]:
                self._audit.append(
                    execution_id,
                    "access_key_outcome",
                    outcome=outcome.kind.value,
                    requester=outcome.requester,
                    iam_user=outcome.iam_user,
                    secret_name=outcome.secret_name,
                )
        card = self._card(execution_id)
        thread = (card.thread_ref or card.ref) if card else None
        if thread is not None:
            parts.append(
                self._once(
                    execution_id,
                    "key-outcome#thread",
                    lambda: self._slack.reply(
                        thread,
                        views.key_outcome_thread(outcome, people),
                        key=reply_key(execution_id, "key-outcome#thread"),
                    ),
                )
            )
        if card is not None and outcome.kind in _NO_KEY_AFTER_APPROVAL:
            parts.append(
                self._once(
                    execution_id, "key-outcome#card", lambda: self._show_on_card(card, outcome)
                )
            )
        if all(parts):
            self._store.claim(execution_id, _TOLD)
        return any(parts)

    def _show_on_card(self, card: CardItem, outcome: KeyOutcome) -> None:
        """An approved card whose key was not issued says so: "Approved" alone reads as issued."""
        approval = self._approval(outcome.execution_id)
        if approval is None or approval.outcome is not Outcome.APPROVED:
            return  # a rejected, timed-out or cancelled card already says all there is
        rank = approval.rank + _OUTCOME_RANK
        if card.ref is None or not self._store.raise_rank(
            approval.execution_id, card.step_name, rank, approval.outcome
        ):
            return
        try:
            people = approval_people(self._identities, approval)
            self._slack.update(
                card.ref,
                views.card_text(approval),
                views.key_request_card(
                    approval,
                    outcome,
                    people,
                    approvers=approver_people(self._identities, approval),
                ),
            )
        except Exception:
            self._store.lower_rank(
                approval.execution_id, card.step_name, rank, card.rank, card.outcome
            )
            raise

    def _validate(self, requester: str, iam_user: str, reason: str) -> KeyRequest:
        # The reason goes to the runbook as it was typed: the issuer gets it as a mapping value,
        # never spliced into JSON text. Only line ends are made plain and control characters
        # that no reader wants (the runbook's pattern refuses them) become spaces.
        iam_user = iam_user.strip()
        reason = _CONTROL.sub(" ", "\n".join(line.rstrip() for line in reason.strip().splitlines()))
        if not IAM_USER_NAME.fullmatch(iam_user):
            raise BadIamUserName(
                f"`{iam_user or ' '}` is not an IAM user name: 1 to 64 letters, digits or "
                "+=,.@_- characters."
            )
        if not reason:
            raise ReasonMissing("Say why you need the key; the approvers decide on it.")
        if len(reason) > REASON_MAX:
            raise ReasonMissing(f"Keep the reason under {REASON_MAX} characters.")
        if requester not in self._admins:
            identity = self._identities.get(requester)
            own = identity.iam_user if identity else None
            if own is None:
                raise NoIamUserMapped(
                    "You have no IAM user mapped to your Slack account, so you cannot request a "
                    "key yet. Ask an admin to run: signoff users map "
                    f"{requester} --iam-user <your-iam-user> --name <your name>"
                )
            if own != iam_user:
                raise NotYourIamUser(
                    f"You may request keys only for your own IAM user, `{own}`; "
                    "ask an admin for others."
                )
        path = self._key_user_path
        try:
            user = self._keys.user(iam_user)
        except IamUserDenied as denied:
            # IAM denies the users outside the path, and cannot tell those from missing ones.
            raise IamUserOutOfReach(
                f"IAM user `{iam_user}` is not under `{path}` (or does not exist); only IAM users "
                "under that path can get keys from Signoff. Check the name, ask an admin to move "
                "the user under that path, or request the key another way."
            ) from denied
        if user is None:
            raise UnknownIamUser(
                f"There is no IAM user `{iam_user}` in this account; check the name."
            )
        if not user.is_under(path):
            raise IamUserOutOfReach(
                f"IAM user `{iam_user}` is under `{user.path}`, not `{path}`; only IAM users "
                "under that path can get keys from Signoff. Ask an admin to move the user "
                f"(`aws iam update-user --user-name {iam_user} --new-path {path}`) or request "
                "the key another way."
            )
        # Asked now, not only once approved: nobody should approve a key IAM will not create.
        # The issuer asks again, as keys may be made elsewhere while the request waits.
        if self._keys.key_count(iam_user) >= MAX_KEYS:
            raise KeyLimitReached(
                f"IAM user `{iam_user}` already has {MAX_KEYS} access keys, IAM's maximum. "
                "Delete one that is no longer used (`aws iam list-access-keys --user-name "
                f"{iam_user}`, then `aws iam delete-access-key --user-name {iam_user} "
                "--access-key-id <id>`) and ask again."
            )
        return KeyRequest(requester, iam_user, reason)

    def _refuse_if_pending(self, iam_user: str) -> None:
        for run in self._runs.active(self._document):
            if run.parameter("IamUser") == iam_user:
                raise KeyRequestPending(
                    f"A request for `{iam_user}` is already waiting (execution "
                    f"{run.execution_id}); wait for its outcome."
                )

    def _lock(self, iam_user: str) -> tuple[str, str]:
        # SSM lists a new execution only once it has started, so two requests a moment apart
        # could both find none waiting. A claim per minute closes that window; once a runbook
        # has started it is kept, and lapses on its own two minutes later (also if this Lambda
        # dies here), when SSM's list has long caught up.
        subject = f"key-request:{iam_user}"
        now = self._now()
        this_minute, last_minute = (
            f"start#{at:%Y%m%dT%H%M}" for at in (now, now - timedelta(minutes=1))
        )
        if self._store.has_claim(subject, last_minute) or not self._store.claim(
            subject, this_minute
        ):
            raise KeyRequestPending(
                f"A request for `{iam_user}` was started a moment ago; wait for its outcome."
            )
        return subject, this_minute

    def _outcome(self, run: RunSummary) -> KeyOutcome:
        failed = KeyOutcome(
            OutcomeKind.FAILED,
            execution_id=run.execution_id,
            iam_user=run.parameter("IamUser") or "",
            requester=run.parameter("RequesterSlackId") or "",
            failure=run.failure_message,
        )
        step = run.step_with_action(ISSUE_ACTION)
        payload = step.outputs.get("Payload") if step else None
        report = KeyReport.loads(payload[0]) if payload else None
        if report is not None and report.status is KeyStatus.ISSUED:
            return replace(failed, kind=OutcomeKind.ISSUED, secret_name=report.secret_name)
        if report is not None:
            return replace(failed, kind=OutcomeKind.REFUSED, refusal=report.status)
        approval = self._approval(run.execution_id)
        outcome = approval.outcome if approval else None
        if approval and outcome is Outcome.REJECTED:
            rejections = [d for d in approval.decisions if d.verdict is Verdict.REJECT]
            return replace(
                failed,
                kind=OutcomeKind.REJECTED,
                decided_by=tuple(d.principal for d in rejections),
                comment="\n".join(d.comment for d in rejections if d.comment),
            )
        if outcome is Outcome.TIMED_OUT:
            return replace(failed, kind=OutcomeKind.TIMED_OUT)
        if outcome is Outcome.CANCELLED or run.status == "Cancelled":
            return replace(failed, kind=OutcomeKind.CANCELLED)
        return failed

    def _approval(self, execution_id: str) -> Approval | None:
        try:
            return self._automation.get_approval(execution_id)
        except ApprovalNotFound:
            return None

    def _card(self, execution_id: str) -> CardItem | None:
        cards = [c for c in self._store.cards(execution_id) if c.ref is not None]
        return cards[0] if cards else None

    def _once(self, execution_id: str, key: str, send: Callable[[], object]) -> bool:
        """Send once however often the outcome is seen; a failed send can be retried."""
        if not self._store.claim(execution_id, key):
            return False
        try:
            send()
        except Exception:
            self._store.release(execution_id, key)
            raise
        return True


# -- the AWS side: issue the key ---------------------------------------------------------------


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


def read_command(text: str) -> tuple[str, str]:
    """`/request-key <iam-user> <reason…>` → (iam user, reason); Slack escapes &, < and >."""
    unescaped = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()
    iam_user, _, reason = unescaped.partition(" ")
    return iam_user, reason.strip()
