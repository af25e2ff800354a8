"""The one set of hand-written gateway fakes, each a subclass of the protocol it stands in for.

A service takes its gateways as protocols (bot/gateways/*), so a fake that misses a method or
changes a signature fails mypy here (this file is type-checked) instead of a test at run time.
Each fake records what the service asked, answers from what the test describes, and fails on
demand; the knobs are attributes a test sets before it acts.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.errors import ApprovalNotFound, InvalidRequest, ServiceError, TransientError
from bot.gateways.automation import Automation
from bot.gateways.pacing import Pacer
from bot.gateways.runs import FinishedRuns, RunEnd, Runs, RunSummary
from bot.gateways.slack import HomeTabs, PostKey, PostUnconfirmed, Slack
from bot.gateways.stepfunctions import FlowExecution, StepFunctions
from bot.models import Approval, CardRef, Decision, Outcome

REGION = "us-east-1"


class FakeAutomation(Automation):
    """SSM Automation over the executions a test describes in `approvals`.

    A start with the approval runbook's parameters (Approvers, MinRequiredApprovals,
    NotificationArn) waits at its approve step at once, as SSM's does; any other start (the
    access-key runbook) is only recorded, and reads as unknown until the test describes it.
    """

    def __init__(self) -> None:
        self.approvals: dict[str, Approval] = {}
        self.started: list[tuple[str, dict[str, list[str]]]] = []
        self.refuse: str | None = None  # the next starts are refused with this reason
        self._runs = 0  # not len(started): a test may clear that, ids must stay unique

    def start(self, document_name: str, parameters: Mapping[str, list[str]]) -> str:
        if self.refuse:
            raise InvalidRequest(f"SSM refused to start {document_name}: {self.refuse}")
        self.started.append((document_name, dict(parameters)))
        self._runs += 1
        execution_id = f"00000000-0000-4000-8000-{self._runs:012d}"
        if {"Approvers", "MinRequiredApprovals", "NotificationArn"} <= parameters.keys():
            self.approvals[execution_id] = Approval(
                execution_id=execution_id,
                step_name="ApprovalAction",
                document_name=document_name,
                region=REGION,
                outcome=Outcome.WAITING,
                approvers=tuple(parameters["Approvers"]),
                min_required=int(parameters["MinRequiredApprovals"][0]),
                message=parameters.get("Message", [""])[0],
                notification_arn=parameters["NotificationArn"][0],
                parameters={k: tuple(v) for k, v in parameters.items()},
            )
        return execution_id

    def get_approval(self, execution_id: str, step_name: str | None = None) -> Approval:
        if execution_id not in self.approvals:
            raise ApprovalNotFound(execution_id)
        return self.approvals[execution_id]

    def waiting_execution_ids(self) -> list[str]:
        return [i for i, a in self.approvals.items() if a.outcome is Outcome.WAITING]

    def decide(self, execution_id: str, outcome: Outcome, *decisions: Decision) -> None:
        """SSM closes (or moves) the approve step: what the next read answers."""
        current = self.approvals[execution_id]
        self.approvals[execution_id] = msgspec.structs.replace(
            current, outcome=outcome, decisions=current.decisions + decisions
        )


@dataclass
class Message:
    """A message the fake Slack holds; `history` keeps the texts it had before each update."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    history: list[str] = field(default_factory=list)
    key: PostKey | None = None


