"""Read what tests need from infra/template.yaml (the same file that deploys), not from copies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that keeps CloudFormation's short tags (!Ref, !Sub…) as plain values."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _tag)


def load_template() -> dict[str, Any]:
    return dict(yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader))  # noqa: S506 - safe loader subclass


def approval_document_content() -> str:
    content = load_template()["Resources"]["ApprovalDocument"]["Properties"]["Content"]
    return yaml.safe_dump(content, sort_keys=False)
