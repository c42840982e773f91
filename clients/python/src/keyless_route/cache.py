"""The route as a pipeline sees it, with gemini-client/route-cache.ts's rules, and never an error.

- A read is reused for the TTL (default 10 s), so a published change is followed within it.
- A read slower than the read timeout (default 2 s) counts as failed: a hung store cannot stall a run.
- A failed read (store unreachable, document refused by the rules) keeps the last route seen,
  marked stale; with none, the pipeline stays on its key.
- A lower generation than the one held is an older publication read from a lagging replica: ignored.
- A store that answers "no document" means no route: the key (as the TypeScript client does).

The last route seen is also kept on disk (``cache_file``), so the next *process* starts from it:
``python -m keyless_route exec`` runs once per job, and a job whose store is down still follows the
route its previous run saw. A disk entry younger than the TTL is used without reading the store, so
a run started right after another costs no read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Union

from .route import Route, RouteRefused, parse_route
from .store import RouteSource

DEFAULT_TTL_SECONDS = 10.0
DEFAULT_READ_TIMEOUT_SECONDS = 2.0

logger = logging.getLogger("keyless_route")

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class RouteView:
    """The route a decision uses, and how fresh it is."""

    #: None: no route seen, so the key is used.
    route: Optional[Route]
    #: The last read failed; ``route`` is the last one seen (or none).
    stale: bool = False
    #: Why the last read failed (never the document's content).
    error: Optional[str] = None
    #: The route came from the disk cache an earlier process left.
    from_disk: bool = False


def default_cache_dir(env: Optional[Mapping[str, str]] = None) -> Path:
    """``$KEYLESS_CACHE_DIR``, else ``$XDG_CACHE_HOME/keyless``, else the user's cache folder + ``/keyless``."""
    env = os.environ if env is None else env
    if env.get("KEYLESS_CACHE_DIR"):
        return Path(env["KEYLESS_CACHE_DIR"])
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]) / "keyless"
    if sys.platform == "win32" and env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / "keyless" / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "keyless"
    return Path.home() / ".cache" / "keyless"


def default_cache_file(store: str, pipeline: str, project: Optional[str], env: Optional[Mapping[str, str]] = None) -> Path:
    """One small file per (store, project, pipeline) under :func:`default_cache_dir`."""
    digest = hashlib.sha256(f"{store}\u0000{project or ''}".encode()).hexdigest()[:12]
    return default_cache_dir(env) / "routes" / f"{pipeline}-{digest}.json"


class RouteReadTimeout(TimeoutError):
    pass


