"""moto in server mode with every sandbox patch, plus control endpoints under /_sandbox/.

Any boto3 client or the AWS CLI pointed at the server (`--endpoint-url http://127.0.0.1:4566`)
sees the same world, including SendAutomationSignal from assumed-role credentials: the caller
is resolved from the request's access key exactly as in-process.

How calls made *inside* the server process reach the same state: the server turns on moto's
botocore stubber for the process (the hook `mock_aws()` uses), so every boto3 client created
here with the default AWS endpoints (the engine's aws:executeAwsApi, moto's Step Functions
interpreter, in-process Lambda handlers) is answered in-process by the same moto backends the
HTTP server uses, with no network hop and no chance of reaching AWS (unknown amazonaws.com
calls get a 404 from the stubber). Clients configured with AWS_ENDPOINT_URL pointing at this
server also work: they simply take the HTTP route to the same backends.

Control endpoints (JSON):
    GET  /_sandbox/health                         {"status": "ok", "now": ...}
    GET  /_sandbox/clock                          {"now": ..., "offset_seconds": ...}
    POST /_sandbox/clock/advance {"seconds": N}   {"now": ...}
    POST /_sandbox/settle {"timeout": 10}         {"idle": true} (504 when still busy)
    GET  /_sandbox/lambda                         {"environments": {"started": N, "warm": N}}
                                                  (null when functions run in-process)
    GET  /_sandbox/calls                          {"calls": [{"caller", "action", "count"}]}:
                                                  each HTTP request's caller and IAM action
    DELETE /_sandbox/calls                        start counting afresh
    POST /_sandbox/reconcile                      {"counts": {...}}: a reconciler pass, run now
                                                  (a route `Sandbox` adds: `add_route`)
A ticker checks approval timeouts and aws:sleep wake-ups about once a second in real time.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from moto.core.config import default_user_config
from moto.core.models import botocore_stubber
from moto.core.utils import get_service_model
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

import sandbox.aws as sandbox_aws
from sandbox.aws import access, shortcuts
from sandbox.aws.calls import calls
from sandbox.aws.engine import engine
from sandbox.serving import POLL_INTERVAL

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
# A control route someone else adds: the request's JSON body in, the JSON answer out.
Route = Callable[[Mapping[str, Any]], dict[str, Any]]
CONTROL_PREFIX = "/_sandbox/"


class _QuietHandler(MotoRequestHandler):  # type: ignore[misc]
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s", self.requestline, code)


class SandboxApp:
    """WSGI app: /_sandbox/ control endpoints, a click's two calls straight to their handlers
    (`sandbox.aws.shortcuts`), everything else to moto's dispatcher."""

    def __init__(self) -> None:
        self._moto = DomainDispatcherApplication(_backend_app)
        self.routes: dict[tuple[str, str], Route] = {}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if str(environ.get("PATH_INFO", "")).startswith(CONTROL_PREFIX):
            return self._control(Request(environ))(environ, start_response)
        calls.record(environ)
        direct = shortcuts.answer(environ)
        if direct is not None:
            return direct(environ, start_response)
        return self._moto(environ, start_response)  # type: ignore[no-any-return]

    def _control(self, request: Request) -> Response:
        route = (request.method, request.path.removeprefix(CONTROL_PREFIX).rstrip("/"))
        # curl and urllib often omit the JSON content type; accept the body anyway.
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            body = {}
        clock = sandbox_aws.clock
        if route == ("GET", "health"):
            return _json({"status": "ok", "now": clock.now().isoformat()})
        if route == ("GET", "clock"):
            return _json({"now": clock.now().isoformat(), "offset_seconds": clock.offset_seconds})
        if route == ("POST", "clock/advance"):
            try:
                seconds = float(body.get("seconds", 0))
                now = clock.advance(seconds)
            except (TypeError, ValueError) as exc:
                return _json({"error": str(exc)}, 400)
            return _json({"now": now.isoformat()})
        if route == ("POST", "settle"):
            try:
                sandbox_aws.settle(float(body.get("timeout", 10)))
            except TimeoutError as exc:
                return _json({"idle": False, "error": str(exc)}, 504)
            return _json({"idle": True})
        if route == ("GET", "calls"):
            return _json({"calls": calls.calls()})
        if route == ("DELETE", "calls"):
            calls.clear()
            return _json({"calls": []})
        added = self.routes.get(route)
        if added is not None:
            try:
                return _json(added(body))
            except Exception as exc:
                log.exception("sandbox route %s %s failed", *route)
                return _json({"error": str(exc)}, 500)
        if route == ("GET", "lambda"):
            pool = sandbox_aws.lambdas.environments()
            stats = {"started": pool.started, "warm": pool.warm()} if pool else None
            return _json({"environments": stats})
        return _json({"error": f"no such sandbox endpoint: {request.method} {request.path}"}, 404)


