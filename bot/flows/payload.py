"""The child state machine's payload for one level: read, checked, and refused in plain words."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

import msgspec

from bot.errors import InvalidPayload
from bot.gateways.flowstore import Membership
from bot.payload import MISSING, Fields, Secret, kind

INVALID_INPUT = "Signoff.InvalidInput"
MAX_LEVELS = 20


_LEVEL_FIELD = re.compile(r"^level\d+_")
_EXECUTION_ARN = re.compile(r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[^:\s]+:[^:\s]+$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:(?P<name>[A-Za-z0-9_-]{1,256})$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_APPROVER = re.compile(
    r"^(?:[\w+=,.@-]{1,64}"
    r"|arn:aws[a-z-]*:iam::\d{12}:(?:user|role)/[\w+=,.@/-]{1,512}"
    r"|arn:aws[a-z-]*:sts::\d{12}:assumed-role/[\w+=,.@-]{1,64}/[\w+=,.@-]{2,64})$"
)

# What each payload key must hold, said in every refusal that names it.
EXPECTED = {
    "token": "the task token (`token.$: $$.Task.Token`), 1 to 2048 characters",
    "flow_id": "the parent execution ARN (`flow_id.$: "
    "$$.Execution.Input.AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID`), "
    "arn:aws:states:<region>:<account>:execution:<state machine>:<name>",
    "level": "this level's number, a whole number from 1 to `levels`",
    "levels": f"how many levels the flow has, a whole number from 1 to {MAX_LEVELS}",
    "step": "the state's name (`step.$: $$.State.Name`), text",
    "ssm_doc_name": "the name of Signoff's approval document, or nothing",
    "ssm_automation_assume_role": "an IAM role ARN for Automation to run as, or empty",
    "ssm_description": "text, at most 1024 characters",
    "ssm_message": "text, at most 4096 characters (the aws:approve limit)",
    "confirmation_url": "text (the page the approvers review)",
    "confirmation_file": "text (the file the approvers review)",
    "ssm_notification_arn": "an SNS topic ARN whose name starts with `Automation` "
    "(SSM's service role may publish only to those)",
    "ssm_approvers": "1 to 10 approvers (IAM user names, user ARNs, role ARNs or assumed-role "
    'ARNs) as a list, a JSON list string such as ["a","b"], or a comma-separated string',
    "ssm_min_required_approvals": "a whole number of approvals from 1 to 10",
}


class StartApprovalRequest(msgspec.Struct, frozen=True, kw_only=True):
    """The child state machine's `lambda:invoke.waitForTaskToken` payload for one level.

    The keys are the seed's (token, step, ssm_*) plus flow_id, level and levels; other keys the
    state machine passes along (region, confirmation_url, …) are ignored. Numbers may come as
    numeric strings ("1"), as CloudFormation parameters do.
    """

    token: Secret
    flow_id: str
    levels: int
    level: int
    step: str = ""
    ssm_doc_name: str | None = None
    ssm_automation_assume_role: str = ""
    ssm_description: str = ""
    ssm_message: str = ""
    ssm_notification_arn: str
    ssm_approvers: tuple[str, ...]
    ssm_min_required_approvals: int

    @classmethod
    def from_event(cls, event: object) -> StartApprovalRequest:
        """Read and check the payload; InvalidPayload names every bad key, in this order."""
        event = _with_level(event)
        fields = Fields(event)
        token = fields.text("token", rule=_token_length)
        flow_id = fields.text("flow_id", rule=_flow_arn)
        levels = fields.whole_number("levels", low=1, high=MAX_LEVELS)
        level = fields.whole_number("level", low=1, high=MAX_LEVELS)
        if fields.ok("levels", "level") and level > levels:
            fields.problem("level", f"is {level}, beyond levels ({levels})")
        request = cls(
            token=Secret(token),
            flow_id=flow_id,
            levels=levels,
            level=level,
            step=fields.text("step", "", max_length=256),
            ssm_doc_name=fields.optional_text("ssm_doc_name"),
            ssm_automation_assume_role=fields.text("ssm_automation_assume_role", "", rule=_role),
            ssm_description=fields.text("ssm_description", "", max_length=1024),
            ssm_message=fields.text("ssm_message", "", max_length=4096),
            ssm_notification_arn=fields.text("ssm_notification_arn", rule=_topic),
            ssm_approvers=fields.parsed("ssm_approvers", _approvers, ()),
            ssm_min_required_approvals=fields.whole_number(
                "ssm_min_required_approvals", low=1, high=10
            ),
        )
        if fields.ok("levels", "level") and level == 1 and isinstance(event, Mapping):
            _check_later_levels(fields, event.get("flow_input"), levels)
        fields.check()
        return request

    @property
    def member(self) -> Membership:
        return Membership(flow_id=self.flow_id, level=self.level, levels=self.levels)


def _with_level(event: object) -> object:
    """The payload with its flow, level and levels, read from the child's input if not given.

    Signoff's child passes its own id and input (`execution_id`, `execution_input`) rather
    than reading level keys that a caller may not pass: seed 000's parent, for one, passes
    none. Such a caller gets a one-level approval of its own (the child's execution is its
    flow), not levels of a flow that would each claim to be its first and last.
    """
    if not isinstance(event, Mapping) or "level" in event:
        return event  # the flow's keys given directly (or nothing to read them from)
    given = event.get("execution_input")
    if not isinstance(given, Mapping):
        return event
    merged = dict(event)
    if "level" in given:
        merged["flow_id"] = given.get("AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID")
        merged["level"] = given["level"]
        merged["levels"] = given.get("levels")
        if "flow_input" in given:
            merged["flow_input"] = given["flow_input"]
    else:
        merged |= {"flow_id": event.get("execution_id"), "level": 1, "levels": 1}
    return {k: v for k, v in merged.items() if v is not None}


# What the parent reads for each level (`levelN_<key>` in the flow's input).
_LEVEL_KEYS = (
    "ssm_notification_arn",
    "ssm_approvers",
    "ssm_min_required_approvals",
    "confirmation_url",
    "confirmation_file",
)


def _check_later_levels(fields: Fields, flow_input: object, levels: int) -> None:
    """At level 1, refuse a flow whose later levels could not start, before anyone decides.

    The parent passes its whole input to level 1 (`flow_input`). A later level's key that is
    missing would fail the parent (States.Runtime) and a bad one would fail that level, both
    only after the levels before it were approved.
    """
    if not isinstance(flow_input, Mapping):
        return  # not passed (another caller, or a parent deployed before this check)
    later = Fields(flow_input)
    for n in range(2, levels + 1):
        later.text(f"level{n}_ssm_notification_arn", rule=_topic)
        later.parsed(f"level{n}_ssm_approvers", _approvers, tuple[str, ...]())
        later.whole_number(f"level{n}_ssm_min_required_approvals", low=1, high=10)
        later.text(f"level{n}_confirmation_url")
        later.text(f"level{n}_confirmation_file")
    try:
        later.check()
    except InvalidPayload as bad:
        for field, problem in bad.problems:
            fields.problem(field, problem)


def _token_length(value: str) -> None:
    if not 1 <= len(value) <= 2048:
        raise ValueError("must be 1 to 2048 characters")


def _flow_arn(value: str) -> None:
    if not _EXECUTION_ARN.match(value):
        raise ValueError("is not a Step Functions execution ARN")


def _topic(value: str) -> None:
    match = _TOPIC_ARN.match(value)
    if not match:
        raise ValueError("is not an SNS topic ARN")
    if not match.group("name").startswith("Automation"):
        raise ValueError(f"names the topic {match.group('name')!r}, not an Automation* one")


def _role(value: str) -> None:
    if value and not _ROLE_ARN.match(value):
        raise ValueError("is not an IAM role ARN")


def _approvers(value: object) -> tuple[str, ...]:
    names = split_approvers(value)
    if not names:
        raise ValueError("names no approver")
    if len(names) > 10:
        raise ValueError(f"names {len(names)} approvers, more than 10")
    odd = [a for a in names if not _APPROVER.match(a)]
    if odd:
        raise ValueError(f"has entries that are neither IAM names nor ARNs: {odd[:3]}")
    return tuple(names)


def split_approvers(value: object) -> list[str]:
    """Approvers as a list, a JSON list string, or a comma-separated string → a list of names."""
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("["):
            return [part.strip() for part in text.split(",") if part.strip()]
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ValueError("looks like a JSON list but does not parse") from exc
    if not isinstance(value, list | tuple):
        raise ValueError(f"is {kind(value)}, not a list or text")
    names = [v for v in value if isinstance(v, str)]
    if len(names) != len(value):
        raise ValueError("is a list holding something other than text")
    return [name.strip() for name in names if name.strip()]


def describe_invalid_input(error: InvalidPayload) -> str:
    """A cause that names each bad field and says what it must hold (never the token)."""
    problems: list[str] = []
    for field, problem in error.problems:
        if not field:
            problems.append("the payload is not a JSON object of the keys below")
            continue
        if field == "token" and problem != MISSING:
            what = "token is not a usable task token"
        else:
            what = f"{field} {problem}"
        expected = EXPECTED.get(_LEVEL_FIELD.sub("", field))
        problems.append(f"{what}; expected {expected}" if expected else what)
    cause = "Signoff cannot start this approval: " + "; ".join(problems) + "."
    if any(_LEVEL_FIELD.match(field) for field, _ in error.problems):
        cause += (
            " No level was started. Add or fix them in the flow's input and start the flow "
            "again (the stack's StepFunctionsInputExample output shows every key)."
        )
    return cause


def refusal_route(event: object) -> tuple[str | None, str | None]:
    """The task token and flow a refused payload gives, each only if it is usable as one."""
    given = _with_level(event)
    raw = given if isinstance(given, Mapping) else {}
    token, flow_id = raw.get("token"), raw.get("flow_id")
    usable = isinstance(token, str) and 1 <= len(token) <= 2048
    return (
        token if usable else None,
        flow_id if isinstance(flow_id, str) and _EXECUTION_ARN.match(flow_id) else None,
    )
