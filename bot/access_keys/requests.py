"""Flow C, the Slack side: `/request-key` checked, then the access-key runbook started once."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from bot.access_key_models import MAX_KEYS, REASON_MAX, KeyOutcome, KeyRequest
from bot.access_keys.outcomes import (
    RECONCILE_MAX_TOLD,
    RECONCILE_PAGES,
    RECONCILE_WINDOW,
    KeyOutcomes,
)
from bot.access_keys.refusals import (
    BadIamUserName,
    IamUserOutOfReach,
    KeyLimitReached,
    KeyRequestPending,
    NoIamUserMapped,
    NotYourIamUser,
    ReasonMissing,
    UnknownIamUser,
)
from bot.errors import ServiceError
from bot.gateways.automation import Automation
from bot.gateways.claims import ClaimKey, once
from bot.gateways.iam import AccessKeyGateway, IamUserDenied
from bot.gateways.key_requests import KeyRequestRecords
from bot.gateways.runs import Runs
from bot.gateways.slack import Slack
from bot.gateways.tables import ApprovalStore, AuditLog, IdentityStore

logger = logging.getLogger(__name__)

# IAM's user-name rule (CreateUser: "[\w+=,.@-]+", 1 to 64 characters).
IAM_USER_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
# Control characters but tab and line feed: the runbook's RequestReason pattern refuses them.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

_FORM_IDENTITY_MAX_AGE = 60.0

Clock = Callable[[], datetime]


class KeyRequestService:
    """Validates `/request-key`, starts the access-key runbook, DMs the requester its outcome
    (`outcomes`, a `KeyOutcomes`)."""

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
        self._records = records
        self._audit = audit
        self._now = now
        self._new_id = new_id
        self.outcomes = KeyOutcomes(
            document=document,
            automation=automation,
            runs=runs,
            identities=identities,
            store=store,
            audit=audit,
            slack=slack,
            now=now,
        )

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
        started = once(
            self._records.claims, self._lock(request.iam_user), lambda: self._start(request)
        )
        if started is None:
            raise _started_a_moment_ago(request.iam_user)
        request_id, execution_id = started.value
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
        return self.outcomes.concerns(document_name)

    def notify_outcome(self, execution_id: str) -> KeyOutcome | None:
        """Once a key request has ended: DM the requester and tell the card's thread, once each."""
        return self.outcomes.notify_outcome(execution_id)

    def reconcile(
        self,
        *,
        window: timedelta = RECONCILE_WINDOW,
        max_pages: int = RECONCILE_PAGES,
        max_told: int = RECONCILE_MAX_TOLD,
    ) -> dict[str, int]:
        """Tell the outcome of key requests that ended within `window` and were never told."""
        return self.outcomes.reconcile(window=window, max_pages=max_pages, max_told=max_told)

    # -- helpers ---------------------------------------------------------------------------

    def _start(self, request: KeyRequest) -> tuple[str, str]:
        """The request's id and its runbook's execution id, started for a request recorded
        first; nothing started (and nothing recorded) when this raises."""
        request_id = self._new_id()
        recorded = False
        try:
            self._refuse_if_pending(request.iam_user)
            # Recorded before the runbook starts: the issuer issues only for recorded requests,
            # so a run someone else starts, whatever its parameters, gets no key.
            self._records.record(request_id, request)
            recorded = True
            return request_id, self._automation.start(
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
            if recorded:
                self._records.forget(request_id)
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

    def _lock(self, iam_user: str) -> ClaimKey:
        # SSM lists a new execution only once it has started, so two requests a moment apart
        # could both find none waiting. A claim per minute closes that window; once a runbook
        # has started it is kept, and lapses on its own two minutes later (also if this Lambda
        # dies here), when SSM's list has long caught up.
        now = self._now()
        if self._records.claims.held(
            self._records.start_claim(iam_user, now - timedelta(minutes=1))
        ):
            raise _started_a_moment_ago(iam_user)
        return self._records.start_claim(iam_user, now)


def _started_a_moment_ago(iam_user: str) -> KeyRequestPending:
    return KeyRequestPending(
        f"A request for `{iam_user}` was started a moment ago; wait for its outcome."
    )


def read_command(text: str) -> tuple[str, str]:
    """`/request-key <iam-user> <reason…>` → (iam user, reason); Slack escapes &, < and >."""
    unescaped = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()
    iam_user, _, reason = unescaped.partition(" ")
    return iam_user, reason.strip()
