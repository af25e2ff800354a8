"""The child state machine's payload for one level: read, checked, and refused in plain words."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any

import msgspec

from bot.errors import InvalidPayload
from bot.gateways.flowstore import Membership
from bot.validation import Before, Secret, as_mapping, convert, kind, lax_whole_number

INVALID_INPUT = "Signoff.InvalidInput"
MAX_LEVELS = 20

_LEVEL_FIELD = re.compile(r"^level\d+_")
_EXECUTION_ARN = r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[^:\s]+:[^:\s]+$"
# SSM's service role may publish only to topics named Automation*.
_TOPIC_ARN = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:Automation[A-Za-z0-9_-]{0,246}$"
_ANY_TOPIC = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:(?P<name>[A-Za-z0-9_-]{1,256})$")
_ROLE_ARN = r"^(?:arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512})?$"  # or empty
_APPROVER = re.compile(
    r"^(?:[\w+=,.@-]{1,64}"
    r"|arn:aws[a-z-]*:iam::\d{12}:(?:user|role)/[\w+=,.@/-]{1,512}"
    r"|arn:aws[a-z-]*:sts::\d{12}:assumed-role/[\w+=,.@-]{1,64}/[\w+=,.@-]{2,64})$"
)
_TOKEN_LENGTH = 2048

# Each key's rule; its description is said in every refusal that names the key.
_Token = Annotated[
    Secret,
    msgspec.Meta(description="the task token (`token.$: $$.Task.Token`), 1 to 2048 characters"),
]
_FlowId = Annotated[
    str,
    msgspec.Meta(
        pattern=_EXECUTION_ARN,
        description="the parent execution ARN (`flow_id.$: "
        "$$.Execution.Input.AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID`), "
        "arn:aws:states:<region>:<account>:execution:<state machine>:<name>",
    ),
]
_Levels = Annotated[
    int,
    msgspec.Meta(
        ge=1,
        le=MAX_LEVELS,
        description=f"how many levels the flow has, a whole number from 1 to {MAX_LEVELS}",
    ),
]
_Level = Annotated[
    int,
    msgspec.Meta(
        ge=1, le=MAX_LEVELS, description="this level's number, a whole number from 1 to `levels`"
    ),
]
_Step = Annotated[
    str, msgspec.Meta(max_length=256, description="the state's name (`step.$: $$.State.Name`)")
]
_DocName = Annotated[
    str | None, msgspec.Meta(description="the name of Signoff's approval document, or nothing")
]
_Role = Annotated[
    str,
    msgspec.Meta(
        pattern=_ROLE_ARN, description="an IAM role ARN for Automation to run as, or empty"
    ),
]
_Description = Annotated[
    str, msgspec.Meta(max_length=1024, description="text, at most 1024 characters")
]
_Message = Annotated[
    str,
    msgspec.Meta(
        max_length=4096, description="text, at most 4096 characters (the aws:approve limit)"
    ),
]
_Topic = Annotated[
    str,
    msgspec.Meta(
        pattern=_TOPIC_ARN,
        description="an SNS topic ARN whose name starts with `Automation` "
        "(SSM's service role may publish only to those)",
    ),
]
_Approvers = Annotated[
    tuple[str, ...],
    msgspec.Meta(
        min_length=1,
        max_length=10,
        description="1 to 10 approvers (IAM user names, user ARNs, role ARNs or assumed-role "
        'ARNs) as a list, a JSON list string such as ["a","b"], or a comma-separated string',
    ),
]
_Approvals = Annotated[
    int, msgspec.Meta(ge=1, le=10, description="a whole number of approvals from 1 to 10")
]
_Url = Annotated[str, msgspec.Meta(description="text (the page the approvers review)")]
_File = Annotated[str, msgspec.Meta(description="text (the file the approvers review)")]


class StartApprovalRequest(msgspec.Struct, frozen=True, kw_only=True):
    """The child state machine's `lambda:invoke.waitForTaskToken` payload for one level.

    The keys are the seed's (token, step, ssm_*) plus flow_id, level and levels; other keys the
    state machine passes along (region, confirmation_url, …) are ignored. Numbers may come as
    text ("1"), as CloudFormation parameters do (`lax_whole_number` says which text counts).
    """

    token: _Token
    flow_id: _FlowId
    levels: _Levels
    level: _Level
    step: _Step = ""
    ssm_doc_name: _DocName = None
    ssm_automation_assume_role: _Role = ""
    ssm_description: _Description = ""
    ssm_message: _Message = ""
    ssm_notification_arn: _Topic
    ssm_approvers: _Approvers
    ssm_min_required_approvals: _Approvals

    @classmethod
    def from_event(cls, event: object) -> StartApprovalRequest:
        """Read and check the payload; InvalidPayload names every bad key, in this order."""
        given = _with_level(as_mapping(event))
        problems: list[tuple[str, str]] = []
        request = None
        try:
            request = convert(given, cls, before=_BEFORE)
        except InvalidPayload as bad:
            problems.extend(bad.problems)
        numbers = _level_and_levels(given)
        if numbers is not None:
            level, levels = numbers
            if level > levels:
                problems.append(
                    ("level", f"is {level}, beyond levels ({levels}); send a number up to levels")
                )
            elif level == 1:
                problems.extend(_later_level_problems(given.get("flow_input"), levels))
        if problems or request is None:
            raise InvalidPayload(sorted(problems, key=_in_field_order))
        return request

    @property
    def member(self) -> Membership:
        return Membership(flow_id=self.flow_id, level=self.level, levels=self.levels)


_ORDER = [f.encode_name for f in msgspec.structs.fields(StartApprovalRequest)]


def _in_field_order(problem: tuple[str, str]) -> int:
    # Later levels' keys (level2_…) come after every key of this level, in their own order.
    return _ORDER.index(problem[0]) if problem[0] in _ORDER else len(_ORDER)


def _level_and_levels(given: Mapping[str, Any]) -> tuple[int, int] | None:
    """Both numbers, when each is a whole number from 1 to MAX_LEVELS; else None."""
    try:
        level, levels = (lax_whole_number(given.get(key)) for key in ("level", "levels"))
    except ValueError:
        return None
    return (level, levels) if 1 <= level <= MAX_LEVELS and 1 <= levels <= MAX_LEVELS else None


def _with_level(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The payload with its flow, level and levels, read from the child's input if not given.

    Signoff's child passes its own id and input (`execution_id`, `execution_input`) rather
    than reading level keys that a caller may not pass: seed 000's parent, for one, passes
    none. Such a caller gets a one-level approval of its own (the child's execution is its
    flow), not levels of a flow that would each claim to be its first and last.
    """
    if "level" in event:
        return event  # the flow's keys given directly
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