class RouteCache:
    """The cached route; :meth:`current` never raises."""

    def __init__(
        self,
        *,
        pipeline: str,
        project: Optional[str],
        store: str,
        source: RouteSource,
        ttl: float = DEFAULT_TTL_SECONDS,
        read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
        expect: Optional[Mapping[str, str]] = None,
        cache_file: Optional[PathLike] = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pipeline = pipeline
        self.project = project
        self.store = store
        self.source = source
        self.ttl = ttl
        self.read_timeout = read_timeout
        # The reader's own project is what a route of this path must name.
        self.expect: Dict[str, str] = {**({"project": project} if project else {}), **dict(expect or {})}
        self.cache_file = Path(cache_file) if cache_file is not None else None
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._reading: Optional[threading.Thread] = None
        self._view = RouteView(route=None)
        self._expires_at = float("-inf")
        #: The last route seen (from the store or an earlier process's disk cache).
        self._held: Optional[Route] = None
        self._reported: Optional[str] = None
        self._load_disk()

    # -- public --------------------------------------------------------------------------------

    def current(self) -> RouteView:
        """The route to decide with: the cached one within the TTL, else a fresh read."""
        # The hot path takes no lock: a pipeline pays for a read once per TTL, not per call.
        if self._monotonic() < self._expires_at:
            return self._view
        with self._lock:
            # Concurrent callers wait for the one read and share its result.
            if self._monotonic() >= self._expires_at:
                self._refresh()
            return self._view

    # -- reading -------------------------------------------------------------------------------

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _refresh(self) -> None:
        try:
            self.source.prepare()
            found = self._read_with_timeout()
            checked = parse_route(found[0], pipeline=self.pipeline, now_ms=self._now_ms(), expect=self.expect) if found else None
            held = self._held
            keep = held if held is not None and checked is not None and checked.generation < held.generation else checked
            self._held = keep
            self._view = RouteView(route=keep)
            self._write_disk(keep)
            self._report(None)
        except Exception as err:  # never raised to the pipeline: it keeps the last route seen
            where = self.source.location
            reason = f"{where}: {err}" if isinstance(err, RouteRefused) else _describe(err, where)
            self._view = RouteView(route=self._held, stale=True, error=reason, from_disk=self._view.from_disk and self._held is not None)
            self._report(reason)
        self._expires_at = self._monotonic() + self.ttl

    def _read_with_timeout(self) -> Any:
        if self._reading is not None and self._reading.is_alive():
            raise RouteReadTimeout(f"reading {self.source.location} is still hung from an earlier read")
        outcome: Dict[str, Any] = {}
        done = threading.Event()

        def work() -> None:
            try:
                outcome["value"] = self.source.read()
            except BaseException as err:  # handed to the caller's thread
                outcome["error"] = err
            finally:
                done.set()

        thread = threading.Thread(target=work, name="keyless-route-read", daemon=True)
        self._reading = thread
        thread.start()
        if not done.wait(self.read_timeout):
            raise RouteReadTimeout(f"reading {self.source.location} took longer than {self.read_timeout * 1000:.0f} ms")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    def _report(self, reason: Optional[str]) -> None:
        # Logged once per change, not at every TTL.
        if reason == self._reported:
            return
        self._reported = reason
        if reason is None:
            return
        held = self._held
        using = f"the last route seen (generation {held.generation})" if held else "the API key"
        logger.warning("keyless: route of %s not read (%s); using %s", self.pipeline, reason, using)

    # -- the disk cache ------------------------------------------------------------------------

    def _load_disk(self) -> None:
        if self.cache_file is None:
            return
        try:
            with open(self.cache_file, "rb") as f:
                entry = json.loads(f.read(64 * 1024))
            if not isinstance(entry, dict) or entry.get("v") != 1:
                return
            if entry.get("store") != self.store or entry.get("pipeline") != self.pipeline or entry.get("project") != self.project:
                return
            read_at = entry.get("readAtMs")
            if not isinstance(read_at, int) or isinstance(read_at, bool):
                return
            doc = entry.get("route")
            # The same rules as a store's document: the file is outside this process's control too.
            route = parse_route(json.dumps(doc).encode(), pipeline=self.pipeline, now_ms=self._now_ms(), expect=self.expect) if doc is not None else None
        except (OSError, ValueError):
            return
        self._held = route
        age_ms = self._now_ms() - read_at
        if 0 <= age_ms < self.ttl * 1000:
            # Read by an earlier process within the TTL: use it as a fresh read.
            self._view = RouteView(route=route, from_disk=True)
            self._expires_at = self._monotonic() + self.ttl - age_ms / 1000
        else:
            self._view = RouteView(route=route, stale=False, from_disk=True)

    def _write_disk(self, route: Optional[Route]) -> None:
        if self.cache_file is None:
            return
        entry = {
            "v": 1,
            "store": self.store,
            "pipeline": self.pipeline,
            "project": self.project,
            "readAtMs": self._now_ms(),
            "route": route.to_document() if route else None,
        }
        path = self.cache_file
        tmp = path.with_name(f"{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # A random name, created exclusively and private, then renamed over the old one.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(entry, f)
            os.replace(tmp, path)
        except OSError as err:
            logger.debug("keyless: could not write the route cache %s: %s", path, err)
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _describe(err: BaseException, where: str) -> str:
    """A failed read in one line, without anything a document or a server said about its content."""
    if isinstance(err, RouteReadTimeout):
        return str(err)
    code = getattr(err, "code", None)
    name = type(err).__name__
    if isinstance(err, OSError) and err.strerror:
        return f"{where} could not be read: {err.strerror}"
    if isinstance(code, int):
        return f"{where} could not be read: HTTP {code} ({name})"
    return f"{where} could not be read: {name}: {str(err)[:200]}"
