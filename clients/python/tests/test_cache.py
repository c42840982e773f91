"""The route cache's rules (gemini-client/route-cache.ts): TTL, read timeout, last route seen,
generations, the old document place, and the disk cache the next process starts from."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import List, Optional

from conftest import route_doc, write_route

from keyless_route.cache import RouteCache, default_cache_file
from keyless_route.store import Document, FileRouteSource, RouteSource, parse_store

PIPELINE = "nightly-summarizer"
PROJECT = "demo-project"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class SlowSource(RouteSource):
    """A real file store behind a delay, as a hung network store would be."""

    def __init__(self, inner: RouteSource, delay: float) -> None:
        self.inner = inner
        self.delay = delay
        self.location = inner.location
        self.reads = 0

    def read(self) -> Optional[Document]:
        self.reads += 1
        time.sleep(self.delay)
        return self.inner.read()


def cache_for(tmp_path: Path, *, ttl: float = 10, clock: Optional[Clock] = None, source: Optional[RouteSource] = None, cache_file: Optional[Path] = None, read_timeout: float = 2, expect: Optional[dict] = None) -> RouteCache:
    store = f"file://{tmp_path / 'routes'}"
    return RouteCache(
        pipeline=PIPELINE,
        project=PROJECT,
        store=store,
        source=source or FileRouteSource(parse_store(store), PIPELINE, PROJECT),
        ttl=ttl,
        read_timeout=read_timeout,
        expect=expect,
        cache_file=cache_file,
        monotonic=clock or time.monotonic,
    )


def test_no_document_means_no_route_and_not_stale(tmp_path: Path) -> None:
    view = cache_for(tmp_path).current()
    assert view.route is None and not view.stale


def test_a_read_is_reused_for_the_ttl_then_read_again(tmp_path: Path) -> None:
    clock = Clock()
    write_route(tmp_path / "routes", route_doc(1, 0))
    cache = cache_for(tmp_path, ttl=10, clock=clock)
    assert cache.current().route.generation == 1
    write_route(tmp_path / "routes", route_doc(2, 100))
    clock.t += 9.9
    assert cache.current().route.generation == 1
    clock.t += 0.2
    view = cache.current()
    assert view.route.generation == 2 and view.route.vertex_percent == 100


def test_a_slow_read_counts_as_failed_and_keeps_the_last_route(tmp_path: Path) -> None:
    write_route(tmp_path / "routes", route_doc(3, 100))
    inner = FileRouteSource(parse_store(f"file://{tmp_path / 'routes'}"), PIPELINE, PROJECT)
    slow = SlowSource(inner, 0)
    cache = cache_for(tmp_path, ttl=0, source=slow, read_timeout=0.3)
    assert cache.current().route.generation == 3
    slow.delay = 1.5
    started = time.monotonic()
    view = cache.current()
    assert time.monotonic() - started < 1.0
    assert view.stale and view.route.generation == 3
    assert "took longer than 300 ms" in view.error
    # The hung read is not piled on: the next read fails at once while it is still running.
    again = cache.current()
    assert again.stale and "still hung" in again.error and slow.reads == 2


def test_a_corrupt_or_refused_document_keeps_the_last_route_and_never_quotes_it(tmp_path: Path) -> None:
    routes = tmp_path / "routes"
    write_route(routes, route_doc(5, 100))
    cache = cache_for(tmp_path, ttl=0)
    assert cache.current().route.generation == 5
    write_route(routes, route_doc(6, 0), raw=b'{"pipeline": "nightly-summ')
    view = cache.current()
    assert view.stale and view.route.generation == 5 and "not valid JSON" in view.error
    write_route(routes, route_doc(7, 0, location="evil.example#"))
    view = cache.current()
    assert view.stale and view.route.generation == 5
    assert "location" in view.error and "evil.example" not in view.error


def test_an_unreadable_store_at_start_means_the_key(tmp_path: Path) -> None:
    # A directory where the document should be: the store answers, but not with a document.
    (tmp_path / "routes" / PROJECT / f"{PIPELINE}.json").mkdir(parents=True)
    view = cache_for(tmp_path).current()
    assert view.route is None and view.stale and "could not be read" in view.error


def test_a_lower_generation_is_ignored(tmp_path: Path) -> None:
    routes = tmp_path / "routes"
    write_route(routes, route_doc(9, 100))
    cache = cache_for(tmp_path, ttl=0)
    assert cache.current().route.generation == 9
    # A lagging replica answers an older publication.
    write_route(routes, route_doc(8, 0))
    view = cache.current()
    assert view.route.generation == 9 and view.route.vertex_percent == 100 and not view.stale
    write_route(routes, route_doc(10, 0))
    assert cache.current().route.generation == 10


def test_a_removed_document_means_the_key_again(tmp_path: Path) -> None:
    path = write_route(tmp_path / "routes", route_doc(4, 100))
    cache = cache_for(tmp_path, ttl=0)
    assert cache.current().route is not None
    path.unlink()
    view = cache.current()
    assert view.route is None and not view.stale


def test_the_old_place_is_read_when_the_new_one_has_no_document(tmp_path: Path) -> None:
    routes = tmp_path / "routes"
    write_route(routes, route_doc(2, 50), legacy=True)
    cache = cache_for(tmp_path, ttl=0)
    assert cache.current().route.generation == 2
    # Once the new place has one, it wins, whatever the old place says.
    write_route(routes, route_doc(3, 100))
    write_route(routes, route_doc(99, 0), legacy=True)
    assert cache.current().route.generation == 3


def test_expect_pins_the_account_and_a_route_that_disagrees_is_refused(tmp_path: Path) -> None:
    write_route(tmp_path / "routes", route_doc(1, 100))
    cache = cache_for(tmp_path, expect={"serviceAccount": f"other-runner@{PROJECT}.iam.gserviceaccount.com"})
    view = cache.current()
    assert view.route is None and view.stale and "serviceAccount differs" in view.error
    assert f"{PIPELINE}@" not in view.error


def test_concurrent_callers_share_one_read(tmp_path: Path) -> None:
    write_route(tmp_path / "routes", route_doc(1, 100))
    inner = FileRouteSource(parse_store(f"file://{tmp_path / 'routes'}"), PIPELINE, PROJECT)
    slow = SlowSource(inner, 0.3)
    cache = cache_for(tmp_path, source=slow)
    seen: List[int] = []
    threads = [threading.Thread(target=lambda: seen.append(cache.current().route.generation)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [1] * 8 and slow.reads == 1


def test_the_next_process_starts_from_the_last_route_seen_when_the_store_is_down(tmp_path: Path) -> None:
    routes = tmp_path / "routes"
    disk = tmp_path / "cache.json"
    path = write_route(routes, route_doc(12, 100))
    first = cache_for(tmp_path, ttl=0, cache_file=disk)
    assert first.current().route.generation == 12
    entry = json.loads(disk.read_text())
    assert entry["route"]["generation"] == 12 and oct(disk.stat().st_mode & 0o777) == "0o600"
    # The store goes down (the document's place is unreadable); a new process starts.
    path.unlink()
    path.mkdir()
    second = cache_for(tmp_path, ttl=0, cache_file=disk)
    view = second.current()
    assert view.route.generation == 12 and view.stale and view.from_disk


def test_a_disk_entry_younger_than_the_ttl_is_used_without_reading(tmp_path: Path) -> None:
    disk = tmp_path / "cache.json"
    write_route(tmp_path / "routes", route_doc(1, 100))
    assert cache_for(tmp_path, ttl=60, cache_file=disk).current().route.generation == 1
    write_route(tmp_path / "routes", route_doc(2, 0))
    inner = FileRouteSource(parse_store(f"file://{tmp_path / 'routes'}"), PIPELINE, PROJECT)
    counting = SlowSource(inner, 0)
    warm = cache_for(tmp_path, ttl=60, cache_file=disk, source=counting)
    assert warm.current().route.generation == 1 and counting.reads == 0
    # With the TTL over (ttl 0), the store is read and the newer route followed.
    cold = cache_for(tmp_path, ttl=0, cache_file=disk, source=counting)
    assert cold.current().route.generation == 2 and counting.reads == 1


def test_a_tampered_disk_entry_is_held_to_the_same_rules(tmp_path: Path) -> None:
    disk = tmp_path / "cache.json"
    path = write_route(tmp_path / "routes", route_doc(1, 100))
    cache_for(tmp_path, ttl=0, cache_file=disk).current()
    entry = json.loads(disk.read_text())
    entry["route"]["location"] = "evil.example#"
    disk.write_text(json.dumps(entry))
    path.unlink()
    path.mkdir()
    view = cache_for(tmp_path, ttl=0, cache_file=disk).current()
    assert view.route is None and view.stale


def test_the_default_cache_file_is_under_xdg_cache_home(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    a = default_cache_file("file:///routes", PIPELINE, PROJECT, env)
    b = default_cache_file("gs://bucket/routes", PIPELINE, PROJECT, env)
    assert a.parent == tmp_path / "keyless" / "routes" and a.name.startswith(PIPELINE) and a != b
    assert default_cache_file("file:///routes", PIPELINE, PROJECT, {"KEYLESS_CACHE_DIR": "/x"}).parent == Path("/x/routes")
    assert os.fspath(a).endswith(".json")
