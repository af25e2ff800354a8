"""Doctor's Slack checks: the secret holds a bot token and signing secret; the token works and
carries every scope Signoff uses."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.error import URLError

from botocore.exceptions import ClientError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import slack_api_url
from bot.doctor.findings import Finding
from bot.gateways.aws import error_code, error_message

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

# The bot scopes Signoff's Slack calls need: infra/slack-manifest.yaml's (a test keeps them equal).
REQUIRED_BOT_SCOPES = ("channels:history", "chat:write", "commands", "groups:history", "im:write")
# auth.test for a bot token: Slack's answer and its HTTP headers (X-OAuth-Scopes names the scopes).
SlackAuthTest = Callable[[str], tuple[Mapping[str, Any], Mapping[str, str]]]
_FILL_COMMAND = (
    "aws secretsmanager put-secret-value --secret-id {arn} "
    '--secret-string \'{{"bot_token":"xoxb-…","signing_secret":"…"}}\''
)


class SlackChecks:
    """The Slack secret, then (when it holds a bot token and `slack_auth_test` is given) the app."""

    def __init__(
        self, secrets: SecretsManagerClient, slack_auth_test: SlackAuthTest | None = None
    ) -> None:
        self._secrets = secrets
        self._slack_auth_test = slack_auth_test
        self._bot_token: str | None = None

    def run(self, arn: str | None) -> list[Finding]:
        findings = self.check_slack_secret(arn)
        if self._bot_token and self._slack_auth_test is not None:
            findings += self.check_slack_app(self._bot_token)
        return findings

    def check_slack_secret(self, arn: str | None) -> list[Finding]:
        subject = "Slack secret"
        if not arn:
            return [
                Finding(
                    False,
                    subject,
                    "no secret named",
                    "pass --stack, or set SLACK_SECRET_ARN (stack output SlackSecretArn)",
                )
            ]
        subject = f"Slack secret {arn}"
        try:
            raw = self._secrets.get_secret_value(SecretId=arn).get("SecretString", "")
        except ClientError as exc:
            return [self._secret_error(subject, arn, exc)]
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            return [Finding(False, subject, "is not a JSON object", _FILL_COMMAND.format(arn=arn))]
        missing = [k for k in ("bot_token", "signing_secret") if not value.get(k)]
        if missing:
            return [
                Finding(
                    False,
                    subject,
                    f"has no {' and no '.join(missing)}",
                    _FILL_COMMAND.format(arn=arn),
                )
            ]
        if not str(value["bot_token"]).startswith("xoxb-"):
            return [
                Finding(
                    False,
                    subject,
                    "bot_token is not a bot token (xoxb-…)",
                    "copy the Bot User OAuth Token from the Slack app's OAuth & Permissions page, "
                    + _FILL_COMMAND.format(arn=arn),
                )
            ]
        self._bot_token = str(value["bot_token"])
        return [Finding(True, subject, "filled, with bot_token and signing_secret")]

    # -- the Slack app --------------------------------------------------------------------------

    def check_slack_app(self, bot_token: str) -> list[Finding]:
        """The secret's bot token works (auth.test) and carries every scope Signoff uses."""
        assert self._slack_auth_test is not None
        subject = "Slack app"
        try:
            answer, headers = self._slack_auth_test(bot_token)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else "unknown"
            return [
                Finding(
                    False,
                    subject,
                    f"Slack refused the bot token ({error})",
                    "reinstall the app to the workspace and put its Bot User OAuth Token in the "
                    "secret (docs/deploy.md, Slack app set-up)",
                )
            ]
        except (URLError, OSError) as exc:
            return [
                Finding(
                    False,
                    subject,
                    f"could not reach Slack ({exc})",
                    "run doctor where Slack's API is reachable, or pass --skip-slack",
                )
            ]
        works = Finding(
            True, subject, f"the bot token works ({answer.get('user')} in {answer.get('team')})"
        )
        raw = next((v for k, v in headers.items() if k.lower() == "x-oauth-scopes"), "")
        granted = {scope.strip() for scope in str(raw).split(",") if scope.strip()}
        missing = [scope for scope in REQUIRED_BOT_SCOPES if scope not in granted]
        if not missing:
            return [works, Finding(True, "Slack app scopes", ", ".join(REQUIRED_BOT_SCOPES))]
        return [
            works,
            Finding(
                False,
                "Slack app scopes",
                f"missing {', '.join(missing)}",
                "add them under OAuth & Permissions → Bot Token Scopes (or update the app from "
                "infra/slack-manifest.yaml) and reinstall the app; without channels:history and "
                "groups:history a card whose post went unanswered cannot be looked for",
            ),
        ]

    @staticmethod
    def _secret_error(subject: str, arn: str, exc: ClientError) -> Finding:
        code = error_code(exc)
        if code == "ResourceNotFoundException" and "AWSCURRENT" in error_message(exc):
            # The template creates the secret empty on purpose; it has no version until filled.
            return Finding(
                False, subject, "exists but was never filled", _FILL_COMMAND.format(arn=arn)
            )
        if code == "ResourceNotFoundException":
            return Finding(
                False,
                subject,
                "does not exist",
                "deploy infra/template.yaml, or check SLACK_SECRET_ARN (stack output "
                "SlackSecretArn)",
            )
        if code in {"AccessDeniedException", "AccessDenied"}:
            return Finding(
                False,
                subject,
                "your credentials may not read it",
                "run doctor with credentials that have secretsmanager:GetSecretValue on it",
            )
        return Finding(False, subject, f"could not be read ({code})")


def slack_auth_test(
    bot_token: str, api_url: str | None = None
) -> tuple[Mapping[str, Any], Mapping[str, str]]:
    """auth.test at `api_url`, else SLACK_API_URL (Slack itself by default): answer, headers."""
    answer = WebClient(token=bot_token, base_url=api_url or slack_api_url(), timeout=10).auth_test()
    return dict(answer.data) if isinstance(answer.data, dict) else {}, dict(answer.headers)
