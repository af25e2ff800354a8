"""Fixtures every test level shares: fake AWS credentials, the integration world, the leak scan."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import botocore.loaders
import botocore.session
import pytest
from hypothesis import HealthCheck, settings

from tests.support.leaks import LogSpy, find_leaks, moto_issued_secrets
from tests.support.world import (
    BOT_TOKEN,
    REGION,
    SIGNING_SECRET,
    World,
    provision,
    slack_request_url,
)

# Property tests (tests/hardening): a few dozen derandomized cases in `make test`;
# `pytest tests/hardening --hypothesis-profile=long` runs at least 10,000 per property.
settings.register_profile(
    "ci",
    max_examples=30,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long", max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci")  # --hypothesis-profile, read after this file, overrides it

HANDLER_CACHES = (
    "handlers.slack_events.slack_handler",
    "handlers.approval_notice.services",
    "handlers.automation_result.services",
    "handlers.reconcile.services",
    "handlers.start_approval.services",
    "handlers.issue_access_key.issue",
)


@pytest.fixture(autouse=True, scope="session")
def _one_model_loader_per_data_path() -> Iterator[None]:
    """Every botocore session makes its own loader, which parses botocore's JSON (endpoints,
    partitions, each service's model) again: about a quarter of a second for each test that
    makes a client, since moto hands each test a new default session. In this process, sessions
    share one loader per data path (`AWS_DATA_PATH`); the parsed models are only read."""
    loaders: dict[str | None, botocore.loaders.Loader] = {}

    def shared(search_path_string: str | None = None) -> botocore.loaders.Loader:
        if search_path_string not in loaders:
            loaders[search_path_string] = botocore.loaders.create_loader(search_path_string)
        return loaders[search_path_string]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", shared)
        yield


@pytest.fixture(autouse=True, scope="session")
def _handlers_imported_before_any_thread() -> None:
    """Each handler module pauses the cyclic collector while it is imported, then freezes what
    exists and resumes it (handlers/__init__.py). On Lambda a process imports one handler,
    before any thread. Here the functions run on threads of one process: two first imports at
    once would leave the collector paused for good, and a freeze could land while another
    thread is inside a collection. So they are all imported now, on the main thread, with
    what Powertools reads at import (service name, log level) as the template gives every
    function."""
    import importlib

    from sandbox.template import load_template, resolver

    template = load_template()
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    with pytest.MonkeyPatch.context() as env:
        for name in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL"):
            env.setenv(name, str(resolver(template).resolve(variables[name])))
        for dotted in HANDLER_CACHES:
            importlib.import_module(dotted.rpartition(".")[0])


@pytest.fixture(autouse=True)
def _fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # Obviously fake keys: nothing in the test suite may reach a real AWS account.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def _clear_handler_caches() -> None:
    import importlib

    for dotted in HANDLER_CACHES:
        module_name, _, name = dotted.rpartition(".")
        getattr(importlib.import_module(module_name), name).cache_clear()


@pytest.fixture
def world_parameters() -> dict[str, str]:
    """Template parameters a test module's world needs besides the world's own (override it)."""
    return {}


@pytest.fixture
def world_template() -> Path:
    """The template the world is deployed from (a test may hand it a changed copy)."""
    from sandbox.template import TEMPLATE_PATH

    return TEMPLATE_PATH


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch, world_parameters: dict[str, str], world_template: Path
) -> Iterator[World]:
    """infra/template.yaml deployed into moto + the SSM engine + the Slack emulator, fresh for
    one test (tests/support/world.py)."""
    from moto import mock_aws

    import sandbox.aws
    from sandbox.aws import access
    from sandbox.slack.emulator import SlackEmulator

    sandbox.aws.install()
    # Role sessions (the functions, people acting through their roles) are held to their
    # roles' policies, as the sandbox holds them (sandbox/aws/access.py says how far).
    enforcing = access.enforce(True)
    emulator = SlackEmulator(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
    emulator.start()
    _clear_handler_caches()
    # The stack's state machines run (moto's interpreter): flow B is part of every world.
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        session = boto3.Session(region_name=REGION)
        provisioned = provision(session, emulator.api_url, world_parameters, world_template)
        # Code a test runs in its own process (a handler called directly) sees what the Slack
        # function sees.
        for key, value in provisioned.env.items():
            monkeypatch.setenv(key, value)
        with slack_request_url(session) as bot_url:
            emulator.configure(bot_url=bot_url)
            yield World(
                session=session,
                stack=provisioned.stack,
                slack_url=emulator.url,
                bot_url=bot_url,
                settle_engine=lambda: _settle_all(emulator),
                env=provisioned.env,
                emulator=emulator,
            )
            sandbox.aws.settle()
    emulator.stop()
    access.enforce(enforcing)
    sandbox.aws.reset()
    _clear_handler_caches()


def _settle_all(emulator: object) -> None:
    import sandbox.aws

    # Lazy listeners, SNS and EventBridge deliveries and the engine all run on background
    # threads; settle twice so work that one round started is finished by the next.
    for _ in range(2):
        sandbox.aws.settle()


@pytest.fixture
def assume_role() -> Callable[[str, str], boto3.Session]:
    """A boto3 session acting as a role session, as a person using the console or CLI would."""

    def assume(role_arn: str, session_name: str) -> boto3.Session:
        creds = boto3.client("sts", region_name=REGION).assume_role(
            RoleArn=role_arn, RoleSessionName=session_name
        )["Credentials"]
        return boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=REGION,
        )

    return assume


@pytest.fixture
def advance_clock() -> Callable[[float], None]:
    import sandbox.aws

    return sandbox.aws.clock.advance


@pytest.fixture
def watched_secrets() -> set[str]:
    """Secrets a test knows of (e.g. a key it issued); the leak scan looks for them too."""
    return set()


@pytest.fixture(autouse=True)
def _no_secret_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """For tests that use the world: no token, signing secret or secret key in Slack or logs."""
    if "world" not in request.fixturenames:
        yield
        return
    with LogSpy().installed() as logs:
        # Requested here, after the spy is in place: the world's set-up is scanned too, and the
        # world is torn down after this fixture has looked at it.
        world: World = request.getfixturevalue("world")
        watched: set[str] = request.getfixturevalue("watched_secrets")
        yield
        with contextlib.suppress(TimeoutError):  # the test failed already; scan what there is
            world.settle()
        sources = {
            "Slack Web API calls": world.control("GET", "calls")["calls"],
            "requests Slack sent the bot, and its answers": world.control("GET", "interactions"),
            "log records": logs.lines,
        }
        secrets = {BOT_TOKEN, SIGNING_SECRET, *moto_issued_secrets(), *watched}
    leaks = find_leaks(sources, secrets)
    assert not leaks, "secrets leaked:\n  " + "\n  ".join(leaks)


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[object]:
    """`signoff sandbox` in this process on free ports, shared by a module (e2e, browser)."""
    from sandbox.runtime import Sandbox

    with pytest.MonkeyPatch.context() as env:
        # The functions run in this process and sign with its credentials: fake ones.
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", REGION)
        env.delenv("AWS_PROFILE", raising=False)
        env.delenv("AWS_ENDPOINT_URL", raising=False)
        with Sandbox(aws_port=0, slack_port=0, bot_port=0) as sandbox:
            yield sandbox
