"""Composition: gateways and services built from Settings, once per cold start."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import msgspec
from botocore.config import Config
from slack_sdk import WebClient

from bot.access_keys import KeyIssuer, KeyRequestService
from bot.approvals import ApprovalService
from bot.concurrency import Once, in_background
from bot.config import Settings
from bot.errors import ConfigError
from bot.flows.service import FlowService
from bot.flows.tracker import FlowTracker
from bot.gateways.automation import ApproverSignals, AutomationGateway
from bot.gateways.aws import AWS_FAILURES, wrap_aws_error
from bot.gateways.dynamo import DynamoTable, TableAt
from bot.gateways.flowstore import FlowStore
from bot.gateways.iam import AccessKeyGateway
from bot.gateways.key_requests import KeyRequestRecords
from bot.gateways.pacing import ChannelPacer
from bot.gateways.runs import RunReader
from bot.gateways.session import ClientSource, LambdaSession
from bot.gateways.slack import SlackGateway
from bot.gateways.slack_client import web_client
from bot.gateways.stepfunctions import StepFunctionsGateway
from bot.gateways.tables import ApprovalStore, AuditLog, IdentityStore, SlackRequestLog
from bot.home import HomeHooks, HomeService
from bot.models import Approval
from bot.notices import NoticeService
from bot.results import ResultService

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

# botocore's "standard" mode retries throttling and 5xx with backoff before a gateway sees them.
AWS_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=15
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def clock_for(settings: Settings) -> Callable[[], datetime]:
    """The reconciler's clock: the wall clock, or the time the clock URL answers (the sandbox's,
    which tests move forward to see a reminder fall due; Settings.clock_url)."""
    if not settings.clock_url:
        return utc_now
    return partial(time_at, settings.clock_url)


def time_at(url: str) -> datetime:
    """The time a clock URL answers ({"now": <ISO 8601 time>}), with its offset."""
    # Imported on first use: deployed functions never set a clock URL and skip the cost.
    from urllib.request import urlopen

    with urlopen(url, timeout=5) as reply:  # noqa: S310 - a URL of the operator's own setting
        answer = json.load(reply)
    now = datetime.fromisoformat(str(answer["now"]))
    if now.tzinfo is None:
        raise ConfigError(f"SIGNOFF_CLOCK_URL {url} answered a time without its offset: {now}")
    return now


class SlackCredentials(msgspec.Struct, frozen=True):
    bot_token: str
    signing_secret: str

    def __repr__(self) -> str:
        # Never the values: a repr lands in logs and tracebacks.
        return "SlackCredentials(bot_token='**********', signing_secret='**********')"


class Services(msgspec.Struct, frozen=True):
    """Everything the listeners and handlers call, built once."""

    settings: Settings
    approvals: ApprovalService
    notices: NoticeService
    results: ResultService
    automation: AutomationGateway
    identities: IdentityStore
    audit: AuditLog
    store: ApprovalStore
    slack: SlackGateway
    key_requests: KeyRequestService
    flows: FlowService
    slack_requests: SlackRequestLog
    home: HomeService


def slack_credentials(settings: Settings, session: ClientSource) -> SlackCredentials:
    """Slack tokens from the Secrets Manager secret (deployed) or plain variables (local runs).

    Read once per cold start (the caller keeps them): a plain GetSecretValue, not Powertools'
    SecretsProvider, whose module imports boto3 (about 30 ms the functions otherwise skip).
    """
    settings.require_slack()
    if settings.slack_bot_token and settings.slack_signing_secret:
        return SlackCredentials(settings.slack_bot_token, settings.slack_signing_secret)
    arn = settings.slack_secret_arn
    assert arn is not None  # require_slack() guarantees one of the two
    try:
        secret = session.client("secretsmanager", config=AWS_CONFIG).get_secret_value(SecretId=arn)
    except AWS_FAILURES as exc:
        raise wrap_aws_error(exc, f"read the Slack secret {arn}") from exc
    try:
        value = json.loads(secret.get("SecretString") or "")
    except ValueError:
        value = None
    if (
        not isinstance(value, Mapping)
        or not value.get("bot_token")
        or not value.get("signing_secret")
    ):
        raise ConfigError(
            f"The secret {arn} must be JSON with keys bot_token and signing_secret "
            "(see docs/deploy.md, Fill the Slack secret)."
        )
    return SlackCredentials(str(value["bot_token"]), str(value["signing_secret"]))


def build_services(
    settings: Settings,
    session: ClientSource,
    slack_client: WebClient,
    now: Callable[[], datetime] = utc_now,
) -> Services:
    """Wire every gateway to its client and every service to its gateways."""
    dynamodb = lazy_client(session, "dynamodb")
    ssm = lazy_client(session, "ssm")
    automation = AutomationGateway(ssm, settings.region)
    store = ApprovalStore(TableAt(dynamodb, settings.approvals_table), now)
    identities = IdentityStore(TableAt(dynamodb, settings.identities_table))
    audit = AuditLog(TableAt(dynamodb, settings.audit_table), now)
    slack = SlackGateway(slack_client)

    def ssm_for(credentials: Mapping[str, str]) -> SSMClient:
        return session.client("ssm", config=AWS_CONFIG, **credentials)  # type: ignore[no-any-return]

    def route(approval: Approval) -> str:
        return settings.channel_for(approval.notification_arn, approval.document_name)

    flow_store = FlowStore(TableAt(dynamodb, settings.approvals_table), now)
    sfn = StepFunctionsGateway(lazy_client(session, "stepfunctions"))
    tracker = FlowTracker(
        flows=flow_store,
        identities=identities,
        sfn=sfn,
        slack=slack,
        audit=audit,
        channel_for=settings.channel_for,
        now=now,
        document=settings.approval_document,
    )
    records = KeyRequestRecords(TableAt(dynamodb, settings.approvals_table), now)
    home = HomeService(
        identities=identities,
        store=store,
        automation=automation,
        audit=audit,
        records=records,
        slack=slack,
        now=now,
    )
    approvals = ApprovalService(
        automation=automation,
        signals=ApproverSignals(lazy_client(session, "sts"), ssm_for),
        store=store,
        identities=identities,
        audit=audit,
        slack=slack,
        route=route,
        now=now,
        reminder_before=settings.reminder_before,
        # After each fresh read of an approval (a decision, an outcome), the Home tabs of the
        # people it concerns are republished too.
        flows=HomeHooks(tracker, home),
        pacer=ChannelPacer(
            DynamoTable(TableAt(dynamodb, settings.approvals_table), "approvals"),
            spacing=settings.slack_post_spacing.total_seconds(),
        ),
    )
    flows = FlowService(
        approvals=approvals,
        automation=automation,
        sfn=sfn,
        flows=flow_store,
        audit=audit,
        document=settings.approval_document,
        default_channel=settings.default_channel,
        channel_for=settings.channel_for,
        now=now,
    )
    key_requests = KeyRequestService(
        document=settings.access_key_document,
        admins=settings.admins,
        key_user_path=settings.key_user_path,
        automation=automation,
        runs=RunReader(ssm),
        keys=_access_keys(session),
        identities=identities,
        store=store,
        records=records,
        audit=audit,
        slack=slack,
        now=now,
    )
    return Services(
        settings=settings,
        approvals=approvals,
        notices=NoticeService(approvals, posted=home.execution_changed),
        results=ResultService(
            approvals,
            key_requests,
            store=store,
            own_documents=(settings.approval_document, settings.access_key_document),
        ),
        automation=automation,
        identities=identities,
        audit=audit,
        store=store,
        slack=slack,
        key_requests=key_requests,
        flows=flows,
        slack_requests=SlackRequestLog(TableAt(dynamodb, settings.approvals_table), now),
        home=home,
    )


def build_key_issuer(
    settings: Settings,
    session: ClientSource,
    now: Callable[[], datetime] = utc_now,
    *,
    dynamodb: Any = None,
) -> KeyIssuer:
    """What the access-key issuer Lambda needs: no Slack, just SSM reads, IAM, Secrets Manager.

    `dynamodb`: a client to share (the handler's idempotency records use one already).
    """
    dynamodb = dynamodb or lazy_client(session, "dynamodb")
    return KeyIssuer(
        document=settings.access_key_document,
        secret_prefix=settings.access_key_secret_prefix,
        key_user_path=settings.key_user_path,
        admin_role_arn=settings.key_admin_role_arn,
        approvers=settings.key_approvers,
        min_approvals=settings.key_min_approvals,
        automation=AutomationGateway(lazy_client(session, "ssm"), settings.region),
        keys=_access_keys(session),
        identities=IdentityStore(TableAt(dynamodb, settings.identities_table)),
        records=KeyRequestRecords(TableAt(dynamodb, settings.approvals_table), now),
        audit=AuditLog(TableAt(dynamodb, settings.audit_table), now),
        now=now,
    )


def _access_keys(session: ClientSource) -> AccessKeyGateway:
    return AccessKeyGateway(lazy_client(session, "iam"), lazy_client(session, "secretsmanager"))


class _Lazy:
    """An AWS client made on first use.

    Every handler builds every service, but each event needs only a few AWS services; a client
    costs its service model and a copy of botocore's event hooks (about 12 ms each, and IAM
    3.5 MB) at cold start. The Slack function's ack, for one, touches no AWS service but Lambda.
    """

    def __init__(self, make: Callable[[], Any]) -> None:
        self._client = Once(make)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client(), name)


def lazy_client(session: ClientSource, service: str) -> Any:
    """`session.client(service)` as it will be on first use (typed as the caller's client)."""
    return _Lazy(lambda: session.client(service, config=AWS_CONFIG))


def services_from_env(
    session: ClientSource | None = None,
    *,
    prefetch_slack: bool = False,
    follow_clock: bool = False,
) -> tuple[Services, Callable[[], SlackCredentials]]:
    """What a handler builds at cold start: settings, services, and the Slack credentials as a
    function: the secret is read on first need (the first Slack call, or the caller's).

    `prefetch_slack`: for functions whose events nearly all call Slack; the secret is read in
    the background from now on, while the event's first AWS calls are under way, instead of
    holding up the first Slack call.

    `follow_clock`: take "now" from Settings.clock_url when one is set (the reconciler, whose
    reminders fall due by the clock).
    """
    settings = Settings.from_env()
    settings.require_slack()  # a missing setting fails the cold start, not a later call
    session = session or LambdaSession(settings.region)
    credentials: Callable[[], SlackCredentials] = Once(
        partial(slack_credentials, settings, session)
    )
    if prefetch_slack:
        # A failure here is the first Slack call's to raise: it asks again.
        in_background(credentials)
    client = web_client(lambda: credentials().bot_token, settings.slack_api_url)
    now = clock_for(settings) if follow_clock else utc_now
    return build_services(settings, session, client, now), credentials
