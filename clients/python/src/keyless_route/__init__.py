"""keyless-route: Python pipelines follow the route keyless publishes (Vertex AI or the API key, per run).

Importing the package is cheap: the google-genai client is loaded only when ``route_client`` is
first used, so ``python -m keyless_route exec`` starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .environment import (
    ConflictingCredentialsError,
    EnvironmentConflict,
    api_key_from_env,
    assert_no_conflicting_credentials,
    environment_conflicts,
)
from .route import MAX_ROUTE_BYTES, Route, RouteRefused, parse_route
from .split import chooses_vertex, split_bucket

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .cache import RouteCache, RouteView
    from .client import CallOutcome, RouteClient, RouteModels, RouteRun, route_client

_LAZY = {
    "route_client": "client",
    "RouteClient": "client",
    "RouteRun": "client",
    "RouteModels": "client",
    "CallOutcome": "client",
    "RouteCache": "cache",
    "RouteView": "cache",
    "DEFAULT_TTL_SECONDS": "cache",
    "DEFAULT_READ_TIMEOUT_SECONDS": "cache",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'keyless_route' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)


__all__ = [
    "CallOutcome",
    "ConflictingCredentialsError",
    "DEFAULT_READ_TIMEOUT_SECONDS",
    "DEFAULT_TTL_SECONDS",
    "EnvironmentConflict",
    "MAX_ROUTE_BYTES",
    "Route",
    "RouteCache",
    "RouteClient",
    "RouteModels",
    "RouteRefused",
    "RouteRun",
    "RouteView",
    "api_key_from_env",
    "assert_no_conflicting_credentials",
    "chooses_vertex",
    "environment_conflicts",
    "parse_route",
    "route_client",
    "split_bucket",
]
