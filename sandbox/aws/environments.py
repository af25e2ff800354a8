"""Execution environments: each function's invocations in processes of its own, as on Lambda.

On AWS every concurrent invocation of a function has an execution environment: a process that
imported the handler once (its cold start), then serves one invocation at a time and stays warm
for the next. `EnvironmentPool` does the same on this machine: `invoke` takes an idle
environment of the function (same handler, same variables) or starts one, sends it the event and
waits for its reply, at most the function's timeout. So the functions' work runs on the
machine's cores, not in the sandbox's interpreter, whose one GIL moto and the Slack emulator
already share; and each function sees its own variables and nothing else.

What an environment's process is given: PATH, HOME, LANG, LC_ALL and TMPDIR of this process,
PYTHONPATH to the project's code, the function's variables and the runtime's `AWS_LAMBDA_*`
ones, `AWS_ENDPOINT_URL` (the sandbox's local AWS), and no AWS config or credentials file:
nothing of the user's own AWS set-up reaches a function. It runs `python -m
sandbox.lambda_runtime` and talks over its stdin and stdout; what the function logs goes to
this process's stderr (on AWS: the function's log stream).

Unlike Lambda, whose cold starts run on machines of their own, here they share this machine's
cores: at most `max_starting` environments start at once (one a core), and an invocation that
finds no idle environment waits for whichever comes first, an environment freed by another
invocation or a start slot. So a burst of 20 clicks is served by the first warm environments
within a second, instead of 20 interpreters importing at once for tens of seconds (and Slack's
3-second ack timing out meanwhile).

As on Lambda: an invocation that outlives the function's timeout ends with "Task timed out"
and its environment is discarded; an environment whose process exits mid-invocation answers
`Runtime.ExitError`; a changed configuration gets new environments; an environment idle for
`idle_seconds` is shut down.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sandbox.children import quiet_child
from sandbox.lambda_runtime import LambdaContext

log = logging.getLogger(__name__)

_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
# Per invocation on this side; an environment has one log stream for its whole life.
_PER_INVOCATION = frozenset({"AWS_LAMBDA_LOG_STREAM_NAME"})

_Key = tuple[tuple[str, str], ...]

# How long an invocation waits for an idle environment or a start slot before starting one anyway.
START_WAIT_SECONDS = 10.0


def code_path() -> str:
    """PYTHONPATH for an environment: where `sandbox` and the functions' `handlers` live."""
    roots = [str(Path(__file__).resolve().parents[2])]
    spec = importlib.util.find_spec("handlers")
    for location in (spec.submodule_search_locations or []) if spec else []:
        roots.append(str(Path(location).resolve().parent))
    return os.pathsep.join(dict.fromkeys(roots))


class _Exited(Exception):
    """The environment's process ended before it answered."""


