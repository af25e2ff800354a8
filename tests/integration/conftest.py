"""Fixtures for tests that drive the local AWS (moto + the SSM Automation engine) with boto3."""

from __future__ import annotations

import contextlib
import io
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.models import MockAWS

import sandbox.aws
from sandbox.aws.clock import Clock
from sandbox.aws.server import SandboxServer
from tests.support.world import trust_policy

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

Handler = Callable[[Any, Any], Any]


def boto_session(**credentials: str) -> boto3.Session:
    """A boto3 session (default credentials, or the ones given); sessions share the parsed
    models (tests/conftest.py), so a test can afford a session per principal."""
    return boto3.Session(region_name=REGION, **credentials)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[MockAWS]:
    """A fresh moto world with every sandbox patch; state machines really execute."""
    # Obviously fake credentials: nothing here may reach a real AWS account.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    sandbox.aws.install()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}) as mock:
        try:
            yield mock
        finally:
            sandbox.aws.settle()
    sandbox.aws.reset()


@pytest.fixture
def server(aws: MockAWS) -> Iterator[SandboxServer]:
    """The local AWS over HTTP on a free port, serving this test's moto world."""
    with SandboxServer(port=0) as running:
        yield running


@pytest.fixture
def engine_settle(aws: MockAWS) -> Callable[..., None]:
    """`sandbox.aws.settle`: wait until the engine and async Lambdas are idle."""
    return sandbox.aws.settle


@pytest.fixture
def clock(aws: MockAWS) -> Clock:
    """The engine clock; `clock.advance(seconds)` jumps time forward (reset after the test)."""
    return sandbox.aws.clock


class Recorder:
    """A Lambda handler that remembers every event it receives, and answers `result`."""

    def __init__(self, result: Any = None) -> None:
        self.result = result
        self.events: list[Any] = []
        self.contexts: list[Any] = []
        self._lock = threading.Lock()

    def __call__(self, event: Any, context: Any) -> Any:
        with self._lock:
            self.events.append(event)
            self.contexts.append(context)
        return self.result


@pytest.fixture
def recorder() -> Callable[..., Recorder]:
    """Make a `Recorder` handler: `recorder(result)` remembers events, answers `result`."""
    return Recorder


@pytest.fixture
def deploy_lambda(aws: MockAWS) -> Callable[..., str]:
    """Create a function in moto that runs `handler` in-process; returns the function ARN."""
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(
        RoleName="sandbox-test-lambda", AssumeRolePolicyDocument=trust_policy("lambda")
    )["Role"]["Arn"]
    client = boto3.client("lambda", region_name=REGION)

    def deploy(
        name: str,
        handler: Handler | None = None,
        *,
        handler_path: str = "index.lambda_handler",
        environment: dict[str, str] | None = None,
    ) -> str:
        if handler is not None:
            sandbox.aws.lambdas.register(name, handler)
        function = client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler=handler_path,
            Code={"ZipFile": _zip()},
            Environment={"Variables": environment or {}},
        )
        return str(function["FunctionArn"])

    return deploy


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def lambda_handler(event, context):\n    return event\n")
    return buffer.getvalue()


@pytest.fixture
def create_runbook(aws: MockAWS) -> Callable[..., str]:
    """Create an Automation document from a tests/fixtures file (or YAML text); returns its name."""
    ssm = boto3.client("ssm", region_name=REGION)

    def create(name: str, fixture: str | None = None, *, content: str | None = None) -> str:
        text = content if content is not None else (FIXTURES / str(fixture)).read_text()
        ssm.create_document(
            Name=name, Content=text, DocumentType="Automation", DocumentFormat="YAML"
        )
        return name

    return create


@pytest.fixture
def role_session(aws: MockAWS) -> Callable[[str, str], boto3.Session]:
    """A boto3 session for one session of a role, from `sts.assume_role`."""

    def assume(role_arn: str, session_name: str) -> boto3.Session:
        creds = boto3.client("sts", region_name=REGION).assume_role(
            RoleArn=role_arn, RoleSessionName=session_name
        )["Credentials"]
        return boto_session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )

    return assume


@pytest.fixture
def user_session(aws: MockAWS) -> Callable[[str], boto3.Session]:
    """A boto3 session with a new access key of IAM user `name` (created if missing)."""
    iam = boto3.client("iam", region_name=REGION)

    def login(name: str) -> boto3.Session:
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_user(UserName=name)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return boto_session(
            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
        )

    return login


@pytest.fixture
def create_role(aws: MockAWS) -> Callable[[str], str]:
    """Create an IAM role that people assume; returns its ARN."""
    iam = boto3.client("iam", region_name=REGION)

    def create(name: str) -> str:
        return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"])

    return create