def _backend_app(service: Any) -> Any:
    """moto's Flask app for one service, out of Flask's debug mode (moto turns it on).

    Debug mode only adds work to each request here (Flask's debug checks on every form read),
    and an error moto does not turn into an AWS error is a 500 either way; Flask logs it.
    """
    app = create_backend_app(service)
    app.debug = False
    return app


def _json(document: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(document), status=status, mimetype="application/json")


# What the sandbox answers for: Signoff's functions, the template's resources, the engine.
SERVED = (
    "cloudformation",
    "dynamodb",
    "events",
    "iam",
    "lambda",
    "secretsmanager",
    "sns",
    "ssm",
    "stepfunctions",
    "sts",
)


def warm_response_models(services: tuple[str, ...] = SERVED) -> None:
    """Load the API models moto serializes responses with, once, before any request.

    moto loads a service's model on its first response and caches it, but without a lock: a
    burst of first requests (40 runbooks started at once) loads SSM's 1.6 MB model 40 times
    over, and that held up the first cards for seconds.
    """
    for service in services:
        get_service_model(service)


class SandboxServer:
    """Start in a thread, use, stop; also a context manager. `port=0` picks a free port."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 4566, *, tick_seconds: float = 1.0
    ) -> None:
        self._host = host
        self._port = port
        self._tick_seconds = tick_seconds
        self._server: BaseWSGIServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._saved: tuple[Any, bool, bool] | None = None
        self._app = SandboxApp()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox server is not running")
        host, port = self._server.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{host}:{port}"

    def start(self) -> SandboxServer:
        sandbox_aws.install()
        warm_response_models()
        self._saved = (
            default_user_config.get("stepfunctions"),
            botocore_stubber.enabled,
            # Role sessions are held to their roles' policies (sandbox.aws.access says how far).
            access.enforce(True),
        )
        # Run state machines for real (moto's interpreter), as `mock_aws(config=...)` would.
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        botocore_stubber.enabled = True
        self._server = make_server(
            self._host, self._port, self._app, threaded=True, request_handler=_QuietHandler
        )
        self._stopping.clear()
        self._threads = [
            threading.Thread(
                target=self._server.serve_forever,
                args=(POLL_INTERVAL,),
                name="sandbox-aws-http",
                daemon=True,
            ),
            threading.Thread(target=self._tick, name="sandbox-aws-ticker", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def add_route(self, method: str, path: str, route: Route) -> None:
        """Answer `method /_sandbox/<path>` with `route` (what the server alone cannot do)."""
        self._app.routes[(method, path)] = route

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._saved is not None:
            stepfunctions, stubbing, enforcing = self._saved
            default_user_config["stepfunctions"] = stepfunctions
            botocore_stubber.enabled = stubbing
            access.enforce(enforcing)
            self._saved = None
        self._server = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _tick(self) -> None:
        # Approval timeouts and sleeps also fall due in real time, not only on clock jumps.
        while not self._stopping.wait(self._tick_seconds):
            try:
                engine.check_timers()
            except Exception:
                log.exception("timer check failed")


def serve(host: str = "127.0.0.1", port: int = 4566) -> None:
    """Run the sandbox AWS in the foreground until interrupted."""
    server = SandboxServer(host, port).start()
    print(f"sandbox AWS listening on {server.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local AWS (moto) with the SSM Automation engine.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    args = parser.parse_args(argv)
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