@dataclass(eq=False)
class _Environment:
    process: subprocess.Popen[bytes]
    key: _Key
    function_name: str
    log_stream: str
    cold: bool = True  # holds a start slot until its first invocation (the import) is done
    idle_since: float = field(default_factory=time.monotonic)
    _pending: bytearray = field(default_factory=bytearray)

    def call(self, request: bytes, timeout: float) -> dict[str, object]:
        """Send one request line; read its reply line. TimeoutError, or _Exited."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        try:
            self.process.stdin.write(request + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise _Exited from exc
        deadline = time.monotonic() + timeout
        reply = self._read_line(self.process.stdout.fileno(), deadline)
        try:
            return dict(json.loads(reply))
        except ValueError as exc:  # not the runtime's reply: this environment is unusable
            raise _Exited from exc

    def _read_line(self, fd: int, deadline: float) -> bytes:
        while (end := self._pending.find(b"\n")) < 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            try:
                ready, _, _ = select.select([fd], [], [], remaining)
            except (OSError, ValueError) as exc:
                raise _Exited from exc
            if ready:
                try:
                    chunk = os.read(fd, 1 << 16)
                except OSError as exc:
                    raise _Exited from exc
                if not chunk:
                    raise _Exited
                self._pending += chunk
        line = bytes(self._pending[:end])
        del self._pending[: end + 1]
        return line

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


class EnvironmentPool:
    """Warm execution environments, per function configuration; `close()` stops them all."""

    def __init__(
        self,
        aws_url: str,
        *,
        idle_seconds: float = 600.0,
        max_starting: int | None = None,
        python: str = sys.executable,
    ) -> None:
        self.aws_url = aws_url
        self.idle_seconds = idle_seconds
        self.max_starting = max_starting or os.cpu_count() or 2
        self._python = python
        self._code_path = code_path()
        self._lock = threading.Condition()
        self._starting = 0
        self._idle: dict[_Key, list[_Environment]] = {}
        self._busy: set[_Environment] = set()
        self._current: dict[str, _Key] = {}
        self._closed = False
        self.started = 0  # environments started so far: each one a cold start

    # -- invoking ---------------------------------------------------------------------------

    def invoke(
        self, environ: Mapping[str, str], body: str | bytes | None, context: LambdaContext
    ) -> tuple[bytes, str | None]:
        """Run one invocation in an environment of this configuration: (payload, error type)."""
        key = tuple(sorted((k, v) for k, v in environ.items() if k not in _PER_INVOCATION))
        environment = self._take(context.function_name, key) or self._start(environ, key)
        context.log_stream_name = environment.log_stream
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        request = json.dumps({"event": body or "", "context": context.to_json()}).encode("utf-8")
        try:
            reply = environment.call(request, context.timeout_seconds)
        except TimeoutError:
            self._discard(environment)
            return _timed_out(context), "Unhandled"
        except _Exited:
            self._discard(environment)  # killed first if it is still running
            return _exited(context, environment.process.returncode), "Unhandled"
        self._give_back(environment)
        error = reply.get("error")
        return str(reply["payload"]).encode("utf-8"), str(error) if error else None

    def _take(self, function_name: str, key: _Key) -> _Environment | None:
        """An idle environment of this configuration, or None with a start slot reserved."""
        retired: list[_Environment] = []
        deadline = time.monotonic() + START_WAIT_SECONDS
        with self._lock:
            if self._current.get(function_name) != key:
                # A new configuration (UpdateFunctionConfiguration): the old environments go.
                self._current[function_name] = key
                stale = [k for k in self._idle if k != key and _name(k) == function_name]
                retired = [e for k in stale for e in self._idle.pop(k)]
            environment = None
            while not self._closed:
                idle = self._idle.get(key)
                if idle:
                    environment = idle.pop()
                    self._busy.add(environment)
                    break
                # A slot, or the wait is over: functions that call functions must not deadlock.
                if self._starting < self.max_starting or time.monotonic() >= deadline:
                    self._starting += 1
                    break
                self._lock.wait(max(0.0, deadline - time.monotonic()))
            closed = self._closed
        for old in retired:
            old.stop()
        if closed:
            raise RuntimeError("the sandbox's execution environments are shut down")
        return environment

    def _start(self, environ: Mapping[str, str], key: _Key) -> _Environment:
        name = environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        version = environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        stream = f"{datetime.now(UTC):%Y/%m/%d}/[{version}]{uuid.uuid4().hex}"
        try:
            process = subprocess.Popen(  # noqa: S603 - this interpreter, the sandbox's own module
                [self._python, "-m", "sandbox.lambda_runtime"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=self._process_environ(environ, stream),
                preexec_fn=quiet_child,
            )
        except OSError:
            self._release_start_slot()
            raise
        environment = _Environment(process, key, name, stream)
        with self._lock:
            self.started += 1
            self._busy.add(environment)
        log.debug("execution environment %s started for %s", stream, name)
        return environment

    def _release_start_slot(self) -> None:
        with self._lock:
            self._starting -= 1
            self._lock.notify_all()

    def _process_environ(self, environ: Mapping[str, str], stream: str) -> dict[str, str]:
        variables = {k: v for k, v in os.environ.items() if k in _INHERITED}
        variables.update(
            {
                # The function's code, the local AWS, and none of the user's AWS files.
                "PYTHONPATH": self._code_path,
                "AWS_ENDPOINT_URL": self.aws_url,
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
                # Lambda always hands a function its role's session; fake keys if none was set.
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
            }
        )
        variables.update(environ)
        variables["AWS_LAMBDA_LOG_STREAM_NAME"] = stream
        return variables

    def _give_back(self, environment: _Environment) -> None:
        now = time.monotonic()
        environment.idle_since = now
        with self._lock:
            self._busy.discard(environment)
            if environment.cold:
                environment.cold = False
                self._starting -= 1
            current = self._current.get(environment.function_name) == environment.key
            keep = current and not self._closed
            if keep:
                self._idle.setdefault(environment.key, []).append(environment)
            done = self._expired_locked(now)
            self._lock.notify_all()
        for old in done if keep else [*done, environment]:
            old.stop()

    def _expired_locked(self, now: float) -> list[_Environment]:
        expired = []
        for key, idle in list(self._idle.items()):
            keep = [e for e in idle if now - e.idle_since < self.idle_seconds]
            expired += [e for e in idle if e not in keep]
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]
        return expired

    def _discard(self, environment: _Environment) -> None:
        with self._lock:
            self._busy.discard(environment)
            if environment.cold:
                environment.cold = False
                self._starting -= 1
            self._lock.notify_all()
        environment.stop()

    # -- looking and stopping ---------------------------------------------------------------

    def warm(self, function_name: str | None = None) -> int:
        """Idle environments (of one function, or all)."""
        with self._lock:
            return sum(
                len(idle)
                for key, idle in self._idle.items()
                if function_name is None or _name(key) == function_name
            )

    def close(self) -> None:
        """Stop every environment: idle ones now; busy ones are killed, and the invocation
        waiting on one ends with `Runtime.ExitError` and discards it."""
        with self._lock:
            self._closed = True
            idle = [e for environments in self._idle.values() for e in environments]
            busy = list(self._busy)
            self._idle.clear()
            self._lock.notify_all()
        for environment in idle:
            environment.stop()
        for environment in busy:
            environment.process.kill()


def _name(key: _Key) -> str:
    return dict(key).get("AWS_LAMBDA_FUNCTION_NAME", "")


def _timed_out(context: LambdaContext) -> bytes:
    # What the Invoke API returns for a timeout: an error message with no type.
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    message = (
        f"{stamp} {context.aws_request_id} Task timed out after "
        f"{context.timeout_seconds:.2f} seconds"
    )
    return json.dumps({"errorMessage": message}).encode("utf-8")


def _exited(context: LambdaContext, code: int) -> bytes:
    status = f"signal {-code}" if code < 0 else f"exit status {code}"
    document = {
        "errorType": "Runtime.ExitError",
        "errorMessage": (
            f"RequestId: {context.aws_request_id} Error: Runtime exited with error: {status}"
        ),
    }
    return json.dumps(document).encode("utf-8")