class FakeSlack(Slack):
    """Slack's Web API as the services see it: channels of messages, DMs, modals.

    Failures: `down` fails every call transiently; `next_post` scripts the next post (ok |
    unconfirmed-landed | unconfirmed-lost | refused); `unanswered` makes the next post land
    with its answer lost, `unanswered_in` the next top-level post in that channel;
    `lookup_fails`, `no_permalinks`, `fail_next_dm`, `fail_next_update` fail those calls.
    """

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.dms: list[tuple[str, str]] = []
        self.replies: list[tuple[CardRef, str]] = []
        self.reply_keys: list[PostKey | None] = []
        self.updates: list[tuple[CardRef, list[dict[str, Any]]]] = []
        self.ephemerals: list[tuple[str, str, str]] = []
        self.views: list[dict[str, Any]] = []
        self.posts = 0  # every post asked for, landed or not
        self.lookups = 0
        self.readied = 0
        self.down = False
        self.next_post = "ok"
        self.unanswered = False
        self.unanswered_in: str | None = None
        self.lookup_fails = False
        self.no_permalinks = False
        self.fail_next_dm = False
        self.fail_next_update = False

    def get_ready(self) -> None:
        self.readied += 1

    def post(
        self,
        channel: str,
        text: str,
        blocks: Sequence[Block] = (),
        thread_ts: str | None = None,
        *,
        key: PostKey | None = None,
    ) -> CardRef:
        self.posts += 1
        if self.down:
            raise TransientError("Slack did not answer chat.postMessage")
        how, self.next_post = self.next_post, "ok"
        if self.unanswered or (self.unanswered_in == channel and thread_ts is None):
            self.unanswered, self.unanswered_in = False, None
            how = "unconfirmed-landed"
        if how == "refused":
            raise ServiceError("Slack refused chat.postMessage: channel_not_found")
        ts = f"1700000000.{len(self.messages):06d}"
        if how != "unconfirmed-lost":
            dicts = [b.to_dict() for b in blocks]
            self.messages.append(Message(channel, ts, text, dicts, thread_ts, key=key))
        if how.startswith("unconfirmed"):
            raise PostUnconfirmed("Slack did not answer chat.postMessage")
        return CardRef(channel, ts)

    def reply(
        self, ref: CardRef, text: str, blocks: Sequence[Block] = (), *, key: PostKey | None = None
    ) -> CardRef:
        self.replies.append((ref, text))
        self.reply_keys.append(key)
        return self.post(ref.channel, text, blocks, thread_ts=ref.ts, key=key)

    def update(self, ref: CardRef, text: str, blocks: Sequence[Block]) -> None:
        if self.down:
            raise TransientError("Slack did not answer chat.update")
        if self.fail_next_update:
            self.fail_next_update = False
            raise TransientError("Slack did not answer chat.update")
        dicts = [b.to_dict() for b in blocks]
        self.updates.append((ref, dicts))
        for message in self.messages:
            if (message.channel, message.ts) == (ref.channel, ref.ts):
                message.history.append(message.text)
                message.text, message.blocks = text, dicts

    def find_posted(
        self, channel: str, key: PostKey, *, thread_ts: str | None = None
    ) -> CardRef | None:
        self.lookups += 1
        if self.down:
            raise TransientError("Slack did not answer conversations.history")
        if self.lookup_fails:
            raise ServiceError(f"Could not look in {channel} (missing_scope)")
        found = [m for m in self.messages if (m.channel, m.key) == (channel, key)]
        return CardRef(channel, found[-1].ts) if found else None

    def permalink(self, ref: CardRef) -> str:
        if self.down or self.no_permalinks:
            raise ServiceError("Slack refused chat.getPermalink: message_not_found")
        return f"https://signoff.example/archives/{ref.channel}/p{ref.ts.replace('.', '')}"

    def ephemeral(self, channel: str, user: str, text: str) -> None:
        self.ephemerals.append((channel, user, text))

    def dm(self, user: str, text: str, blocks: Sequence[Block] = ()) -> CardRef:
        if self.fail_next_dm:
            self.fail_next_dm = False
            raise TransientError("Slack did not answer chat.postMessage")
        self.dms.append((user, text))
        return CardRef("D0" + user, "1.1")

    def open_view(self, trigger_id: str, view: View) -> str:
        self.views.append(view.to_dict())
        return f"V{len(self.views):08d}"

    def update_view(
        self, view: View, *, view_id: str | None = None, external_id: str | None = None
    ) -> None:
        self.views.append(view.to_dict())

    # -- what a test reads back --

    def find(self, ref: CardRef) -> Message:
        return next(m for m in self.messages if (m.channel, m.ts) == (ref.channel, ref.ts))

    def cards(self) -> list[Message]:
        """Messages posted under a key (cards and keyed replies)."""
        return [m for m in self.messages if m.key is not None]

    def threaded(self) -> list[Message]:
        return [m for m in self.messages if m.thread_ts is not None]

    def top_level(self, channel: str) -> list[Message]:
        return [m for m in self.messages if m.channel == channel and m.thread_ts is None]

    def thread(self, root: Message) -> list[Message]:
        return [m for m in self.messages if m.thread_ts == root.ts]

    def everything(self) -> str:
        """Every message, as JSON: to look for what must never show (a token, a secret)."""
        return json.dumps(
            [dataclasses.asdict(m) for m in self.messages], ensure_ascii=False, default=str
        )


