"""The one place Signoff reads its environment: a typed, frozen Settings."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import timedelta

import msgspec

from bot.arns import topic_name
from bot.errors import ConfigError

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
# Cards for one channel go out at least this far apart (Slack: about 1 message/s/channel).
SLACK_POST_SPACING = timedelta(milliseconds=1050)


class Settings(msgspec.Struct, frozen=True):
    """Everything a handler, the bot or the CLI needs to know about where it runs."""

    region: str
    approvals_table: str
    audit_table: str
    identities_table: str
    idempotency_table: str
    default_channel: str
    channel_routes: Mapping[str, str] = msgspec.field(default_factory=dict)
    slack_secret_arn: str | None = None
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    # `signoff dev` only: the app-level token (xapp-…) that opens Socket Mode connections.
    slack_app_token: str | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    # The one workspace (T…) and app (A…) Signoff answers: a request signed with the app's secret
    # from any other workspace it is installed in, or by another app sharing the secret, is
    # refused. The Slack function requires the team (require_workspace); the app id is optional.
    slack_team_id: str | None = None
    slack_app_id: str | None = None
    reminder_before: timedelta = timedelta(hours=1)
    approval_document: str = "Signoff-Approval"
    access_key_document: str = "Signoff-AccessKey"
    access_key_secret_prefix: str = ""
    # The template's KeyUserPath: the IAM path of the users Signoff may issue keys for.
    key_user_path: str = "/"
    admins: frozenset[str] = frozenset()
    key_admin_role_arn: str | None = None
    # The access-key document's fixed Approvers and quorum: the issuer counts only these.
    key_approvers: tuple[str, ...] = ()
    key_min_approvals: int = 1
    slack_post_spacing: timedelta = SLACK_POST_SPACING
    # Sandbox only: a URL answering {"now": <ISO time>} that the reconciler reads its "now" from,
    # so a test (or a person) moving the sandbox's clock forward sees reminders fall due.
    clock_url: str | None = None

    def __repr__(self) -> str:
        # The Slack tokens of a local run never show: a repr lands in logs and tracebacks.
        fields = {name: getattr(self, name) for name in self.__struct_fields__}
        for secret in ("slack_bot_token", "slack_signing_secret", "slack_app_token"):
            if fields[secret]:
                fields[secret] = "**********"
        return f"Settings({', '.join(f'{name}={value!r}' for name, value in fields.items())})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build Settings from environment variables; raise ConfigError naming each missing one."""
        env = os.environ if environ is None else environ
        missing = [name for name in _REQUIRED if not env.get(name)]
        if not (env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")):
            missing.insert(0, "AWS_REGION")
        if missing:
            lines = "\n".join(f"  {name}: {_EXPLAINED[name]}" for name in missing)
            raise ConfigError(
                f"Missing environment variable(s):\n{lines}\n"
                "The SAM template sets these on every function; locally, `make sandbox` does. "
                "See docs/configuration.md."
            )
        region = env.get("AWS_REGION") or env["AWS_DEFAULT_REGION"]
        return cls(
            region=region,
            approvals_table=env["SIGNOFF_APPROVALS_TABLE"],
            audit_table=env["SIGNOFF_AUDIT_TABLE"],
            identities_table=env["SIGNOFF_IDENTITIES_TABLE"],
            idempotency_table=env["SIGNOFF_IDEMPOTENCY_TABLE"],
            default_channel=env["SIGNOFF_DEFAULT_CHANNEL"],
            channel_routes=_parse_routes(env.get("SIGNOFF_CHANNEL_ROUTES", "")),
            slack_secret_arn=env.get("SLACK_SECRET_ARN") or None,
            slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            slack_app_token=env.get("SLACK_APP_TOKEN") or None,
            slack_api_url=slack_api_url(env),
            slack_team_id=_slack_id(env, "SIGNOFF_SLACK_TEAM_ID", "T"),
            slack_app_id=_slack_id(env, "SIGNOFF_SLACK_APP_ID", "A"),
            reminder_before=timedelta(
                seconds=_parse_int(env, "SIGNOFF_REMINDER_BEFORE_SECONDS", 3600)
            ),
            approval_document=env.get("SIGNOFF_APPROVAL_DOCUMENT") or "Signoff-Approval",
            access_key_document=env.get("SIGNOFF_ACCESS_KEY_DOCUMENT") or "Signoff-AccessKey",
            access_key_secret_prefix=env.get("SIGNOFF_ACCESS_KEY_SECRET_PREFIX", ""),
            key_user_path=env.get("SIGNOFF_KEY_USER_PATH") or "/",
            admins=frozenset(
                a for a in env.get("SIGNOFF_ADMINS", "").replace(" ", "").split(",") if a
            ),
            key_admin_role_arn=env.get("SIGNOFF_KEY_ADMIN_ROLE_ARN") or None,
            key_approvers=tuple(
                a for a in env.get("SIGNOFF_KEY_APPROVERS", "").replace(" ", "").split(",") if a
            ),
            key_min_approvals=_parse_int(
                env, "SIGNOFF_KEY_MIN_APPROVALS", 1, unit="approvals", most=10
            ),
            slack_post_spacing=timedelta(
                milliseconds=_parse_int(
                    env,
                    "SIGNOFF_SLACK_POST_SPACING_MS",
                    SLACK_POST_SPACING // timedelta(milliseconds=1),
                    unit="milliseconds",
                    most=10_000,
                )
            ),
            clock_url=env.get("SIGNOFF_CLOCK_URL") or None,
        )

    @classmethod
    def from_stack_outputs(
        cls, outputs: Mapping[str, str], *, region: str, slack_api_url: str | None = None
    ) -> Settings:
        """Settings of a deployed stack from its outputs (infra/template.yaml, Outputs), for the
        operator's CLI: nothing to export but the stack's name. `region`: where the stack was
        found, unless its Region output says otherwise. ConfigError names each missing output."""
        missing = [key for key in _REQUIRED_OUTPUTS.values() if not outputs.get(key)]
        if missing:
            raise ConfigError(
                f"The stack has no output(s) {', '.join(missing)}: is it Signoff's stack, "
                "deployed from the current infra/template.yaml? See docs/deploy.md."
            )
        tables = {field: outputs[key] for field, key in _REQUIRED_OUTPUTS.items()}
        return cls(
            region=outputs.get("Region") or region,
            approvals_table=tables["approvals_table"],
            audit_table=tables["audit_table"],
            identities_table=tables["identities_table"],
            idempotency_table=tables["idempotency_table"],
            # A stack from before the DefaultChannel output: the operator's commands post nothing.
            default_channel=outputs.get("DefaultChannel", ""),
            slack_secret_arn=outputs.get("SlackSecretArn") or None,
            slack_api_url=slack_api_url or DEFAULT_SLACK_API_URL,
            approval_document=outputs.get("ApprovalDocumentName") or "Signoff-Approval",
            access_key_document=outputs.get("AccessKeyDocumentName") or "Signoff-AccessKey",
        )

    def require_slack(self) -> None:
        """Fail fast when neither a Slack secret nor local Slack variables are configured."""
        has_plain = bool(self.slack_bot_token) and bool(self.slack_signing_secret)
        if not self.slack_secret_arn and not has_plain:
            raise ConfigError(
                "No Slack credentials: set SLACK_SECRET_ARN (a Secrets Manager secret with keys "
                "bot_token and signing_secret), or SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET for a "
                "local run."
            )

    def require_workspace(self) -> str:
        """The workspace Slack requests must come from; fail fast when none is configured."""
        if not self.slack_team_id:
            raise ConfigError(
                "SIGNOFF_SLACK_TEAM_ID is not set: the Slack workspace id (T…) whose requests "
                "Signoff acts on (the template's SlackTeamId; Slack shows it in the workspace's "
                "URL and in auth.test's team_id)."
            )
        return self.slack_team_id

    def channel_for(self, *keys: str | None) -> str:
        """The channel routed for the first key (topic ARN, topic name, document) that has one."""
        for key in keys:
            if key and key in self.channel_routes:
                return self.channel_routes[key]
            name = topic_name(key) if key else None
            if name and name in self.channel_routes:
                return self.channel_routes[name]
        return self.default_channel


def aws_region(environ: Mapping[str, str] | None = None) -> str | None:
    """The region from AWS_REGION or AWS_DEFAULT_REGION, for a command that may run without the
    rest of Settings (`signoff doctor --stack`)."""
    env = os.environ if environ is None else environ
    return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None


def slack_api_url(environ: Mapping[str, str] | None = None) -> str:
    """SLACK_API_URL (the sandbox's emulator), else Slack itself; readable without Settings."""
    env = os.environ if environ is None else environ
    return env.get("SLACK_API_URL") or DEFAULT_SLACK_API_URL


_REQUIRED: dict[str, str] = {
    "SIGNOFF_APPROVALS_TABLE": "DynamoDB table of waiting approvals and their Slack cards",
    "SIGNOFF_AUDIT_TABLE": "DynamoDB table of the append-only audit trail",
    "SIGNOFF_IDENTITIES_TABLE": "DynamoDB table mapping Slack users to IAM principals",
    "SIGNOFF_IDEMPOTENCY_TABLE": "DynamoDB table for Powertools idempotency records",
    "SIGNOFF_DEFAULT_CHANNEL": "Slack channel id for approvals no route matches",
}


# The stack outputs (infra/template.yaml) the operator's CLI cannot work without, by field.
_REQUIRED_OUTPUTS: dict[str, str] = {
    "approvals_table": "ApprovalsTableName",
    "audit_table": "AuditTableName",
    "identities_table": "IdentitiesTableName",
    "idempotency_table": "IdempotencyTableName",
}

_EXPLAINED = {"AWS_REGION": "the AWS region Signoff works in (Lambda sets it)", **_REQUIRED}


def _parse_routes(raw: str) -> dict[str, str]:
    if not raw.strip():
        return {}
    try:
        routes = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"SIGNOFF_CHANNEL_ROUTES is not JSON ({exc.msg} at character {exc.pos}): expected an "
            'object such as {"AutomationApprovalLevel1": "C0123ABCD", "Signoff-AccessKey": "C0456"}'
        ) from exc
    if not isinstance(routes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in routes.items()
    ):
        raise ConfigError(
            "SIGNOFF_CHANNEL_ROUTES must map strings (topic ARN, topic name or document name) "
            "to Slack channel ids"
        )
    return routes


def _slack_id(env: Mapping[str, str], name: str, first: str) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if not (raw.startswith(first) and raw.isalnum() and raw.isupper() and len(raw) > 2):
        raise ConfigError(f"{name} must be a Slack id starting with {first} (e.g. {first}0123ABCD)")
    return raw


def _parse_int(
    env: Mapping[str, str],
    name: str,
    default: int,
    *,
    unit: str = "seconds",
    most: int | None = None,
) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number of {unit}, got {raw!r}") from exc
    if most is not None and not 0 <= value <= most:
        raise ConfigError(f"{name} must be 0 to {most} {unit}, got {value}")
    return value
