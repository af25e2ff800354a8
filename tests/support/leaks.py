"""The leak scan: no Slack token, signing secret or AWS secret key in Slack traffic or in the logs.

`tests/conftest.py` runs it after every test that uses the integration world. It collects what
the world knows is secret (its bot token and signing secret, every secret access key and session
token moto issued — IAM users' keys and STS role sessions), adds anything a test registered, and
looks for those values, and for anything merely shaped like a Slack token or a secret access key,
in: every Web API call the emulator logged (arguments and answers), every request the emulator
sent the bot and the bot's answer, and every log record emitted (message, extras, exception
text) — what would reach CloudWatch — except the HTTP wire dumps of WIRE_LOGGERS at DEBUG.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

# xoxb-/xoxp-/xoxa-/xoxr-/xoxs- tokens and xapp- app tokens.
SLACK_TOKEN = re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}|\bxapp-[A-Za-z0-9-]{10,}")
# An AWS secret access key: exactly 40 base64 characters, standing alone (not inside a longer
# base64 or URL-safe token such as a URL path). Hex digests and ids are excluded by requiring
# upper case, lower case and a digit.
SECRET_KEY_SHAPE = re.compile(r"(?<![A-Za-z0-9/+=_-])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=_-])")


def _looks_like_secret_key(candidate: str) -> bool:
    return (
        any(c.isupper() for c in candidate)
        and any(c.islower() for c in candidate)
        and any(c.isdigit() for c in candidate)
    )


# Libraries whose DEBUG output is, by design, a dump of each HTTP exchange (botocore logs the
# STS response with its keys). Lambda never runs them at DEBUG unless an operator asks for it
# (SECURITY.md, accepted risks); their INFO and above are scanned like everything else.
WIRE_LOGGERS = frozenset({"botocore", "boto3", "urllib3", "moto", "werkzeug", "s3transfer"})


class LogSpy:
    """Every log record any logger emits while installed, rendered to text as it is emitted."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def record(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.INFO and record.name.split(".")[0] in WIRE_LOGGERS:
            return
        try:
            text = record.getMessage()
        except Exception:  # a malformed %-format is not our concern here
            text = str(record.msg)
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS}
        parts = [record.name, text, repr(extras)]
        if record.exc_info and record.exc_info[1] is not None:
            parts.append("".join(traceback.format_exception(*record.exc_info)))
        with self._lock:
            self.lines.append(" | ".join(parts))

    @contextmanager
    def installed(self) -> Iterator[LogSpy]:
        # Logger.handle sees every record of every logger (propagating or not, Powertools'
        # own included) once its level check passed: exactly what would be written out.
        original = logging.Logger.handle
        spy = self

        def handle(logger: logging.Logger, record: logging.LogRecord) -> None:
            spy.record(record)
            original(logger, record)

        logging.Logger.handle = handle  # type: ignore[method-assign]
        try:
            yield self
        finally:
            logging.Logger.handle = original  # type: ignore[method-assign]


_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
}


def moto_issued_secrets() -> set[str]:
    """Secret access keys and session tokens moto handed out: IAM users' keys, role sessions."""
    found: set[str] = set()
    try:
        from moto.iam.models import iam_backends
        from moto.sts.models import sts_backends
    except ImportError:  # pragma: no cover - moto is a dev dependency
        return found
    for _account, partitions in iam_backends.items():
        for backend in partitions.values():
            for user in backend.users.values():
                found.update(k.secret_access_key for k in user.access_keys)
    for _account, regions in sts_backends.items():
        for backend in regions.values():
            for session in getattr(backend, "assumed_roles", []):
                found.add(session.secret_access_key)
                found.add(session.session_token)
    return {s for s in found if s}


def _around(text: str, match: re.Match[str]) -> str:
    # Enough context to tell a leak from a false positive, with the value itself masked.
    before = text[max(0, match.start() - 60) : match.start()]
    after = text[match.end() : match.end() + 20]
    return repr(f"{before}<{len(match.group())} chars>{after}")


def find_leaks(sources: dict[str, Any], secrets: Iterable[str]) -> list[str]:
    """Human-readable findings: which secret (or secret-shaped string) appeared where."""
    known = sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)
    findings = []
    for where, what in sources.items():
        text = what if isinstance(what, str) else json.dumps(what, default=str)
        for secret in known:
            if secret in text:
                findings.append(f"{where}: a known secret ({secret[:4]}…, {len(secret)} chars)")
        for match in SLACK_TOKEN.finditer(text):
            findings.append(f"{where}: a Slack token ({match.group()[:5]}…)")
        for match in SECRET_KEY_SHAPE.finditer(text):
            if _looks_like_secret_key(match.group()):
                findings.append(
                    f"{where}: a string shaped like a secret access key, in {_around(text, match)}"
                )
    return sorted(set(findings))
