"""route_client against the emulator: real google-genai calls on both paths, routes read from a
directory and a Cloud Storage bucket, route changes, and keyless being down."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest
from conftest import Cloud, route_doc, write_route
from google.genai import errors, types

from keyless_route import CallOutcome, route_client

MODEL = "gemini-2.5-flash"
ASK: Dict[str, Any] = {"model": MODEL, "contents": "Summarise in one sentence: the printer on floor 3 jams every morning."}


def make(cloud: Cloud, store: str, outcomes: List[CallOutcome], tmp_path: Path, **kwargs: Any):
    options: Dict[str, Any] = {
        "project": cloud.project,
        "api_key": cloud.api_key,
        "on_call": outcomes.append,
        "cache_file": tmp_path / "route-cache.json",
    }
    options.update(kwargs)
    return route_client(cloud.pipeline, store, **options)


def test_the_key_without_a_route_and_vertex_at_100_percent(cloud: Cloud, tmp_path: Path) -> None:
    routes = tmp_path / "routes"
    outcomes: List[CallOutcome] = []
    before = cloud.request_counts()
    via_key = make(cloud, f"file://{routes}", outcomes, tmp_path, disk_cache=False).models.generate_content(**ASK)
    write_route(routes, route_doc(1, 100))
    client = make(cloud, f"file://{routes}", outcomes, tmp_path, disk_cache=False)
    via_vertex = client.models.generate_content(**ASK)
    # The same types google-genai returns.
    assert isinstance(via_key, types.GenerateContentResponse) and via_key.text
    assert isinstance(via_vertex, types.GenerateContentResponse) and via_vertex.text
    assert [(o.auth_mode, o.status, o.model, o.route_generation, o.route_stale) for o in outcomes] == [
        ("api-key", 200, MODEL, None, False),
        ("vertex", 200, MODEL, 1, False),
    ]
    assert all(o.latency_ms > 0 for o in outcomes)
    assert cloud.api_key not in json.dumps([o.as_dict() for o in outcomes])
    # Google's own accounting: one call on the key, one as the pipeline's account.
    after = cloud.request_counts()
    assert (after["key"] - before["key"], after["vertex"] - before["vertex"]) == (1, 1)


def test_each_backend_is_its_own_client_and_never_holds_both_credentials(cloud: Cloud, tmp_path: Path) -> None:
    routes = tmp_path / "routes"
    write_route(routes, route_doc(1, 50))
    client = make(cloud, f"file://{routes}", [], tmp_path, mode="per-call", disk_cache=False)
    for _ in range(12):
        client.models.generate_content(**ASK)
    backends = client._backends
    gemini = backends._gemini._api_client
    vertex = [c._api_client for c in backends._vertex.values()]
    assert gemini.vertexai is False and gemini.api_key == cloud.api_key and gemini._credentials is None
    assert len(vertex) == 1 and vertex[0].vertexai is True and vertex[0].api_key is None
    assert (vertex[0].project, vertex[0].location) == (cloud.project, "global")
    assert "x-goog-api-key" not in (vertex[0]._http_options.headers or {})


def test_per_run_one_auth_per_run_and_per_call_a_split_around_the_percent(cloud: Cloud, tmp_path: Path) -> None:
    routes = tmp_path / "routes"
    write_route(routes, route_doc(2, 50))
    per_run: List[CallOutcome] = []
    client = make(cloud, f"file://{routes}", per_run, tmp_path, mode="per-run", disk_cache=False)
    for r in range(12):
        run = client.run(f"run-{r}")
        for _ in range(3):
            run.models.generate_content(**ASK)
    modes: Dict[str, set] = {}
    for o in per_run:
        modes.setdefault(o.run_id, set()).add(o.auth_mode)
    assert len(modes) == 12 and all(len(m) == 1 for m in modes.values())
    assert {o.auth_mode for o in per_run} == {"api-key", "vertex"}

    per_call: List[CallOutcome] = []
    pc = make(cloud, f"file://{routes}", per_call, tmp_path, mode="per-call", run_id="run-x", disk_cache=False)
    for _ in range(40):
        pc.models.generate_content(**ASK)
    vertex = sum(o.auth_mode == "vertex" for o in per_call)
    assert 8 < vertex < 32
    assert all(o.status == 200 and o.run_id == "run-x" for o in per_call)


def test_follows_a_published_change_once_its_ttl_has_passed(cloud: Cloud, tmp_path: Path) -> None:
    routes = tmp_path / "routes"
    write_route(routes, route_doc(3, 0))
    outcomes: List[CallOutcome] = []
    client = make(cloud, f"file://{routes}", outcomes, tmp_path, ttl=0.3, mode="per-call", disk_cache=False)
    client.models.generate_content(**ASK)
    write_route(routes, route_doc(4, 100))
    client.models.generate_content(**ASK)
    time.sleep(0.4)
    client.models.generate_content(**ASK)
    assert [(o.auth_mode, o.route_generation) for o in outcomes] == [("api-key", 3), ("api-key", 3), ("vertex", 4)]


def test_keeps_the_last_route_when_the_document_turns_corrupt_and_never_fails_the_call(cloud: Cloud, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    routes = tmp_path / "routes"
    write_route(routes, route_doc(5, 100))
    outcomes: List[CallOutcome] = []
    client = make(cloud, f"file://{routes}", outcomes, tmp_path, ttl=0, mode="per-call", disk_cache=False)
    client.models.generate_content(**ASK)
    write_route(routes, route_doc(6, 0, serviceAccount="AIzaSy" + "Z" * 33))
    client.models.generate_content(**ASK)
    view = client.route()
    assert [(o.auth_mode, o.status, o.route_stale) for o in outcomes] == [("vertex", 200, False), ("vertex", 200, True)]
    assert view.stale and view.route.generation == 5
    assert "serviceAccount" in caplog.text and "AIzaSy" not in caplog.text


def test_the_key_when_the_bucket_is_down_from_the_start(clean_faults: Cloud, tmp_path: Path) -> None:
    cloud = clean_faults
    cloud.set_faults("storage", {"errorRates": {"503": 1}})
    outcomes: List[CallOutcome] = []
    client = make(cloud, f"gs://{cloud.bucket}/down", outcomes, tmp_path, disk_cache=False)
    response = client.models.generate_content(**ASK)
    assert response.text
    assert [(o.auth_mode, o.status, o.route_stale, o.route_generation) for o in outcomes] == [("api-key", 200, True, None)]
    assert "HTTP 503" in client.route().error


def test_reads_a_cloud_storage_route_and_a_hung_bucket_counts_as_failed(clean_faults: Cloud, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cloud = clean_faults
    caplog.set_level(logging.WARNING)
    prefix = "client-test"
    cloud.publish_gcs(f"{prefix}/{cloud.project}/{cloud.pipeline}.json", json.dumps(route_doc(7, 100)).encode())
    outcomes: List[CallOutcome] = []
    client = make(cloud, f"gs://{cloud.bucket}/{prefix}", outcomes, tmp_path, ttl=0, read_timeout=0.5, mode="per-call", disk_cache=False)
    client.models.generate_content(**ASK)
    cloud.set_faults("storage", {"latencyMs": 4000})
    started = time.monotonic()
    client.models.generate_content(**ASK)
    # The call went on after the 0.5 s read timeout, not after the bucket's 4 s.
    assert time.monotonic() - started < 3
    assert [(o.auth_mode, o.status, o.route_generation, o.route_stale) for o in outcomes] == [("vertex", 200, 7, False), ("vertex", 200, 7, True)]
    # The call's read gave up at its timeout, and said so once.
    assert "took longer than 500 ms" in caplog.text
    # The next read (TTL 0) fails too, and keeps the route it had: while the first read's thread
    # still hangs it starts no second one; once that thread gave up, a new read times out again.
    view = client.route()
    assert view.stale and view.route is not None and view.route.generation == 7
    assert "still hung from an earlier read" in view.error or "took longer than 500 ms" in view.error


def test_cloud_storage_old_place_and_size_cap(cloud: Cloud, tmp_path: Path) -> None:
    prefix = "client-legacy"
    cloud.publish_gcs(f"{prefix}/{cloud.pipeline}.json", json.dumps(route_doc(8, 100)).encode())
    client = make(cloud, f"gs://{cloud.bucket}/{prefix}", [], tmp_path, disk_cache=False)
    assert client.route().route.generation == 8
    big = json.dumps(route_doc(9, 0)).encode()
    big = big[:-1] + b" " * (17 * 1024) + b"}"
    cloud.publish_gcs(f"{prefix}/{cloud.project}/{cloud.pipeline}.json", big)
    view = make(cloud, f"gs://{cloud.bucket}/{prefix}", [], tmp_path, disk_cache=False).route()
    assert view.route is None and view.stale and "larger than 16 KiB" in view.error


def test_the_next_process_starts_from_the_disk_cache_when_the_bucket_is_down(clean_faults: Cloud, tmp_path: Path) -> None:
    cloud = clean_faults
    prefix = "client-disk"
    cloud.publish_gcs(f"{prefix}/{cloud.project}/{cloud.pipeline}.json", json.dumps(route_doc(11, 100)).encode())
    store = f"gs://{cloud.bucket}/{prefix}"
    first: List[CallOutcome] = []
    make(cloud, store, first, tmp_path, ttl=0).models.generate_content(**ASK)
    cloud.set_faults("storage", {"errorRates": {"503": 1}})
    second: List[CallOutcome] = []
    make(cloud, store, second, tmp_path, ttl=0).models.generate_content(**ASK)
    assert [(o.auth_mode, o.route_generation, o.route_stale) for o in first + second] == [("vertex", 11, False), ("vertex", 11, True)]


def test_expect_refuses_a_route_for_another_account_like_a_corrupt_one(cloud: Cloud, tmp_path: Path) -> None:
    routes = tmp_path / "routes"
    write_route(routes, route_doc(1, 100))
    outcomes: List[CallOutcome] = []
    client = make(cloud, f"file://{routes}", outcomes, tmp_path, disk_cache=False, expect={"serviceAccount": f"pinned-runner@{cloud.project}.iam.gserviceaccount.com"})
    client.models.generate_content(**ASK)
    assert [(o.auth_mode, o.route_stale) for o in outcomes] == [("api-key", True)]
    assert "differs from the service account this reader expects" in client.route().error


def test_vertex_by_impersonating_the_routes_account(cloud: Cloud, tmp_path: Path) -> None:
    from google.oauth2 import service_account

    # The orchestrator's key as the source; it may mint the pipeline account's tokens.
    source = service_account.Credentials.from_service_account_file(cloud.publisher_key_file, scopes=["https://www.googleapis.com/auth/cloud-platform"])
    routes = tmp_path / "routes"
    write_route(routes, route_doc(1, 100))
    before = cloud.request_counts()
    outcomes: List[CallOutcome] = []
    make(cloud, f"file://{routes}", outcomes, tmp_path, disk_cache=False, credentials=source, vertex_auth="impersonate").models.generate_content(**ASK)
    assert [(o.auth_mode, o.status) for o in outcomes] == [("vertex", 200)]
    assert cloud.request_counts()["vertex"] - before["vertex"] == 1


def test_a_failed_call_is_reported_with_its_status_and_raised_unchanged(cloud: Cloud, tmp_path: Path) -> None:
    routes = tmp_path / "routes"
    # gemini-2.5-flash-lite is not served by Vertex in europe-west4.
    write_route(routes, route_doc(1, 100, location="europe-west4"))
    outcomes: List[CallOutcome] = []
    client = make(cloud, f"file://{routes}", outcomes, tmp_path, disk_cache=False)
    with pytest.raises(errors.ClientError) as err:
        client.models.generate_content(model="gemini-2.5-flash-lite", contents="hello")
    assert err.value.code == 404
    assert [(o.auth_mode, o.status, o.model) for o in outcomes] == [("vertex", 404, "gemini-2.5-flash-lite")]


def test_streaming_follows_the_route_too(cloud: Cloud, tmp_path: Path) -> None:
    routes = tmp_path / "routes"
    write_route(routes, route_doc(1, 100))
    outcomes: List[CallOutcome] = []
    client = make(cloud, f"file://{routes}", outcomes, tmp_path, disk_cache=False)
    chunks = list(client.models.generate_content_stream(**ASK))
    assert chunks and "".join(c.text or "" for c in chunks)
    assert [(o.auth_mode, o.status) for o in outcomes] == [("vertex", 200)]


def test_the_key_from_the_environment_is_asked_only_on_the_key_path(cloud: Cloud, tmp_path: Path) -> None:
    routes = tmp_path / "routes"
    write_route(routes, route_doc(1, 100))
    outcomes: List[CallOutcome] = []
    # No key configured at all: a Vertex route still works.
    client = make(cloud, f"file://{routes}", outcomes, tmp_path, api_key=None, env={"KEYLESS_EMULATOR": cloud.base_url}, disk_cache=False)
    client.models.generate_content(**ASK)
    assert outcomes[0].auth_mode == "vertex"
    keyless = make(cloud, f"file://{tmp_path / 'none'}", [], tmp_path, api_key=None, env={"KEYLESS_EMULATOR": cloud.base_url}, disk_cache=False)
    with pytest.raises(RuntimeError, match="set GEMINI_API_KEY or pass api_key"):
        keyless.models.generate_content(**ASK)
    from_env = make(cloud, f"file://{tmp_path / 'none'}", [], tmp_path, api_key=None, env={"KEYLESS_EMULATOR": cloud.base_url, "GEMINI_API_KEY": cloud.api_key}, disk_cache=False)
    assert from_env.models.generate_content(**ASK).text
