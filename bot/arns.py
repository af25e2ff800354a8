"""ARNs in every AWS partition: aws, aws-cn, aws-us-gov and the ISO partitions alike."""

from __future__ import annotations

import re

# `aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, `aws-iso-b`, `aws-iso-e`, `aws-iso-f`, `aws-eusc`:
# the partition is the ARN's second field, never assumed to be `aws`.
PARTITION = r"aws(?:-[a-z]+)*"
_ARN = re.compile(rf"^arn:(?P<partition>{PARTITION}):(?P<service>[a-z0-9-]+):[^:]*:[^:]*:.+$")
_TOPIC = re.compile(rf"^arn:{PARTITION}:sns:[a-z0-9-]+:\d{{12}}:(?P<name>[A-Za-z0-9_-]{{1,256}})$")
_ROLE = re.compile(rf"^arn:{PARTITION}:iam::\d{{12}}:role/[\w+=,.@/-]{{1,512}}$")

ROLE_ARN_SHAPE = "arn:<partition>:iam::<account>:role/<name>"


def partition_of(arn: str) -> str | None:
    """The partition an ARN is in (`aws-cn` for `arn:aws-cn:…`); None for what is no ARN."""
    match = _ARN.match(arn)
    return match.group("partition") if match else None


def topic_name(arn: str) -> str | None:
    """The name of an SNS topic ARN, in any partition; None for anything else."""
    match = _TOPIC.match(arn)
    return match.group("name") if match else None


def role_arn(arn: str) -> str | None:
    """`arn` when it is an IAM role ARN (any partition, any path), else None."""
    return arn if _ROLE.match(arn) else None


def account_root(arn: str) -> str:
    """The ARN that stands for the whole account of `arn` (`arn:aws-cn:iam::ACCT:root`)."""
    parts = arn.split(":", 5)
    return f"arn:{parts[1]}:iam::{parts[4]}:root"
