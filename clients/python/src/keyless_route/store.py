"""Route stores: a directory (``file://<dir>``) or a Cloud Storage prefix (``gs://<bucket>[/<prefix>]``).

A pipeline's document lives at ``<store>/<project>/<pipeline>.json``; while migrations that
published at the old place ``<store>/<pipeline>.json`` are still running, a reader that finds no
document at the new place tries the old one once. A read returns the document's bytes (at most
:data:`~keyless_route.route.MAX_ROUTE_BYTES`; a larger document is refused before it is read
whole), or ``None`` when neither place holds one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Tuple

from .route import MAX_ROUTE_BYTES, PIPELINE_RE, PROJECT_RE, RouteRefused

BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}")

#: One document read: its bytes and where they came from (a URL, for messages).
Document = Tuple[bytes, str]


class StoreError(ValueError):
    """A store URL that is neither file:// nor gs://, or names nothing."""


@dataclass(frozen=True)
class StoreUrl:
    scheme: str  # "file" or "gs"
    #: file: the directory; gs: the bucket.
    root: str
    #: gs: the object prefix without slashes at either end ('' for none).
    prefix: str = ""

    @property
    def url(self) -> str:
        if self.scheme == "file":
            return f"file://{self.root}"
        return f"gs://{self.root}" + (f"/{self.prefix}" if self.prefix else "")


def parse_store(store: str) -> StoreUrl:
    """Parses a store URL; raises :class:`StoreError` with the fix."""
    if store.startswith("file://"):
        root = store[len("file://") :].rstrip("/") or ("/" if store[len("file://") :] else "")
        if not root:
            raise StoreError("a file:// store names a directory: file://<dir>, e.g. file://.keyless/routes")
        return StoreUrl("file", root)
    if store.startswith("gs://"):
        rest = store[len("gs://") :]
        bucket, _, prefix = rest.partition("/")
        if not BUCKET_RE.fullmatch(bucket):
            raise StoreError("a gs:// store names a bucket: gs://<bucket>[/<prefix>], e.g. gs://my-project-keyless-routes/routes")
        return StoreUrl("gs", bucket, prefix.strip("/"))
    raise StoreError("the route store must be file://<dir> or gs://<bucket>[/<prefix>]")


def document_names(pipeline: str, project: Optional[str]) -> List[str]:
    """Object names under the store, new place first. Both parts are checked names: no path tricks."""
    if not PIPELINE_RE.fullmatch(pipeline):
        raise ValueError("pipeline must be 2-63 characters: lowercase letters, digits and hyphens, starting with a letter")
    if project is None:
        return [f"{pipeline}.json"]
    if not PROJECT_RE.fullmatch(project):
        raise ValueError("project must be a Google Cloud project id: 6-30 lowercase letters, digits and hyphens, starting with a letter")
    return [f"{project}/{pipeline}.json", f"{pipeline}.json"]


class RouteSource:
    """Where one pipeline's route document is read from."""

    #: The document's (new) place, for messages.
    location: str

    def prepare(self) -> None:
        """Local set-up that must not count against the read timeout (imports)."""

    def read(self) -> Optional[Document]:
        raise NotImplementedError


class FileRouteSource(RouteSource):
    """Route documents as JSON files; a relative directory resolves against the working directory."""

    def __init__(self, store: StoreUrl, pipeline: str, project: Optional[str]) -> None:
        self._dir = store.root
        self._names = document_names(pipeline, project)
        self.location = f"{store.url}/{self._names[0]}"

    def read(self) -> Optional[Document]:
        for name in self._names:
            path = os.path.join(self._dir, *name.split("/"))
            try:
                with open(path, "rb") as f:
                    data = f.read(MAX_ROUTE_BYTES + 1)
            except FileNotFoundError:
                continue
            if len(data) > MAX_ROUTE_BYTES:
                raise RouteRefused("(document)", f"is larger than {MAX_ROUTE_BYTES // 1024} KiB")
            return data, f"file://{self._dir}/{name}"
        return None


class GcsRouteSource(RouteSource):
    """Route documents as Cloud Storage objects, read with google-cloud-storage.

    ``endpoint`` is the emulator's origin in emulator mode, given as ``client_options.api_endpoint``:
    the client then sends the credentials it is given (STORAGE_EMULATOR_HOST would make a client
    without explicit credentials anonymous, and the emulator's Storage wants a bearer token).
    Library retries are off: the reader's own timeout and the TTL decide.
    """

    _READ_ATTEMPTS = 3

    def __init__(
        self,
        store: StoreUrl,
        pipeline: str,
        project: Optional[str],
        credentials: Callable[[], Any],
        endpoint: Optional[str],
        request_timeout: float,
    ) -> None:
        self._bucket = store.root
        prefix = f"{store.prefix}/" if store.prefix else ""
        self._objects = [prefix + name for name in document_names(pipeline, project)]
        self._credentials = credentials
        self._endpoint = endpoint
        self._project = project
        self._timeout = request_timeout
        self._client: Any = None
        self.location = f"gs://{self._bucket}/{self._objects[0]}"

    def prepare(self) -> None:
        # Importing google-cloud-storage takes a while on a cold interpreter; it is not the store's slowness.
        import google.cloud.storage  # noqa: F401

    def _storage(self) -> Any:
        if self._client is None:
            from google.cloud import storage

            options = {"api_endpoint": self._endpoint} if self._endpoint else None
            # A project is only used for listing and creating buckets; naming one avoids a lookup.
            self._client = storage.Client(project=self._project or "keyless-route-reader", credentials=self._credentials(), client_options=options)
        return self._client

    def read(self) -> Optional[Document]:
        from google.api_core import exceptions

        bucket = self._storage().bucket(self._bucket)
        for name in self._objects:
            for attempt in range(1, self._READ_ATTEMPTS + 1):
                blob = bucket.get_blob(name, timeout=self._timeout, retry=None)
                if blob is None:
                    break
                if blob.size is not None and int(blob.size) > MAX_ROUTE_BYTES:
                    raise RouteRefused("(document)", f"is larger than {MAX_ROUTE_BYTES // 1024} KiB")
                try:
                    # The blob carries the generation just read: download exactly that one.
                    data = blob.download_as_bytes(timeout=self._timeout, retry=None)
                except exceptions.NotFound:
                    # Overwritten between the two requests: read the new generation.
                    if attempt < self._READ_ATTEMPTS:
                        continue
                    raise
                if len(data) > MAX_ROUTE_BYTES:
                    raise RouteRefused("(document)", f"is larger than {MAX_ROUTE_BYTES // 1024} KiB")
                return data, f"gs://{self._bucket}/{name}"
        return None
