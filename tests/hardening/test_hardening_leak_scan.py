"""The leak scan that runs after every world test would notice a leak (it is not vacuous)."""

from __future__ import annotations

import logging

from tests.support.leaks import LogSpy, find_leaks
from tests.support.world import BOT_TOKEN, SIGNING_SECRET

ISSUED = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documented example secret key


def test_known_secrets_and_token_shapes_are_found_anywhere_in_the_calls() -> None:
    calls = [
        {"method": "chat.postMessage", "params": {"text": f"your key is {ISSUED}"}},
        {"method": "chat.update", "params": {"blocks": [{"text": {"text": SIGNING_SECRET}}]}},
        {"method": "chat.postEphemeral", "params": {"text": "token xoxp-fake-not-a-real-token"}},
    ]
    findings = find_leaks({"calls": calls}, {BOT_TOKEN, SIGNING_SECRET})

    assert any("known secret" in f for f in findings)
    assert any("Slack token" in f for f in findings)
    assert any("secret access key" in f for f in findings)


def test_ids_and_digests_are_not_mistaken_for_secret_keys() -> None:
    harmless = {
        "execution": "0c6a2b0e-7e0f-4f8e-9a53-3f7a1f2b9c11",
        "sha1": "3f786850e387550fdab836ed7e6dc881de23001b",
        "ts": "1700000000.000100",
        "session": "arn:aws:sts::123456789012:assumed-role/SignoffApprover/U0ALICE",
        "long token": "A1b2" * 30,
        "response_url": "http://127.0.0.1:4000/_emulator/respond/Ab3dEf6hIj9lMn0pQr-tUv",
    }
    assert find_leaks({"ids": harmless}, {BOT_TOKEN}) == []


def test_the_log_spy_sees_non_propagating_loggers_extras_and_tracebacks() -> None:
    quiet = logging.getLogger("signoff.test.quiet")
    quiet.propagate = False
    quiet.setLevel(logging.INFO)
    with LogSpy().installed() as spy:
        quiet.info("assumed a role", extra={"credentials": {"SecretAccessKey": ISSUED}})
        try:
            raise RuntimeError(f"bad token {BOT_TOKEN}")
        except RuntimeError:
            quiet.exception("failed")
        logging.getLogger("botocore.endpoint").debug("wire dump %s", ISSUED)  # not scanned

    findings = find_leaks({"logs": spy.lines}, {BOT_TOKEN})
    assert len(spy.lines) == 2
    assert any("known secret" in f for f in findings)
    assert any("secret access key" in f for f in findings)
