"""The trimmed AWS service models the Lambda functions load, written by `make package`.

botocore reads a service's whole API model when a client is made: SSM's is 1.6 MB of JSON,
DynamoDB's 0.6 MB, plus a 1.3 MB endpoints file that covers every AWS service. The functions call
a few dozen operations, so `make package` writes models cut down to exactly those (documentation
stripped) into the artifact's `aws_models/`, and the template points botocore's documented
`AWS_DATA_PATH` at it (docs/decisions/0015-trimmed-aws-models.md). Nothing here is committed:
the models come from the botocore installed from the lock, the one the artifact ships.

Which operations: every `client.<operation>(...)` and `get_paginator("<operation>")` that bot/
and handlers/ call, found in their source, plus the calls libraries make on our clients
(LIBRARY_CALLS). tests/infra/test_aws_models.py checks that a client loading them has every one.

    .venv/bin/python infra/aws_models.py --out DIR    # write the models into DIR
    AWS_DATA_PATH=DIR python ...                       # and have botocore read them
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import botocore
from botocore import xform_name
from botocore.loaders import Loader

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "build" / "aws_models"
SOURCES = ("bot", "handlers")
# The services the functions make clients for (bot/wiring.py, handlers/).
SERVICES = ("dynamodb", "iam", "lambda", "secretsmanager", "ssm", "stepfunctions", "sts")
# Calls made on our clients by library code, which the source scan cannot see.
LIBRARY_CALLS = {
    # Powertools' idempotency layer (handlers/issue_access_key.py) on the client it is given.
    "dynamodb": ("GetItem", "PutItem", "UpdateItem", "DeleteItem"),
    # Bolt's LambdaLazyListenerRunner (handlers/slack_events.py): each lazy listener is an
    # asynchronous invocation of the function itself, on the Lambda client Signoff hands it.
    "lambda": ("Invoke",),
}
# Files botocore reads for any client, copied as they are.
SHARED_FILES = ("partitions.json", "sdk-default-configuration.json", "_retry.json")
_DROPPED_KEYS = frozenset({"documentation", "documentationUrl", "examples"})


def called_names(roots: Iterable[Path]) -> set[str]:
    """Every `x.name(...)` attribute call and `get_paginator("name")` argument in the sources."""
    names: set[str] = set()
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                    continue
                names.add(node.func.attr)
                if node.func.attr == "get_paginator" and node.args:
                    first = node.args[0]
                    if isinstance(first, ast.Constant) and isinstance(first.value, str):
                        names.add(first.value)
    return names


def wanted_operations(loader: Loader, names: set[str]) -> dict[str, list[str]]:
    """Per service, the operations (API names) the sources or the libraries call."""
    wanted = {}
    for service in SERVICES:
        model = loader.load_service_model(service, "service-2")
        found = {op for op in model["operations"] if xform_name(op) in names}
        wanted[service] = sorted(found | set(LIBRARY_CALLS.get(service, ())))
    return wanted


def trim_service(model: dict[str, Any], operations: Iterable[str]) -> dict[str, Any]:
    """The model with only `operations` and the shapes they reach, without documentation."""
    shapes: dict[str, Any] = {}

    def reach(name: str) -> None:
        if name in shapes:
            return
        shape = model["shapes"][name]
        shapes[name] = shape
        for key in ("member", "key", "value"):
            if key in shape:
                reach(shape[key]["shape"])
        for member in shape.get("members", {}).values():
            reach(member["shape"])

    kept = {}
    for name in operations:
        operation = model["operations"][name]
        kept[name] = operation
        for key in ("input", "output"):
            if key in operation:
                reach(operation[key]["shape"])
        for error in operation.get("errors", []):
            reach(error["shape"])
    trimmed = {**model, "operations": kept, "shapes": dict(sorted(shapes.items()))}
    return _without_docs(trimmed)


def trim_paginators(paginators: dict[str, Any], operations: Iterable[str]) -> dict[str, Any]:
    keep = set(operations)
    return {"pagination": {k: v for k, v in paginators["pagination"].items() if k in keep}}


def trim_endpoints(endpoints: dict[str, Any], prefixes: set[str]) -> dict[str, Any]:
    """endpoints.json with every partition, but only the services we call."""
    partitions = [
        {**p, "services": {k: v for k, v in p["services"].items() if k in prefixes}}
        for p in endpoints["partitions"]
    ]
    return {**endpoints, "partitions": partitions}


def _without_docs(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_docs(v) for k, v in value.items() if k not in _DROPPED_KEYS}
    if isinstance(value, list):
        return [_without_docs(v) for v in value]
    return value


def bundle(target: Path) -> dict[str, list[str]]:
    """Write the trimmed models into `target`; return the operations kept per service."""
    loader = Loader()
    data = Path(botocore.__file__).parent / "data"
    wanted = wanted_operations(loader, called_names(ROOT / s for s in SOURCES))
    prefixes = set()
    for service, operations in wanted.items():
        version = loader.determine_latest_version(service, "service-2")
        model = loader.load_service_model(service, "service-2", version)
        prefixes.add(model["metadata"]["endpointPrefix"])
        folder = target / service / version
        _write(folder / "service-2.json", trim_service(model, operations))
        rules = loader.load_data(f"{service}/{version}/endpoint-rule-set-1")
        _write(folder / "endpoint-rule-set-1.json", rules)
        try:
            paginators = loader.load_service_model(service, "paginators-1", version)
        except botocore.exceptions.DataNotFoundError:
            paginators = None
        pages = trim_paginators(paginators, operations) if paginators else None
        if pages and pages["pagination"]:
            _write(folder / "paginators-1.json", pages)
    _write(target / "endpoints.json", trim_endpoints(loader.load_data("endpoints"), prefixes))
    for name in SHARED_FILES:
        shutil.copyfile(data / name, target / name)
    _write(target / "operations.json", wanted)
    return wanted


def called_operations() -> dict[str, list[str]]:
    """Per service, the operations bot/ and handlers/ (and the libraries) call."""
    return wanted_operations(Loader(), called_names(ROOT / s for s in SOURCES))


def missing_operations(models: Path) -> dict[str, list[str]]:
    """Per service, operations the code calls that the models in `models` do not have."""
    shipped = json.loads((models / "operations.json").read_text())
    wanted = called_operations()
    missing = {s: sorted(set(ops) - set(shipped.get(s, []))) for s, ops in wanted.items()}
    return {s: ops for s, ops in missing.items() if ops}


def _write(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")


def _files(root: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(root.rglob("*.json")):
        yield path.relative_to(root).as_posix(), path.read_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=OUTPUT, help="folder to (re)write")
    args = parser.parse_args(argv)
    out: Path = args.out
    shutil.rmtree(out, ignore_errors=True)
    wanted = bundle(out)
    size = sum(len(data) for _, data in _files(out))
    count = sum(len(ops) for ops in wanted.values())
    print(f"{out}: {count} operations of {len(wanted)} services, {size / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
