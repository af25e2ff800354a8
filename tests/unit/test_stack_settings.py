"""Settings from a stack's outputs (`signoff --stack`), and the reconciler's clock setting."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import msgspec
import pytest

from bot import stack
from bot.config import DEFAULT_SLACK_API_URL, Settings
from bot.errors import ConfigError
from bot.wiring import clock_for, utc_now
from sandbox import runtime
from sandbox.cli import DEFAULT_PORTS
from sandbox.template import load_template

OUTPUTS = {
    "ApprovalsTableName": "signoff-ApprovalsTable-1A2B",
    "AuditTableName": "signoff-AuditTable-3C4D",
    "IdentitiesTableName": "signoff-IdentitiesTable-5E6F",
    "IdempotencyTableName": "signoff-IdempotencyTable-7G8H",
    "DefaultChannel": "C0DEFAULT",
    "Region": "eu-west-1",
    "SlackSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:signoff-slack-AbCdEf",
    "ApprovalDocumentName": "signoff-ApprovalDocument-9I0J",
    "AccessKeyDocumentName": "signoff-AccessKeyDocument-1K2L",
    "BotRoleArn": "arn:aws:iam::123456789012:role/signoff-SlackEventsRole-X",
}


def test_every_name_the_cli_needs_comes_from_the_outputs() -> None:
    settings = Settings.from_stack_outputs(OUTPUTS, region="us-east-1")

    assert settings.approvals_table == "signoff-ApprovalsTable-1A2B"
    assert settings.audit_table == "signoff-AuditTable-3C4D"
    assert settings.identities_table == "signoff-IdentitiesTable-5E6F"
    assert settings.idempotency_table == "signoff-IdempotencyTable-7G8H"
    assert settings.default_channel == "C0DEFAULT"
    assert settings.slack_secret_arn == OUTPUTS["SlackSecretArn"]
    assert settings.approval_document == "signoff-ApprovalDocument-9I0J"
    assert settings.access_key_document == "signoff-AccessKeyDocument-1K2L"
    # The stack says where it runs; the region it was looked up in is only the fallback.
    assert settings.region == "eu-west-1"
    assert settings.slack_api_url == DEFAULT_SLACK_API_URL


def test_a_stack_from_before_the_region_and_channel_outputs_still_serves_the_cli() -> None:
    older = {k: v for k, v in OUTPUTS.items() if k not in {"Region", "DefaultChannel"}}

    settings = Settings.from_stack_outputs(
        older, region="us-east-2", slack_api_url="http://127.0.0.1:3000/api/"
    )

    assert settings.region == "us-east-2"
    assert settings.default_channel == ""
    assert settings.slack_api_url == "http://127.0.0.1:3000/api/"


def test_names_every_missing_table_output() -> None:
    partial = {
        k: v for k, v in OUTPUTS.items() if k not in {"AuditTableName", "IdempotencyTableName"}
    }

    with pytest.raises(ConfigError) as refused:
        Settings.from_stack_outputs(partial, region="us-east-1")

    assert "AuditTableName" in str(refused.value)
    assert "IdempotencyTableName" in str(refused.value)
    assert "ApprovalsTableName" not in str(refused.value)


def test_the_template_has_every_output_the_cli_reads() -> None:
    outputs = load_template()["Outputs"]
    read = {*OUTPUTS} - {"BotRoleArn"} | {"ReconcileFunctionArn"}
    assert read <= set(outputs)


def test_the_cli_knows_the_sandbox_where_make_sandbox_puts_it() -> None:
    assert f"http://127.0.0.1:{DEFAULT_PORTS['aws']}" == stack.SANDBOX_AWS_URL
    assert f"http://127.0.0.1:{DEFAULT_PORTS['slack']}/api/" == stack.SANDBOX_SLACK_API_URL
    assert stack.SANDBOX_REGION == runtime.REGION
    assert stack.SANDBOX_KEY == runtime.ACCESS_KEY_ID == runtime.SECRET_ACCESS_KEY


def test_the_sandbox_session_signs_with_its_fake_key_whatever_the_environment_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLENOTREAL")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")

    session = stack.session_for(region=None, endpoint_url=None, sandbox=True)
    client = session.client("dynamodb")

    assert session.get_credentials().access_key == "testing"
    assert client.meta.endpoint_url == "http://127.0.0.1:4566"
    assert client.meta.region_name == "us-east-1"
    other = stack.session_for(region=None, endpoint_url="http://127.0.0.1:4599", sandbox=True)
    assert other.client("ssm").meta.endpoint_url == "http://127.0.0.1:4599"


def test_without_an_endpoint_clients_go_to_aws() -> None:
    session = stack.session_for(region="eu-west-1", endpoint_url=None)
    assert (
        session.client("dynamodb").meta.endpoint_url == "https://dynamodb.eu-west-1.amazonaws.com"
    )


# -- the reconciler's clock -------------------------------------------------------------------


def test_the_clock_url_is_a_setting() -> None:
    env = {
        "AWS_REGION": "us-east-1",
        "SIGNOFF_APPROVALS_TABLE": "a",
        "SIGNOFF_AUDIT_TABLE": "b",
        "SIGNOFF_IDENTITIES_TABLE": "c",
        "SIGNOFF_IDEMPOTENCY_TABLE": "d",
        "SIGNOFF_DEFAULT_CHANNEL": "C0DEFAULT",
    }
    assert Settings.from_env(env).clock_url is None
    with_clock = Settings.from_env(
        {**env, "SIGNOFF_CLOCK_URL": "http://127.0.0.1:4566/_sandbox/clock"}
    )
    assert with_clock.clock_url == "http://127.0.0.1:4566/_sandbox/clock"


@pytest.fixture
def clock_server() -> Iterator[tuple[str, list[str]]]:
    """A clock URL answering a time a week ahead (as the sandbox's after an advance)."""
    answers: list[str] = []

    class Clock(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            now = (datetime.now(UTC) + timedelta(days=7)).isoformat()
            answers.append(now)
            body = json.dumps({"now": now, "offset_seconds": 604800}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Clock)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/_sandbox/clock", answers
    finally:
        server.shutdown()
        server.server_close()


def test_the_reconciler_reads_now_from_the_clock_url_each_time(
    clock_server: tuple[str, list[str]],
) -> None:
    url, answers = clock_server
    settings = Settings.from_stack_outputs(OUTPUTS, region="us-east-1")
    assert clock_for(settings) is utc_now

    now = clock_for(msgspec.structs.replace(settings, clock_url=url))
    first, second = now(), now()

    assert first.isoformat() == answers[0] and second.isoformat() == answers[1]
    assert first - datetime.now(UTC) > timedelta(days=6)


def test_make_sandbox_prints_the_bare_cli_on_its_default_ports_and_the_endpoints_otherwise() -> (
    None
):
    from sandbox.cli import operator_cli

    assert operator_cli("http://127.0.0.1:4566", "http://127.0.0.1:3000") == "signoff --sandbox"
    assert operator_cli("http://127.0.0.1:4700", "http://127.0.0.1:3100") == (
        "signoff --sandbox --endpoint-url http://127.0.0.1:4700 "
        "--slack-api-url http://127.0.0.1:3100/api/"
    )


def test_a_sandbox_that_is_not_running_is_one_line_and_a_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main

    # Port 9 (discard) on loopback: nothing answers.
    code = main(["--sandbox", "--endpoint-url", "http://127.0.0.1:9", "users", "list"])

    said = capsys.readouterr().err
    assert code == 2
    assert "is the sandbox running? (make sandbox)" in said and "Traceback" not in said
