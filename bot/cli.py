"""`signoff`: the operator's command line (users, audit, doctor, reconcile).

`--stack NAME` or `--sandbox` before the command says where Signoff is (bot/stack.py); the
`sandbox` command comes from a plug-in.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from typing import Any, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from bot import dev, doctor, stack
from bot.arns import ROLE_ARN_SHAPE, role_arn
from bot.config import Settings
from bot.errors import ConfigError, InvalidRequest, ServiceError, SignoffError
from bot.gateways.aws import AWS_FAILURES, wrap_aws_error
from bot.gateways.dynamo import TableAt
from bot.gateways.tables import AuditLog, IdentityStore
from bot.models import Identity
from bot.wiring import AWS_CONFIG, utc_now

# Other packages (the sandbox) add sub-commands through this entry-point group, so bot/ never
# imports them: each entry point is a callable that takes the sub-parsers object.
COMMAND_GROUP = "signoff.commands"

Register = Callable[[Any], None]

_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_INVOKE_CONFIG = Config(connect_timeout=5, read_timeout=300, retries={"total_max_attempts": 1})


def build_parser(plugins: Sequence[Register] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="signoff", description="Approve AWS approval workflows from Slack."
    )
    _register_where(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _register_users(commands)
    _register_audit(commands)
    _register_doctor(commands)
    _register_reconcile(commands)
    dev.register(commands)
    for register in plugins:
        register(commands)
    return parser


def _register_where(parser: argparse.ArgumentParser) -> None:
    # Before the command: `signoff --stack signoff users list`. Their own dests, since a
    # sub-command's defaults (doctor's --stack, --region) would overwrite same-named ones.
    where = parser.add_argument_group(
        "where Signoff is (default: the SIGNOFF_* variables the functions read)"
    )
    where.add_argument(
        "--stack",
        dest="where_stack",
        metavar="NAME",
        help="read the region, table names and other settings from this CloudFormation "
        "stack's outputs; nothing else to set",
    )
    where.add_argument(
        "--sandbox",
        action="store_true",
        help=f"the running `make sandbox`: stack {stack.SANDBOX_STACK} at {stack.SANDBOX_AWS_URL}, "
        f"Slack at {stack.SANDBOX_SLACK_API_URL}, key id and secret {stack.SANDBOX_KEY}",
    )
    where.add_argument(
        "--region",
        dest="where_region",
        metavar="REGION",
        help="AWS region (default: AWS_REGION / your profile)",
    )
    where.add_argument(
        "--endpoint-url",
        dest="where_endpoint_url",
        metavar="URL",
        help="AWS endpoint to call (a local AWS; with --sandbox, one on other ports)",
    )
    where.add_argument(
        "--slack-api-url",
        dest="where_slack_api_url",
        metavar="URL",
        help="Slack Web API base URL for doctor's check (with --sandbox, its emulator's /api/)",
    )


def _register_users(commands: Any) -> None:
    users = commands.add_parser("users", help="map Slack users to the IAM roles they approve as")
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    map_ = actions.add_parser("map", help="map (or re-map) a Slack user")
    map_.add_argument("slack_user_id", help="Slack member id, e.g. U0123ABCD")
    map_.add_argument("--role", help="ARN of the approver role the bot assumes for this person")
    map_.add_argument("--name", required=True, help="display name used in messages and audit")
    map_.add_argument("--iam-user", help="the IAM user this person may request access keys for")
    map_.set_defaults(run=_users_map)
    unmap = actions.add_parser("unmap", help="remove a Slack user's mapping")
    unmap.add_argument("slack_user_id")
    unmap.set_defaults(run=_users_unmap)
    list_ = actions.add_parser("list", help="list every mapping")
    list_.set_defaults(run=_users_list)


def _register_audit(commands: Any) -> None:
    audit = commands.add_parser("audit", help="read the audit trail")
    actions = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="write audit events as JSON lines or CSV")
    export.add_argument("--since", default="7d", help="how far back: 30m, 12h, 7d, 2w (default 7d)")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument("--output", help="file to write (default: standard output)")
    export.set_defaults(run=_audit_export)


def _register_doctor(commands: Any) -> None:
    doctor.register(commands)
    # With --stack or --sandbox before the command, doctor checks that stack, where it is.
    commands.choices["doctor"].set_defaults(run=_doctor)


def _register_reconcile(commands: Any) -> None:
    reconcile = commands.add_parser(
        "reconcile",
        help="run a reconciler pass now (post lost cards, sync outcomes, send due reminders), "
        "as the 5-minute schedule does; prints what it did",
    )
    reconcile.set_defaults(run=_reconcile)


def _found(args: argparse.Namespace) -> stack.Found | None:
    """The stack named before the command (--stack, --sandbox), or None: the environment's."""
    if not (args.where_stack or args.sandbox):
        return None
    return stack.find(
        args.where_stack,
        region=args.where_region,
        endpoint_url=args.where_endpoint_url,
        sandbox=args.sandbox,
        slack_api_url=args.where_slack_api_url,
    )