class FakeSfn(StepFunctions):
    """Step Functions' task completions: recorded in `calls`, or failed by `fail_next` (each an
    exception raised by the next completion). An execution the test did not describe in
    `executions` (arn → status, None for none) is running."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.fail_next: list[Exception] = []
        self.executions: dict[str, str | None] = {}

    def send_task_success(self, token: str, output: Mapping[str, Any]) -> None:
        self._call("success", token, output)

    def send_task_failure(self, token: str, error: str, cause: str) -> None:
        self._call("failure", token, {"error": error, "cause": cause})

    def describe_execution(self, execution_arn: str) -> FlowExecution | None:
        status = self.executions.get(execution_arn, "RUNNING")
        if status is None:
            return None
        machine, _, name = execution_arn.replace(":execution:", ":stateMachine:").rpartition(":")
        return FlowExecution(execution_arn, name, machine, status)

    def _call(self, kind: str, token: str, body: Any) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.calls.append((kind, token, body))


class FakeRuns(Runs):
    """Past and running executions the test describes in `runs` (and their end in `ended`);
    each listing of finished runs is recorded in `listed`."""

    def __init__(self) -> None:
        self.runs: dict[str, RunSummary] = {}
        self.ended: dict[str, datetime] = {}
        self.listed: list[tuple[str, datetime, int]] = []

    def summary(self, execution_id: str) -> RunSummary:
        return self.runs[execution_id]

    def finished(
        self, document_name: str, *, started_after: datetime, max_pages: int
    ) -> FinishedRuns:
        self.listed.append((document_name, started_after, max_pages))
        runs = [
            RunEnd(r.execution_id, self.ended.get(r.execution_id))
            for r in reversed(self.runs.values())
            if r.document_name == document_name and r.is_finished
        ]
        return FinishedRuns(tuple(runs), truncated=False)

    def active(self, document_name: str) -> list[RunSummary]:
        return [
            r for r in self.runs.values() if r.document_name == document_name and not r.is_finished
        ]


class FakePacer(Pacer):
    """Records the turns taken and the posts reported, against the posts Slack saw by then."""

    def __init__(self, slack: FakeSlack) -> None:
        self.slack = slack
        self.events: list[tuple[str, str, int]] = []

    def wait_turn(self, channel: str) -> float:
        self.events.append(("turn", channel, self.slack.posts))
        return 0.0

    def posted(self, channel: str) -> None:
        self.events.append(("posted", channel, self.slack.posts))


class FakeHomeTabs(HomeTabs):
    """views.publish: each person's Home as last published (`homes`), every publish in order
    (`published`); `refuse` names people whose publish Slack refuses."""

    def __init__(self) -> None:
        self.homes: dict[str, dict[str, Any]] = {}
        self.published: list[str] = []
        self.refuse: set[str] = set()

    def publish_home(self, user: str, view: View) -> None:
        if user in self.refuse:
            raise ServiceError("Slack refused views.publish: user_not_found")
        self.published.append(user)
        self.homes[user] = view.to_dict()

    def text(self, user: str) -> str:
        """The person's Home as JSON text (to look for what it shows)."""
        return json.dumps(self.homes[user]["blocks"], ensure_ascii=False)


def _each_fake_has_every_method() -> None:
    """Never called: mypy refuses to build a fake that lacks one of its protocol's methods."""
    slack = FakeSlack()
    FakeAutomation(), FakeSfn(), FakeRuns(), FakePacer(slack), FakeHomeTabs()
