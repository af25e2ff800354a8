"""The sandbox's cast and demo: who is mapped to what, where approvals go, people acting in Slack.

Nothing here is secret: the people are the emulator's demo workspace, the roles are the ones
infra/template.yaml creates, and every credential is a sandbox placeholder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import boto3
import requests

from bot.gateways.dynamo import TableAt
from bot.gateways.tables import IdentityStore
from bot.models import Identity
from sandbox.provision import Stack, redeploy
from sandbox.slack.workspace import Workspace
from sandbox.template import load_template


@dataclass(frozen=True)
class Person:
    """A demo person: the approver role they act through (a template resource) and/or IAM user."""

    name: str
    role: str | None = None  # logical id of the template's approver role
    iam_user: str | None = None
    duty: str = ""


CAST = (
    Person("alice", "Level1ApproverRole", duty="level 1 and access keys"),
    Person("bob", "Level2ApproverRole", duty="level 2"),
    Person("carol", "Level3ApproverRole", duty="level 3"),
    Person("dave", iam_user="dave", duty="IAM user dave: may /request-key"),
    Person("erin", iam_user="erin", duty="IAM user erin: --demo's key request"),
    Person("mallory", duty="not mapped: her clicks are refused"),
)

# Which emulator channel each template channel parameter routes to.
CHANNELS = {
    "DefaultChannel": "approvals",
    "KeyRequestChannel": "approvals",
    "Level1Channel": "approvals-level1",
    "Level2Channel": "approvals-level2",
    "Level3Channel": "approvals-level3",
}

# erin's, not dave's: the banner's first thing to try is dave's own request, which a waiting
# request for the same IAM user would refuse.
KEY_REQUEST = ("erin", "/request-key", "erin nightly backup key")


def stack_parameters(workspace: Workspace) -> dict[str, str]:
    """The template parameters of the demo: each channel parameter set to an emulator channel."""
    ids = {c.name: c.id for c in workspace.channels}
    channels = {parameter: ids[name] for parameter, name in CHANNELS.items()}
    # The emulator's workspace and app: the Slack function acts on no other.
    return {**channels, "SlackTeamId": workspace.team_id, "SlackAppId": workspace.app_id}


def user_id(workspace: Workspace, name: str) -> str:
    return next(u.id for u in workspace.users if u.name == name)


def seed(
    session: boto3.Session,
    stack: Stack,
    workspace: Workspace,
    parameters: Mapping[str, str],
    client_config: Any = None,
) -> Stack:
    """Map the cast (identities table), create dave's IAM user, let alice approve keys.

    The last one is a second deploy with `KeyApprovers` = the level-1 and key approver roles,
    as an operator would do: the role ARNs only exist once the stack does.
    """
    table = TableAt(
        session.client("dynamodb", config=client_config), stack.physical_id("IdentitiesTable")
    )
    identities = IdentityStore(table)
    iam = session.client("iam", config=client_config)
    for person in CAST:
        if person.iam_user:
            # Under the deployment's KeyUserPath: Signoff issues keys to no other user.
            iam.create_user(UserName=person.iam_user, Path=key_user_path(parameters))
        if not (person.role or person.iam_user):
            continue
        identities.put(
            Identity(
                slack_user_id=user_id(workspace, person.name),
                display_name=person.name,
                role_arn=_role_arn(iam, stack, person.role) if person.role else None,
                iam_user=person.iam_user,
            )
        )
    key_approvers = ",".join(
        _role_arn(iam, stack, logical) for logical in ("Level1ApproverRole", "KeyApproverRole")
    )
    return redeploy(
        session, {**parameters, "KeyApprovers": key_approvers}, client_config=client_config
    )


def key_user_path(parameters: Mapping[str, str]) -> str:
    """The IAM path the stack issues keys under: the parameter, else the template's default."""
    default = str(load_template()["Parameters"]["KeyUserPath"]["Default"])
    return parameters.get("KeyUserPath") or default


def _role_arn(iam: Any, stack: Stack, logical_id: str) -> str:
    return str(iam.get_role(RoleName=stack.physical_id(logical_id))["Role"]["Arn"])


def cast_line() -> str:
    return "people: " + ", ".join(f"{p.name} ({p.duty})" for p in CAST)


# --- the demo (signoff sandbox --demo) -----------------------------------------------------


def flow_input(stack: Stack) -> dict[str, Any]:
    """The template's StepFunctionsInputExample, adapted to the demo (what is being approved)."""
    example: dict[str, Any] = json.loads(stack.outputs["StepFunctionsInputExample"])
    example["ssm_description"] = "Deploy build 42 to production (sandbox demo)"
    return example


def run(sandbox: Any) -> list[str]:
    """`--demo`: a 3-level flow waiting for alice, and erin's access-key request for alice."""
    execution_arn = start_flow(sandbox.client("stepfunctions"), sandbox.stack)
    user, command, text = KEY_REQUEST
    reply = sandbox.slack.command(user, "approvals", command, text)
    sandbox.settle()
    lines = [
        "Demo started:",
        f"  a 3-level flow: {execution_arn}",
        "    level 1 waits in #approvals-level1 for alice; then bob (level 2), carol (level 3)",
        f"  {user} typed `{command} {text}` in #approvals"
        + ("" if reply.get("status") == 200 else f" (the bot answered {reply.get('status')})"),
        "    the card waits for alice (or any key approver)",
    ]
    return lines


