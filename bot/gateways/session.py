"""The AWS session the Lambda functions use: botocore alone, models trimmed to Signoff's calls.

Making a client makes botocore read the service's whole API model and the endpoints of every
AWS service (several MB of JSON per cold start). bot/aws_models/ holds the same files cut down to
the operations bot/ and handlers/ call (`make aws-models` writes it, a test keeps it complete),
and this session reads only from there. It is botocore's session, not boto3's: importing boto3
costs a cold start about 30 ms (its resource factory and s3transfer) for nothing the functions
use. The CLI and the sandbox keep boto3 and the full models; both kinds of session make clients
through `client(service, **options)`.

Two more cuts, each worth a few milliseconds of a cold start's CPU (which is what its first AWS
call waits on):
- botocore's built-in event handlers are registered for Signoff's services only. A session
  registers about 130 of them, most for other services (S3, EC2, Glacier…) or for generating
  documentation, and every client copies the whole set.
- Event names are translated from old service names (`secretsmanager` for `secrets-manager`)
  by the aliases of Signoff's services only. botocore tries all 65 of its aliases on every
  event name a client has not emitted before (each name holds the operation, and each client
  starts with an empty cache), about a hundred names in a reconciler's first event.
- When the environment holds credentials (Lambda puts the function role's there), they are
  read from it alone. botocore's default chain would come to the same credentials, since it
  looks at the environment first, but building the chain sets up the container and instance
  metadata fetchers, with their own HTTP sessions, before it looks at anything.

And one for TLS, which the sandbox (plain HTTP) never shows: botocore names its CA bundle to
urllib3 for every new HTTPS connection, and urllib3 loads the whole file into that connection's
context (boto/botocore#3171), about 17 ms of CPU for certifi's 228 KB each time (bench/tls.py).
`share_tls` gives a client's connections a context that has the bundle loaded once a process.
"""

from __future__ import annotations

import os
import threading
from functools import partial
from pathlib import Path
from ssl import SSLContext
from typing import Any, Protocol

import botocore.session
from botocore import handlers
from botocore.credentials import CredentialResolver, EnvProvider
from botocore.hooks import EVENT_ALIASES, EventAliaser, HierarchicalEmitter
from botocore.httpsession import URLLib3Session, create_urllib3_context, get_cert_path
from botocore.loaders import Loader

from bot.concurrency import Once

MODELS = Path(__file__).resolve().parent.parent / "aws_models"
# How botocore's event names spell the services in bot/aws_models/ (the hyphenated serviceId
# of each model; a test holds this to the models).
EVENT_SERVICE_IDS = frozenset({"dynamodb", "iam", "lambda", "secrets-manager", "sfn", "ssm", "sts"})


class ClientSource(Protocol):
    """What the services get their AWS clients from: a LambdaSession, or a boto3.Session."""

    def client(self, service_name: str, **options: Any) -> Any:
        """A low-level client; options as boto3.Session.client takes them (config, credentials,
        region_name, endpoint_url)."""


class LambdaSession:
    """Clients made by a botocore session that loads bot/aws_models/ only."""

    def __init__(self, region: str | None) -> None:
        specs = builtin_handlers()
        emitter = HierarchicalEmitter()
        self._core = botocore.session.Session(
            event_hooks=emitter, include_builtin_handlers=specs is None
        )
        # Clients copy the session's "event_emitter": its handlers, with Signoff's aliases only.
        events = EventAliaser(emitter, event_aliases=signoff_event_aliases())
        self._core.register_component("event_emitter", events)
        for event_name, handler in specs or ():
            events.register(event_name, handler)
        self._core.register_component(
            "data_loader",
            Loader(extra_search_paths=[str(MODELS)], include_default_search_paths=False),
        )
        if os.environ.get(EnvProvider.ACCESS_KEY) and os.environ.get(EnvProvider.SECRET_KEY):
            self._core.register_component(
                "credential_provider", CredentialResolver([EnvProvider()])
            )
        self._region = region

    def client(self, service_name: str, **options: Any) -> Any:
        """As boto3.Session.client: the session's region unless `region_name` says otherwise."""
        if options.get("region_name") is None:
            options["region_name"] = self._region
        client = self._core.create_client(service_name, **options)
        share_tls(client)
        return client


