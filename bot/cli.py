"""`signoff`: the operator's command line (users, audit; `sandbox` comes from a plug-in)."""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from typing import Any, TextIO

import boto3

from bot import dev, doctor
from bot.arns import ROLE_ARN_SHAPE, role_arn
from bot.config import Settings
from bot.errors import InvalidRequest, SignoffError
from bot.gateways.aws import AWS_FAILURES, wrap_aws_error
from bot.gateways.dynamo import TableAt
from bot.gateways.flowstore import FlowStore
from bot.gateways.tables import ApprovalStore, AuditLog, IdentityStore
from bot.models import Identity
from bot.wiring import AWS_CONFIG, utc_now

# Other packages (the sandbox) add sub-commands through this entry-point group, so bot/ never
# imports them: each entry point is a callable that takes the sub-parsers object.
COMMAND_GROUP = "signoff.commands"

Register = Callable[[Any], None]

_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def build_parser(plugins: Sequence[Register] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="signoff", description="Approve AWS approval workflows from Slack."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _register_users(commands)
    _register_audit(commands)
    _register_doctor(commands)
    _register_backfill(commands)
    dev.register(commands)
    for register in plugins:
        register(commands)
    return parser


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


def _register_backfill(commands: Any) -> None:
    backfill = commands.add_parser(
        "backfill-open-index",
        help="once, after upgrading a stack from before the approvals table's Open index: "
        "put the cards and flow levels still waiting into it, so the reconciler sees them",
    )
    backfill.set_defaults(run=_backfill_open_index)


def _register_doctor(commands: Any) -> None:
    doctor.register(commands)


def _tables() -> tuple[IdentityStore, AuditLog]:
    settings = Settings.from_env()
    dynamodb = boto3.Session(region_name=settings.region).client("dynamodb", config=AWS_CONFIG)
    return (
        IdentityStore(TableAt(dynamodb, settings.identities_table)),
        AuditLog(TableAt(dynamodb, settings.audit_table), utc_now),
    )


def _backfill_open_index(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    dynamodb = boto3.Session(region_name=settings.region).client("dynamodb", config=AWS_CONFIG)
    table = TableAt(dynamodb, settings.approvals_table)
    cards = ApprovalStore(table, utc_now).index_open_cards()
    levels = FlowStore(table, utc_now).index_open_levels()
    print(
        f"put {cards} waiting cards and {levels} waiting flow levels into the Open index "
        "(the rest were in it, or no longer wait)"
    )
    return 0


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
    identities, audit = _tables()
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
    identities, audit = _tables()
    if not identities.delete(args.slack_user_id):
        raise InvalidRequest(f"{args.slack_user_id} is not mapped (see: signoff users list).")
    audit.append("identities", "user_unmapped", slack_user=args.slack_user_id)
    print(f"unmapped {args.slack_user_id}")
    return 0


def _users_list(args: argparse.Namespace) -> int:
    identities, _ = _tables()
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
    _, audit = _tables()
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
    except SignoffError as exc:
        print(f"signoff: {exc}", file=sys.stderr)
        return 2
    except AWS_FAILURES as exc:
        # A call outside the gateways (doctor's checks, a stack's outputs): no credentials, no
        # network, or a refusal no check expected. Said in one line, not a traceback.
        print(f"signoff: {wrap_aws_error(exc, f'run {args.command}')}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