def start_flow(sfn: Any, stack: Stack) -> str:
    """Start the multi-level flow (the parent state machine); returns the execution ARN."""
    started = sfn.start_execution(
        stateMachineArn=stack.outputs["ApprovalFlowStateMachineArn"],
        input=json.dumps(flow_input(stack)),
    )
    return str(started["executionArn"])


# --- people acting in Slack, through the emulator's control API ----------------------------


class SlackActions:
    """Act as people and read what they see, through the emulator's control API (/_emulator/).

    Mixed into whatever knows `slack_url` and how to `settle()` the sandbox afterwards: the
    integration world, the e2e tests' HTTP client.
    """

    slack_url: str

    def settle(self) -> None:
        """Wait until the sandbox has finished what the last action started."""
        raise NotImplementedError

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(
            method, f"{self.slack_url}/_emulator/{path}", timeout=30, **kwargs
        )
        response.raise_for_status()
        return response.json()

    def messages(self, channel: str = "approvals") -> list[dict[str, Any]]:
        return list(self.control("GET", "messages", params={"channel": channel})["messages"])

    def card(self, channel: str = "approvals", about: str = "") -> dict[str, Any]:
        """The latest card in the channel (the latest whose blocks mention `about`, if given)."""
        cards = [
            m
            for m in self.messages(channel)
            if m.get("blocks") and about in json.dumps(m["blocks"], ensure_ascii=False)
        ]
        assert cards, f"no card in #{channel}" + (f" about {about}" if about else "")
        return cards[-1]

    def card_text(self, channel: str = "approvals", about: str = "") -> str:
        return json.dumps(self.card(channel, about)["blocks"], ensure_ascii=False)

    def thread(self, channel: str = "approvals", about: str = "") -> list[str]:
        return [r["text"] for r in self.card(channel, about).get("replies", [])]

    def ephemeral(self, user: str) -> list[str]:
        data = self.control("GET", "ephemeral", params={"user": user})
        return [m["text"] for m in data["ephemeral"]]

    def views(self, user: str) -> list[dict[str, Any]]:
        return list(self.control("GET", "views", params={"user": user})["views"])

    def command(
        self, user: str, command: str, text: str = "", channel: str = "approvals"
    ) -> dict[str, Any]:
        reply = self.control(
            "POST",
            "command",
            json={"user": user, "channel": channel, "command": command, "text": text},
        )
        self.settle()
        return dict(reply)

    def click(
        self,
        user: str,
        action_id: str,
        channel: str = "approvals",
        about: str = "",
        *,
        ts: str | None = None,
    ) -> dict[str, Any]:
        """Click a button of the message at `ts` (a thread reply too), else of the latest card."""
        ts = ts or self.card(channel, about)["ts"]
        reply = self.control(
            "POST",
            "click",
            json={"user": user, "channel": channel, "ts": ts, "action_id": action_id},
        )
        self.settle()
        return dict(reply)

    def open_home(self, user: str) -> dict[str, Any] | None:
        """Open the app's Home tab as `user`; the Home the bot published for it, once settled."""
        reply = self.control("POST", "home", json={"user": user})
        assert reply["status"] == 200, reply
        self.settle()
        return self.home(user)

    def home(self, user: str) -> dict[str, Any] | None:
        home: dict[str, Any] | None = self.control("GET", "home", params={"user": user})["home"]
        return home

    def decide_from_home(
        self, user: str, action_id: str, comment: str = "", about: str = ""
    ) -> dict[str, Any]:
        """Click Approve/Reject on the Home entry that mentions `about`, then submit the modal."""
        home = self.home(user)
        assert home is not None, f"{user} has no Home tab"
        block_id = next(
            (
                after["block_id"]
                for before, after in pairwise(home["blocks"])
                if after.get("type") == "actions"
                and about in json.dumps(before, ensure_ascii=False)
            ),
            None,
        )
        assert block_id is not None, f"nothing about {about!r} on {user}'s Home"
        clicked = self.control(
            "POST",
            "click",
            json={
                "user": user,
                "view_id": home["id"],
                "action_id": action_id,
                "block_id": block_id,
            },
        )
        assert clicked["status"] == 200, clicked
        self.settle()
        return self.submit_decision(user, comment)

    def submit_decision(self, user: str, comment: str = "") -> dict[str, Any]:
        """Submit the decision modal `user` has open (the newest), with `comment`."""
        modal = self.views(user)[-1]
        reply = self.control(
            "POST",
            "submit",
            json={
                "user": user,
                "view_id": modal["id"],
                "values": {"comment": {"comment_input": comment}},
            },
        )
        self.settle()
        return dict(reply)

    def decide(
        self,
        user: str,
        action_id: str,
        comment: str = "",
        channel: str = "approvals",
        about: str = "",
        *,
        ts: str | None = None,
    ) -> dict[str, Any]:
        """Click Approve/Reject on the card, then submit the modal it opened."""
        clicked = self.click(user, action_id, channel, about, ts=ts)
        assert clicked["status"] == 200, clicked
        return self.submit_decision(user, comment)