def _where(args: argparse.Namespace) -> tuple[Settings, boto3.Session]:
    """Settings and the session to reach their AWS: a stack's outputs, or the environment."""
    found = _found(args)
    if found is not None:
        return found.settings, found.session
    settings = Settings.from_env()
    return settings, stack.session_for(
        region=args.where_region or settings.region, endpoint_url=args.where_endpoint_url
    )


def _doctor(args: argparse.Namespace) -> int:
    args.slack_api_url = args.where_slack_api_url or (
        stack.SANDBOX_SLACK_API_URL if args.sandbox else None
    )
    found = _found(args)
    if found is not None:
        args.stack = args.stack or found.stack
        return doctor.run(args, found.session)
    if args.where_endpoint_url or args.where_region:
        region = args.region or args.where_region
        return doctor.run(
            args, stack.session_for(region=region, endpoint_url=args.where_endpoint_url)
        )
    return doctor.run(args)


def _reconcile(args: argparse.Namespace) -> int:
    found = _found(args)
    if found is None:
        raise InvalidRequest(
            "reconcile runs the stack's reconciler function: name the stack with --stack NAME "
            "(or --sandbox) before the command."
        )
    function = found.outputs.get("ReconcileFunctionArn")
    if not function:
        raise ConfigError(
            f"The stack {found.stack} has no output ReconcileFunctionArn: deploy the current "
            "infra/template.yaml."
        )
    # Waits for the pass (the function's Timeout is 240 s); once: a retry would be a second pass.
    lam = found.session.client("lambda", config=_INVOKE_CONFIG)
    answer = lam.invoke(FunctionName=function, Payload=b"{}")
    body = json.loads(answer["Payload"].read() or b"null")
    if answer.get("FunctionError"):
        raise ServiceError(f"the reconciler failed: {body}")
    counts = body if isinstance(body, dict) else {}
    print(" ".join(f"{name}={count}" for name, count in sorted(counts.items())) or "done")
    return 1 if counts.get("failed_reconcilers") else 0


def _tables(args: argparse.Namespace) -> tuple[IdentityStore, AuditLog]:
    settings, session = _where(args)
    dynamodb = session.client("dynamodb", config=AWS_CONFIG)
    return (
        IdentityStore(TableAt(dynamodb, settings.identities_table)),
        AuditLog(TableAt(dynamodb, settings.audit_table), utc_now),
    )


