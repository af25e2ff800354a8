"""The Slack emulator in a process of its own, driven over its control API.

The sandbox is three parties, as in production: Slack, AWS (with the Lambda service), and the
functions. Each has its own interpreter here, so one party's work does not queue behind
another's on one GIL: a click's ack waits on Slack's views.open and on Lambda's Invoke, and
those were slowest when Slack and moto shared a process (docs/decisions/0011).

`SlackProcess` runs `python -m sandbox.slack` and offers what the sandbox needs of the emulator:
its URLs, the workspace (the demo cast, whose ids are fixed), `configure` and `command`.
Everything else is the control API (`/_emulator/...`), as for any other caller.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from sandbox.children import quiet_child
from sandbox.slack.workspace import Workspace, demo_workspace

START_TIMEOUT_SECONDS = 30.0


class SlackProcess:
    """Start, use, stop: the emulator of `sandbox.slack.emulator` in a child process."""

    def __init__(self, *, signing_secret: str, bot_token: str) -> None:
        self.signing_secret = signing_secret
        self.bot_token = bot_token
        self.workspace: Workspace = demo_workspace()  # what `python -m sandbox.slack` serves
        self._process: subprocess.Popen[bytes] | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the Slack emulator is not running")
        return self._url

    @property
    def api_url(self) -> str:
        """`base_url` for `slack_sdk.WebClient` (note the trailing slash it expects)."""
        return f"{self.url}/api/"

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 = a free port); returns the base URL once it answers. OSError
        when it cannot listen there, as a server in this process would raise."""
        port = port or _free_port(host)
        self._process = subprocess.Popen(  # noqa: S603 - this interpreter, the sandbox's module
            [
                sys.executable,
                "-m",
                "sandbox.slack",
                "--host",
                host,
                "--port",
                str(port),
                "--bot-token",
                self.bot_token,
                "--signing-secret",
                self.signing_secret,
                "--exit-with-stdin",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            preexec_fn=quiet_child,
        )
        self._url = f"http://{host}:{port}"
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._answers():
            if self._process.poll() is not None:
                self._url = None
                raise OSError(f"the Slack emulator could not serve on {host}:{port}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the Slack emulator did not answer on {host}:{port}")
            time.sleep(0.05)
        return self._url

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def configure(self, **settings: Any) -> None:
        """Change settings at run time; keys as in `SlackEmulator.config()`."""
        self._control("POST", "config", settings)

    def command(
        self, user: str, channel: str | None, command: str, text: str = ""
    ) -> dict[str, Any]:
        """Type a slash command as `user`; the emulator's reply (the bot's ack and what showed)."""
        body = {"user": user, "channel": channel, "command": command, "text": text}
        return self._control("POST", "command", body)

    def _answers(self) -> bool:
        try:
            self._control("GET", "health")
        except (OSError, urllib.error.URLError):
            return False
        return True

    def _control(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(  # noqa: S310 - loopback http, the child above
            f"{self.url}/_emulator/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return dict(json.loads(response.read()))


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