class _SharedTrust:
    """A TLS context for the connections of every client that trusts one CA bundle, the bundle
    loaded into it when the first HTTPS connection needs it (a plain-HTTP endpoint, such as the
    sandbox's, never does)."""

    def __init__(self, bundle: str) -> None:
        # As botocore makes the context of a client's connections.
        self.context: SSLContext = create_urllib3_context()
        # The load urllib3 would do for each connection, once.
        self.load = Once(partial(self.context.load_verify_locations, cafile=bundle))


# By the bundle's path: one context, and one load, a process for each.
_TRUSTING: dict[str, _SharedTrust] = {}
_TRUSTING_LOCK = threading.Lock()


def _trust(bundle: str) -> _SharedTrust:
    with _TRUSTING_LOCK:
        trust = _TRUSTING.get(bundle)
        if trust is None:
            trust = _TRUSTING[bundle] = _SharedTrust(bundle)
        return trust


def share_tls(client: Any) -> None:
    """Make `client`'s new HTTPS connections use a context that holds its CA bundle already.

    Verification is unchanged: the same bundle (botocore's, or the `verify` path the client was
    given), certificates and host names checked as botocore has urllib3 check them. Only the
    connections of the client's own pool manager are concerned: verification off, a proxy (its
    own manager and context), a client certificate (loaded into the context), a bundle that is a
    directory, or a botocore whose HTTP session does not look as this expects, and the client
    stays as botocore made it.
    """
    http = getattr(getattr(client, "_endpoint", None), "http_session", None)
    if not isinstance(http, URLLib3Session):
        return
    verify = getattr(http, "_verify", None)
    pools = getattr(getattr(http, "_manager", None), "connection_pool_kw", None)
    setup = getattr(http, "_setup_ssl_cert", None)
    if not verify or not isinstance(pools, dict) or "ssl_context" not in pools or setup is None:
        return
    if getattr(http, "_cert_file", None) or pools.get("cert_file"):
        return  # urllib3 loads a client certificate into the context: it must stay the client's
    bundle = get_cert_path(verify)
    if not isinstance(bundle, str) or not os.path.isfile(bundle):
        return
    trust = _trust(bundle)
    pools["ssl_context"] = trust.context

    def setup_ssl_cert(pool: Any, url: str, verify: Any) -> None:
        setup(pool, url, verify)
        # botocore has just named the bundle for urllib3 to load into the connection's context;
        # a pool of this client's manager has it loaded (a proxy's pool has a context of its own).
        if pool.ca_certs == bundle and getattr(pool, "conn_kw", {}).get("ssl_context") is (
            trust.context
        ):
            trust.load()
            pool.ca_certs = None

    http._setup_ssl_cert = setup_ssl_cert  # type: ignore[attr-defined]  # not in the stubs


def builtin_handlers() -> list[tuple[str, Any]] | None:
    """botocore's built-in handlers for events of any service or of Signoff's, in botocore's
    order; None when one of them must be registered first or last (then all are registered,
    botocore's way, rather than this guessing at the order)."""
    kept = []
    for spec in handlers.BUILTIN_HANDLERS:
        if concerns_signoff(spec[0]):
            if len(spec) != 2:
                return None
            kept.append((spec[0], spec[1]))
    return kept


def signoff_event_aliases() -> dict[str, str]:
    """botocore's event-name aliases that name one of Signoff's services (old name: new)."""
    return {old: new for old, new in EVENT_ALIASES.items() if new in EVENT_SERVICE_IDS}


def concerns_signoff(event_name: str) -> bool:
    """Whether a handler for `event_name` can run for Signoff's clients: any event named without
    a service ("before-call") or for one of Signoff's ("after-call.iam"); no documentation
    events ("docs.*"), which only botocore's docstring generation emits."""
    kind, _, rest = event_name.partition(".")
    service = rest.split(".", 1)[0]
    return kind != "docs" and (not service or service == "*" or service in EVENT_SERVICE_IDS)