def _users_map(args: argparse.Namespace) -> int:
    if not _SLACK_USER.match(args.slack_user_id):
        raise InvalidRequest(
            f"{args.slack_user_id!r} is not a Slack member id (like U0123ABCD): in Slack, open "
            "the person's profile, ⋮ → Copy member ID."
        )
    if args.role and not role_arn(args.role):
        raise InvalidRequest(f"--role {args.role!r} is not an IAM role ARN ({ROLE_ARN_SHAPE}).")
    if not args.role and not args.iam_user:
        raise InvalidRequest("Give --role (to approve), --iam-user (to request keys), or both.")
    identities, audit = _tables(args)
    identity = Identity(args.slack_user_id, args.name, role_arn=args.role, iam_user=args.iam_user)
    identities.put(identity)
    audit.append(
        "identities",
        "user_mapped",
        slack_user=identity.slack_user_id,
        role_arn=identity.role_arn,
        iam_user=identity.iam_user,
    )
    print(
        f"mapped {identity.slack_user_id} ({identity.display_name})"
        + (f" → acts as {identity.principal_arn}" if identity.principal_arn else "")
    )
    return 0


def _users_unmap(args: argparse.Namespace) -> int:
    identities, audit = _tables(args)
    if not identities.delete(args.slack_user_id):
        raise InvalidRequest(f"{args.slack_user_id} is not mapped (see: signoff users list).")
    audit.append("identities", "user_unmapped", slack_user=args.slack_user_id)
    print(f"unmapped {args.slack_user_id}")
    return 0


def _users_list(args: argparse.Namespace) -> int:
    identities, _ = _tables(args)
    rows = identities.all()
    if not rows:
        print("no users mapped yet: signoff users map <slack-user-id> --role <arn> --name <name>")
        return 0
    for i in rows:
        print(
            f"{i.slack_user_id}\t{i.display_name}\trole={i.role_arn or '-'}\t"
            f"iam_user={i.iam_user or '-'}"
        )
    return 0


def parse_since(raw: str, now: datetime) -> datetime:
    match = _DURATION.match(raw.strip())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidRequest(
            f"--since {raw!r}: give a duration like 30m, 12h, 7d, 2w or an ISO date (2026-11-01)."
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def write_audit(rows: list[dict[str, Any]], fmt: str, out: TextIO) -> None:
    """JSON lines keep every field; CSV has the common columns then the rest as JSON."""
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, default=str, sort_keys=True) + "\n")
        return
    columns = ["at", "pk", "event", "slack_user", "principal", "verdict", "comment", "details"]
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        details = {k: v for k, v in row.items() if k not in columns and k != "sk"}
        writer.writerow(
            {
                **{c: row.get(c, "") for c in columns[:-1]},
                "details": json.dumps(details, default=str, sort_keys=True) if details else "",
            }
        )


def _audit_export(args: argparse.Namespace) -> int:
    _, audit = _tables(args)
    rows = audit.since(parse_since(args.since, utc_now()))
    if args.output:
        with open(args.output, "w", newline="", encoding="utf-8") as out:
            write_audit(rows, args.format, out)
        print(f"wrote {len(rows)} audit events to {args.output}", file=sys.stderr)
    else:
        write_audit(rows, args.format, sys.stdout)
    return 0


def _plugins() -> list[Register]:
    plugins = []
    for ep in entry_points(group=COMMAND_GROUP):
        try:
            plugins.append(ep.load())
        except ImportError as exc:
            # A broken plug-in must not take the operator commands down with it.
            print(f"signoff: skipping the {ep.name!r} command: {exc}", file=sys.stderr)
    return plugins


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(_plugins())
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
        # Written out here, where a reader that went away (`| head`) is caught below.
        sys.stdout.flush()
    except BrokenPipeError:
        # As the Python docs' note on SIGPIPE (signal module) says: the reader has what it
        # wanted; send what is left to /dev/null, so the flush at exit raises nothing either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except SignoffError as exc:
        print(f"signoff: {exc}", file=sys.stderr)
        return 2
    except AWS_FAILURES as exc:
        # A call outside the gateways (doctor's checks, a stack's outputs): no credentials, no
        # network, or a refusal no check expected. Said in one line, not a traceback.
        print(f"signoff: {wrap_aws_error(exc, f'run {args.command}')}", file=sys.stderr)
        if args.sandbox and isinstance(exc, EndpointConnectionError):
            print("signoff: is the sandbox running? (make sandbox)", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