def _later_level_problems(flow_input: object, levels: int) -> list[tuple[str, str]]:
    """At level 1, what would stop a later level from starting, before anyone decides.

    The parent passes its whole input to level 1 (`flow_input`). A later level's key that is
    missing would fail the parent (States.Runtime) and a bad one would fail that level, both
    only after the levels before it were approved.
    """
    if not isinstance(flow_input, Mapping) or levels < 2:
        return []  # not passed (another caller, or a parent deployed before this check)
    model, before = _later_levels(levels)
    try:
        convert(flow_input, model, before=before)
    except InvalidPayload as bad:
        return list(bad.problems)
    return []


@cache
def _later_levels(levels: int) -> tuple[type[msgspec.Struct], dict[str, Before]]:
    """The keys the parent reads for levels 2 to `levels` (`levelN_<key>` in its input)."""
    fields: list[tuple[str, Any]] = []
    before: dict[str, Before] = {}
    for n in range(2, levels + 1):
        fields += [
            (f"level{n}_ssm_notification_arn", _Topic),
            (f"level{n}_ssm_approvers", _Approvers),
            (f"level{n}_ssm_min_required_approvals", _Approvals),
            (f"level{n}_confirmation_url", _Url),
            (f"level{n}_confirmation_file", _File),
        ]
        before[f"level{n}_ssm_notification_arn"] = _topic
        before[f"level{n}_ssm_approvers"] = _approvers
        before[f"level{n}_ssm_min_required_approvals"] = lax_whole_number
    return msgspec.defstruct(f"LaterLevels{levels}", fields, frozen=True), before


def _token(value: object) -> Secret:
    # Never quoted back: the refusal says only that it is not usable.
    if isinstance(value, str) and 1 <= len(value) <= _TOKEN_LENGTH:
        return Secret(value)
    raise ValueError("is not a usable task token")


def _topic(value: object) -> object:
    # Said before msgspec's pattern does: a person who named another topic learns which.
    if isinstance(value, str):
        match = _ANY_TOPIC.match(value)
        if not match:
            raise ValueError("is not an SNS topic ARN")
        if not match["name"].startswith("Automation"):
            raise ValueError(f"names the topic {match['name']!r}, not an Automation* one")
    return value


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


_BEFORE: dict[str, Before] = {
    "token": _token,
    "levels": lax_whole_number,
    "level": lax_whole_number,
    "ssm_notification_arn": _topic,
    "ssm_approvers": _approvers,
    "ssm_min_required_approvals": lax_whole_number,
}


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
    """A cause that names each bad field, why, and what to send (never the token)."""
    problems: list[str] = []
    for field, problem in error.problems:
        if not field:
            problems.append("the payload is not a JSON object of the keys below")
        else:
            problems.append(f"{field} {problem}")
    cause = "Signoff cannot start this approval: " + ". ".join(problems) + "."
    if any(_LEVEL_FIELD.match(field) for field, _ in error.problems):
        cause += (
            " No level was started. Add or fix them in the flow's input and start the flow "
            "again (the stack's StepFunctionsInputExample output shows every key)."
        )
    return cause


def refusal_route(event: object) -> tuple[str | None, str | None]:
    """The task token and flow a refused payload gives, each only if it is usable as one."""
    try:
        given = _with_level(as_mapping(event))
    except InvalidPayload:
        return None, None
    token, flow_id = given.get("token"), given.get("flow_id")
    usable = isinstance(token, str) and 1 <= len(token) <= _TOKEN_LENGTH
    return (
        token if usable else None,
        flow_id if isinstance(flow_id, str) and re.match(_EXECUTION_ARN, flow_id) else None,
    )
