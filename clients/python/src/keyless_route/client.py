"""The Gemini client a Python pipeline calls instead of building ``google.genai.Client`` itself.

Per run (or per call) it follows the route keyless publishes: the API key on the Gemini API, or
Vertex AI with Application Default Credentials. Each backend gets its own real
``google.genai.Client``, so no client ever holds both an API key and Vertex settings. The
behaviour is gemini-client/client.ts's; the names are Python's.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, Mapping, Optional, Tuple, Union

from .cache import DEFAULT_READ_TIMEOUT_SECONDS, DEFAULT_TTL_SECONDS, PathLike, RouteCache, RouteView, default_cache_file
from .environment import api_key_from_env, assert_no_conflicting_credentials, emulator_origin
from .route import PIPELINE_RE, PROJECT_RE, Route
from .split import chooses_vertex
from .store import FileRouteSource, GcsRouteSource, RouteSource, parse_store

if TYPE_CHECKING:
    from google.auth.credentials import Credentials
    from google.genai import Client as GenaiClient
    from google.genai import types

logger = logging.getLogger("keyless_route")

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"

ApiKeySource = Union[str, Callable[[], str], None]


@dataclass(frozen=True)
class CallOutcome:
    """What one generate_content did, for the pipeline's own logs (never holds a key string)."""

    pipeline: str
    run_id: str
    #: "api-key" or "vertex".
    auth_mode: str
    model: str
    #: HTTP status: 200 on success, the error's status otherwise (0: no response).
    status: int
    latency_ms: float
    #: The route generation the decision used; None when no route was seen (key).
    route_generation: Optional[int]
    #: The route store could not be read and the last route seen (or the key) was used.
    route_stale: bool

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Decision:
    view: RouteView
    auth_mode: str


def _credentials_for(explicit: Optional["Credentials"], emulator: Optional[str]) -> "Credentials":
    """The Vertex (and Cloud Storage) credentials: the caller's, else ADC.

    In emulator mode ADC is the emulator's metadata server only (GCE_METADATA_HOST), so a
    machine's own gcloud login or key file is never read there.
    """
    if explicit is not None:
        return explicit
    if emulator:
        if not os.environ.get("GCE_METADATA_HOST"):
            raise RuntimeError("emulator mode (KEYLESS_EMULATOR) needs GCE_METADATA_HOST, the emulator's metadata server of the pipeline's account, or credentials= passed to route_client")
        from google.auth import compute_engine

        return compute_engine.Credentials()
    import google.auth

    creds, _ = google.auth.default(scopes=[CLOUD_PLATFORM])
    return creds


class _Backends:
    """One google.genai.Client per backend (and per Vertex project/location/account), made on first use."""

    def __init__(
        self,
        api_key: Callable[[], str],
        credentials: Callable[[], "Credentials"],
        emulator: Optional[str],
        vertex_auth: str,
        http_options: Any,
    ) -> None:
        self._api_key = api_key
        self._credentials = credentials
        self._emulator = emulator
        self._vertex_auth = vertex_auth
        self._http_options = http_options
        self._lock = threading.Lock()
        self._gemini: Optional["GenaiClient"] = None
        self._vertex: Dict[Tuple[str, str, str], "GenaiClient"] = {}

    def _options(self) -> Any:
        from google.genai import types

        if self._http_options is None:
            options = types.HttpOptions()
        elif isinstance(self._http_options, dict):
            options = types.HttpOptions(**self._http_options)
        else:
            options = self._http_options.model_copy()
        if self._emulator:
            # Host root only: the SDK appends the API version and the resource path.
            options.base_url = self._emulator
        return options

    def for_decision(self, decision: _Decision) -> "GenaiClient":
        from google import genai

        route = decision.view.route
        with self._lock:
            if decision.auth_mode == "api-key" or route is None:
                if self._gemini is None:
                    # A failed key read is not kept: the next run asks again.
                    self._gemini = genai.Client(vertexai=False, api_key=self._api_key(), http_options=self._options())
                return self._gemini
            account = route.service_account if self._vertex_auth == "impersonate" else "adc"
            key = (route.project, route.location, account)
            client = self._vertex.get(key)
            if client is None:
                client = genai.Client(
                    vertexai=True,
                    project=route.project,
                    location=route.location,
                    credentials=self._vertex_credentials(route),
                    http_options=self._options(),
                )
                self._vertex[key] = client
            return client

    def _vertex_credentials(self, route: Route) -> "Credentials":
        base = self._credentials()
        if self._vertex_auth != "impersonate":
            return base
        from google.auth import impersonated_credentials

        endpoint = None
        if self._emulator:
            endpoint = f"{self._emulator}/v1/projects/-/serviceAccounts/{route.service_account}:generateAccessToken"
        return impersonated_credentials.Credentials(
            source_credentials=base,
            target_principal=route.service_account,
            target_scopes=[CLOUD_PLATFORM],
            lifetime=3600,
            iam_endpoint_override=endpoint,
        )

    def close(self) -> None:
        with self._lock:
            clients = ([self._gemini] if self._gemini else []) + list(self._vertex.values())
            self._gemini = None
            self._vertex.clear()
        for client in clients:
            try:
                client.close()
            except Exception:  # closing is best effort
                pass


