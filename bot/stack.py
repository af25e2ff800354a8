"""Where the operator's CLI finds Signoff: a stack's outputs, in AWS or in the local sandbox.

`signoff --stack NAME …` reads every name it needs from the stack's outputs (DescribeStacks), so
nothing but AWS credentials and a region has to be set. `signoff --sandbox …` is the same against
`make sandbox`: its stack, at its fixed local endpoints, with its fake credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3

from bot.config import Settings
from bot.errors import ConfigError
from bot.wiring import AWS_CONFIG

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

# `make sandbox`'s fixed addresses (sandbox/cli.py's default ports; a test keeps them equal) and
# its fake credentials: bot/ never imports the sandbox, which the Lambda artifact leaves out.
SANDBOX_AWS_URL = "http://127.0.0.1:4566"
SANDBOX_SLACK_API_URL = "http://127.0.0.1:3000/api/"
SANDBOX_STACK = "signoff"
SANDBOX_REGION = "us-east-1"
SANDBOX_KEY = "testing"


class EndpointSession(boto3.Session):
    """A boto3 session whose clients all call one endpoint (a local AWS) unless told another.

    boto3 has no session-wide endpoint but the AWS_ENDPOINT_URL variable; this keeps the CLI's
    choice inside the process, for the clients `signoff doctor` makes from the session too.
    """

    def __init__(self, endpoint_url: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.endpoint_url = endpoint_url

    def client(self, service_name: str, **kwargs: Any) -> Any:  # type: ignore[override]
        if self.endpoint_url and kwargs.get("endpoint_url") is None:
            kwargs["endpoint_url"] = self.endpoint_url
        return super().client(service_name, **kwargs)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Found:
    """A deployment the CLI found: its settings, a session for its AWS, the stack's outputs."""

    settings: Settings
    session: EndpointSession
    stack: str
    outputs: Mapping[str, str] = field(default_factory=dict)


def session_for(
    *, region: str | None, endpoint_url: str | None, sandbox: bool = False
) -> EndpointSession:
    """The session the CLI's AWS calls go through. The sandbox's: its endpoint, region and fake
    key, whatever the environment holds (a real profile never signs a call to it)."""
    if sandbox:
        return EndpointSession(
            endpoint_url or SANDBOX_AWS_URL,
            aws_access_key_id=SANDBOX_KEY,
            aws_secret_access_key=SANDBOX_KEY,
            region_name=region or SANDBOX_REGION,
        )
    return EndpointSession(endpoint_url, region_name=region)


def find(
    stack: str | None,
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    sandbox: bool = False,
    slack_api_url: str | None = None,
) -> Found:
    """Settings from `stack`'s outputs (the sandbox's stack when `sandbox` and no `stack`)."""
    session = session_for(region=region, endpoint_url=endpoint_url, sandbox=sandbox)
    if not session.region_name:
        raise ConfigError("no AWS region: pass --region, or set AWS_REGION or AWS_DEFAULT_REGION")
    name = stack or SANDBOX_STACK
    cloudformation = session.client("cloudformation", config=AWS_CONFIG)
    outputs = stack_outputs(cloudformation, name)
    settings = Settings.from_stack_outputs(
        outputs,
        region=session.region_name,
        slack_api_url=slack_api_url or (SANDBOX_SLACK_API_URL if sandbox else None),
    )
    return Found(settings, session, name, outputs)


def stack_outputs(cloudformation: CloudFormationClient, stack: str) -> dict[str, str]:
    """A stack's outputs by key."""
    [described] = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
