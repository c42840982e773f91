"""The route document and the one set of rules every reader checks before acting on it.

A route is ``{pipeline, generation, vertexPercent, project, location, serviceAccount, updatedAt}``,
published by the keyless workflow at ``<store>/<project>/<pipeline>.json``. The rules are written
once, as data, in ``clients/vectors/route.json``; this module and the TypeScript schema are both
checked against that file.

A refusal names the field and the rule, never the value: a tampered document may carry anything,
including a key string, and must not end up in a pipeline's logs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

#: A route document larger than this is refused, and a read stops once it is past it.
MAX_ROUTE_BYTES = 16 * 1024
#: Generations are workflow-time milliseconds; one later than the reader's clock plus this is refused.
MAX_GENERATION_AHEAD_MS = 24 * 60 * 60 * 1000

FIELDS = ("pipeline", "generation", "vertexPercent", "project", "location", "serviceAccount", "updatedAt")

PIPELINE_RE = re.compile(r"[a-z][a-z0-9-]{0,61}[a-z0-9]")
PROJECT_RE = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
LOCATION_RE = re.compile(r"[a-z]+(-[a-z]+[0-9]+)?")
ACCOUNT_RE = re.compile(r"(?P<id>[a-z][a-z0-9-]{4,28}[a-z0-9])@(?P<project>[a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com")
RFC3339_RE = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})[Tt](?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})(\.\d+)?(?P<tz>[Zz]|[+-](?P<oh>\d{2}):(?P<om>\d{2}))"
)

PIPELINE_RULE = "must be 2-63 characters: lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen"
PROJECT_RULE = "must be a Google Cloud project id: 6-30 lowercase letters, digits and hyphens, starting with a letter"
LOCATION_RULE = 'must be "global", a multi-region such as "us", or a region such as "us-central1"'
ACCOUNT_RULE = "must be <accountId>@<project>.iam.gserviceaccount.com with a 6-30 character account id"


class RouteRefused(ValueError):
    """A route document broke a rule. ``field`` names where ('(document)' for the whole of it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"route document refused: {field} {message}" if field != "(document)" else f"route document refused: {message}")
        self.field = field
        self.reason = message


@dataclass(frozen=True)
class Route:
    """A route document that passed every rule."""

    pipeline: str
    generation: int
    vertex_percent: int
    project: str
    location: str
    service_account: str
    updated_at: str

    def to_document(self) -> Dict[str, Any]:
        """The document as published (camelCase fields)."""
        return {
            "pipeline": self.pipeline,
            "generation": self.generation,
            "vertexPercent": self.vertex_percent,
            "project": self.project,
            "location": self.location,
            "serviceAccount": self.service_account,
            "updatedAt": self.updated_at,
        }


def _reject_duplicates(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    seen: Dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            # Two parsers may keep different copies of a repeated field: refuse the document.
            raise RouteRefused("(document)", "repeats a field")
        seen[key] = value
    return seen


def _integer(value: Any) -> Optional[int]:
    """JSON numbers as JavaScript reads them: 5 and 5.0 are the same integer; true is no number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _valid_rfc3339(text: str) -> bool:
    m = RFC3339_RE.fullmatch(text)
    if not m:
        return False
    year, month, day = int(m["y"]), int(m["mo"]), int(m["d"])
    if not 1 <= month <= 12:
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    if not 1 <= day <= days:
        return False
    # Second 60 is a leap second, which RFC 3339 allows.
    if int(m["h"]) > 23 or int(m["mi"]) > 59 or int(m["s"]) > 60:
        return False
    if m["oh"] is not None and (int(m["oh"]) > 23 or int(m["om"]) > 59):
        return False
    return True


def parse_route(
    data: bytes,
    *,
    pipeline: str,
    now_ms: int,
    expect: Optional[Mapping[str, str]] = None,
) -> Route:
    """Checks a route document's bytes against every rule; raises :class:`RouteRefused`.

    ``pipeline`` is the pipeline the reader asked for; ``expect`` may pin ``project`` and
    ``serviceAccount`` (an account of another project is accepted only when pinned this way).
    """
    if len(data) > MAX_ROUTE_BYTES:
        raise RouteRefused("(document)", f"is larger than {MAX_ROUTE_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise RouteRefused("(document)", "is not UTF-8 text") from None
    try:
        doc = json.loads(text, object_pairs_hook=_reject_duplicates)
    except json.JSONDecodeError as err:
        # The position only: the decoder's message never quotes the document, and neither do we.
        raise RouteRefused("(document)", f"is not valid JSON (line {err.lineno} column {err.colno})") from None
    if not isinstance(doc, dict):
        raise RouteRefused("(document)", "is not a JSON object")
    if any(key not in FIELDS for key in doc):
        # The field's name is not repeated either: it is the document's content.
        raise RouteRefused("(document)", "has a field that is not a route field")
    for name in FIELDS:
        if name not in doc:
            raise RouteRefused(name, "is missing")

    name_ = doc["pipeline"]
    if not isinstance(name_, str) or not PIPELINE_RE.fullmatch(name_):
        raise RouteRefused("pipeline", PIPELINE_RULE)
    generation = _integer(doc["generation"])
    if generation is None or generation < 0:
        raise RouteRefused("generation", "must be an integer of at least 0")
    if generation > now_ms + MAX_GENERATION_AHEAD_MS:
        raise RouteRefused("generation", "is more than a day ahead of this reader's clock")
    percent = _integer(doc["vertexPercent"])
    if percent is None or not 0 <= percent <= 100:
        raise RouteRefused("vertexPercent", "must be an integer from 0 to 100")
    project = doc["project"]
    if not isinstance(project, str) or not PROJECT_RE.fullmatch(project):
        raise RouteRefused("project", PROJECT_RULE)
    location = doc["location"]
    if not isinstance(location, str) or not LOCATION_RE.fullmatch(location):
        raise RouteRefused("location", LOCATION_RULE)
    account = doc["serviceAccount"]
    account_match = ACCOUNT_RE.fullmatch(account) if isinstance(account, str) else None
    if account_match is None:
        raise RouteRefused("serviceAccount", ACCOUNT_RULE)
    updated_at = doc["updatedAt"]
    if not isinstance(updated_at, str) or not _valid_rfc3339(updated_at):
        raise RouteRefused("updatedAt", "must be an RFC 3339 date-time such as 2026-11-28T00:15:00Z")

    if name_ != pipeline:
        raise RouteRefused("pipeline", "names another pipeline than the one asked for")
    expected_project = (expect or {}).get("project")
    if expected_project is not None and project != expected_project:
        raise RouteRefused("project", "differs from the project this reader expects")
    expected_account = (expect or {}).get("serviceAccount")
    if expected_account is not None:
        if account != expected_account:
            raise RouteRefused("serviceAccount", "differs from the service account this reader expects")
    elif account_match["project"] != project:
        raise RouteRefused("serviceAccount", "belongs to another project than the route's (pin it with expect to allow that)")

    return Route(
        pipeline=name_,
        generation=generation,
        vertex_percent=percent,
        project=project,
        location=location,
        service_account=account,
        updated_at=updated_at,
    )