class RouteModels:
    """The part of ``google.genai.Client.models`` a pipeline calls, with the same arguments and return types."""

    def __init__(self, run: "RouteRun") -> None:
        self._run = run

    def generate_content(self, *, model: str, contents: Any, config: Any = None) -> "types.GenerateContentResponse":
        decision = self._run._decide()
        ai = self._run._client._backends.for_decision(decision)
        started = time.perf_counter()
        status = 200
        try:
            return ai.models.generate_content(model=model, contents=contents, config=config)
        except Exception as err:
            status = _http_status(err)
            raise
        finally:
            self._run._report(decision, model, status, started)

    def generate_content_stream(self, *, model: str, contents: Any, config: Any = None) -> Iterator["types.GenerateContentResponse"]:
        decision = self._run._decide()
        ai = self._run._client._backends.for_decision(decision)
        started = time.perf_counter()
        status = 200
        try:
            yield from ai.models.generate_content_stream(model=model, contents=contents, config=config)
        except Exception as err:
            status = _http_status(err)
            raise
        finally:
            self._run._report(decision, model, status, started)


class RouteRun:
    """One run: in per-run mode all its calls use the auth chosen at its first call."""

    def __init__(self, client: "RouteClient", run_id: str) -> None:
        self.run_id = run_id
        self._client = client
        self._lock = threading.Lock()
        self._calls = 0
        self._fixed: Optional[_Decision] = None
        self.models = RouteModels(self)

    def _decide(self) -> _Decision:
        client = self._client
        with self._lock:
            if not client._per_call and self._fixed is not None:
                return self._fixed
            unit = f"{self.run_id}#{self._calls}" if client._per_call else self.run_id
            self._calls += 1
            view = client._routes.current()
            vertex = view.route is not None and chooses_vertex(view.route.vertex_percent, client.pipeline, unit)
            decision = _Decision(view=view, auth_mode="vertex" if vertex else "api-key")
            if not client._per_call:
                self._fixed = decision
            return decision

    def _report(self, decision: _Decision, model: str, status: int, started: float) -> None:
        on_call = self._client._on_call
        if on_call is None:
            return
        route = decision.view.route
        outcome = CallOutcome(
            pipeline=self._client.pipeline,
            run_id=self.run_id,
            auth_mode=decision.auth_mode,
            model=model,
            status=status,
            latency_ms=(time.perf_counter() - started) * 1000,
            route_generation=route.generation if route else None,
            route_stale=decision.view.stale,
        )
        try:
            on_call(outcome)
        except Exception:  # a logging callback must not fail the pipeline's call
            logger.exception("keyless: on_call raised")


class RouteClient:
    """What :func:`route_client` returns: ``models`` of the default run, ``run()`` for new runs."""

    def __init__(
        self,
        *,
        pipeline: str,
        routes: RouteCache,
        backends: _Backends,
        per_call: bool,
        run_id: Optional[str],
        on_call: Optional[Callable[[CallOutcome], None]],
    ) -> None:
        self.pipeline = pipeline
        self._routes = routes
        self._backends = backends
        self._per_call = per_call
        self._on_call = on_call
        self._default = self.run(run_id)

    @property
    def run_id(self) -> str:
        return self._default.run_id

    @property
    def models(self) -> RouteModels:
        return self._default.models

    def run(self, run_id: Optional[str] = None) -> RouteRun:
        """A new run (e.g. one tick of a scheduled job) with its own auth decision."""
        return RouteRun(self, run_id if run_id is not None else str(uuid.uuid4()))

    def route(self) -> RouteView:
        """The route as the client currently sees it."""
        return self._routes.current()

    def close(self) -> None:
        self._backends.close()

    def __enter__(self) -> "RouteClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def route_source(
    store: str,
    pipeline: str,
    project: Optional[str],
    *,
    credentials: Callable[[], "Credentials"],
    emulator: Optional[str],
    request_timeout: float,
) -> RouteSource:
    """The route source of a store URL (``file://<dir>`` or ``gs://<bucket>[/<prefix>]``)."""
    url = parse_store(store)
    if url.scheme == "file":
        return FileRouteSource(url, pipeline, project)
    return GcsRouteSource(url, pipeline, project, credentials, emulator, request_timeout)


def route_client(
    pipeline: str,
    store: str,
    *,
    project: str,
    api_key: ApiKeySource = None,
    mode: str = "per-run",
    run_id: Optional[str] = None,
    on_call: Optional[Callable[[CallOutcome], None]] = None,
    ttl: float = DEFAULT_TTL_SECONDS,
    read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
    expect: Optional[Mapping[str, str]] = None,
    env: Optional[Mapping[str, str]] = None,
    credentials: Optional["Credentials"] = None,
    vertex_auth: str = "adc",
    cache_file: Optional[PathLike] = None,
    disk_cache: bool = True,
    http_options: Any = None,
) -> RouteClient:
    """Builds the route-following client.

    Raises ``ConflictingCredentialsError`` when the environment would let the SDK pick a backend
    by itself, and ``ValueError`` for a bad pipeline, project, store, mode or KEYLESS_EMULATOR.
    Reading the route never raises: an unreadable store means the last route seen, else the key.

    - ``api_key``: the key string, or a function returning it (asked only when the key path is
      taken); default GOOGLE_API_KEY / GEMINI_API_KEY from ``env``.
    - ``mode``: "per-run" (every call of a run uses one auth) or "per-call".
    - ``expect``: ``{"project": …, "serviceAccount": …}``; a route that disagrees is refused.
    - ``credentials``: Vertex and Cloud Storage credentials instead of ADC.
    - ``vertex_auth``: "adc" (the pipeline's own principal) or "impersonate" (mint tokens of the
      route's serviceAccount; needs roles/iam.serviceAccountTokenCreator on it).
    - ``cache_file``: where the last route seen is kept for the next process (default under the
      user's cache folder; ``disk_cache=False`` keeps nothing).
    """
    env = os.environ if env is None else env
    if not isinstance(pipeline, str) or not PIPELINE_RE.fullmatch(pipeline):
        raise ValueError("pipeline must be 2-63 characters: lowercase letters, digits and hyphens, starting with a letter")
    if not isinstance(project, str) or not PROJECT_RE.fullmatch(project):
        raise ValueError("project must be a Google Cloud project id: 6-30 lowercase letters, digits and hyphens, starting with a letter")
    if mode not in ("per-run", "per-call"):
        raise ValueError('mode must be "per-run" or "per-call"')
    if vertex_auth not in ("adc", "impersonate"):
        raise ValueError('vertex_auth must be "adc" or "impersonate"')
    assert_no_conflicting_credentials(env)
    emulator = emulator_origin(env)

    resolved: Dict[str, "Credentials"] = {}
    creds_lock = threading.Lock()

    def creds() -> "Credentials":
        with creds_lock:
            if "c" not in resolved:
                resolved["c"] = _credentials_for(credentials, emulator)
            return resolved["c"]

    source = route_source(store, pipeline, project, credentials=creds, emulator=emulator, request_timeout=read_timeout)
    routes = RouteCache(
        pipeline=pipeline,
        project=project,
        store=store,
        source=source,
        ttl=ttl,
        read_timeout=read_timeout,
        expect=expect,
        cache_file=(cache_file if cache_file is not None else default_cache_file(store, pipeline, project, env)) if disk_cache else None,
    )

    def key() -> str:
        if callable(api_key):
            return api_key()
        if isinstance(api_key, str) and api_key.strip():
            return api_key.strip()
        found = api_key_from_env(env)
        if not found:
            raise RuntimeError("the route selects the API key but none is configured: set GEMINI_API_KEY or pass api_key to route_client")
        return found

    backends = _Backends(key, creds, emulator, vertex_auth, http_options)
    return RouteClient(pipeline=pipeline, routes=routes, backends=backends, per_call=mode == "per-call", run_id=run_id, on_call=on_call)


def _http_status(err: BaseException) -> int:
    """google-genai's APIError carries ``code``; anything without a response is 0."""
    code = getattr(err, "code", None)
    return code if isinstance(code, int) and not isinstance(code, bool) else 0
