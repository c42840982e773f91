"""Shared set-up of the keyless-route tests.

Tests that need the emulator read its environment (started by test/python-client/python-client.test.ts,
or by hand with ``npx tsx test/python-client/harness.ts``): KEYLESS_EMULATOR, the pipeline account's
metadata server as GCE_METADATA_HOST, and the KEYLESS_TEST_* values. Without it they are skipped,
and the vitest wrapper fails a run with any skipped test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

import pytest

REPO = Path(__file__).resolve().parents[3]
VECTORS = REPO / "clients" / "vectors"
JOBS = Path(__file__).resolve().parent / "jobs"


def route_doc(generation: int, percent: int, **over: Any) -> Dict[str, Any]:
    """A route as the workflow publishes it, for the test estate's pipeline."""
    project = os.environ.get("KEYLESS_TEST_PROJECT", "demo-project")
    pipeline = os.environ.get("KEYLESS_TEST_PIPELINE", "nightly-summarizer")
    doc: Dict[str, Any] = {
        "pipeline": pipeline,
        "generation": generation,
        "vertexPercent": percent,
        "project": project,
        "location": "global",
        "serviceAccount": f"{pipeline}@{project}.iam.gserviceaccount.com",
        "updatedAt": "2026-11-30T00:53:20.000Z",
    }
    doc.update(over)
    return doc


def write_route(store_dir: Path, doc: Dict[str, Any], *, legacy: bool = False, raw: Optional[bytes] = None) -> Path:
    """Publishes a document in a file:// store, at <store>/<project>/<pipeline>.json (or the old place)."""
    name = f"{doc['pipeline']}.json" if legacy else f"{doc['project']}/{doc['pipeline']}.json"
    path = store_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(raw if raw is not None else json.dumps(doc).encode())
    os.replace(tmp, path)
    return path


@dataclass
class Cloud:
    """The emulator estate of the vitest wrapper."""

    base_url: str
    project: str
    pipeline: str
    account: str
    account_unique_id: str
    key_uid: str
    api_key: str
    bucket: str
    publisher_key_file: str
    node: str

    # -- admin -------------------------------------------------------------------------------

    def admin(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.base_url}/admin/v1/{path}", data=data, method=method, headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as res:
            return json.loads(res.read() or b"{}")

    def set_faults(self, surface: str, faults: Dict[str, Any]) -> None:
        self.admin("PUT", f"faults/{surface}", faults)

    def clear_faults(self) -> None:
        self.admin("DELETE", "faults")

    # -- Cloud Storage, as the orchestrator publishes ------------------------------------------

    def publish_gcs(self, name: str, data: bytes) -> None:
        from google.cloud import storage
        from google.oauth2 import service_account

        creds = service_account.Credentials.from_service_account_file(self.publisher_key_file, scopes=["https://www.googleapis.com/auth/cloud-platform"])
        client = storage.Client(project=self.project, credentials=creds, client_options={"api_endpoint": self.base_url})
        client.bucket(self.bucket).blob(name).upload_from_string(data, content_type="application/json")

    def delete_gcs(self, name: str) -> None:
        from google.cloud import storage
        from google.oauth2 import service_account

        creds = service_account.Credentials.from_service_account_file(self.publisher_key_file, scopes=["https://www.googleapis.com/auth/cloud-platform"])
        client = storage.Client(project=self.project, credentials=creds, client_options={"api_endpoint": self.base_url})
        client.bucket(self.bucket).blob(name).delete()

    # -- which credential the calls used: Cloud Monitoring's request_count per credential ------

    def request_counts(self) -> Dict[str, int]:
        """Generative requests so far by credential: 'vertex' (the pipeline account) and 'key'."""
        import google.auth.transport.requests
        from google.oauth2 import service_account

        # Read as the orchestrator (roles/monitoring.viewer), as the canary does; the pipeline's own
        # account may not read Monitoring.
        reader = service_account.Credentials.from_service_account_file(self.publisher_key_file, scopes=["https://www.googleapis.com/auth/cloud-platform"])
        session = google.auth.transport.requests.AuthorizedSession(reader)
        now = time.time()
        params = {
            "filter": 'metric.type = "serviceruntime.googleapis.com/api/request_count" AND resource.type = "consumed_api"',
            "interval.startTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 6 * 3600)),
            "interval.endTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 120)),
        }
        res = session.get(f"{self.base_url}/v3/projects/{self.project}/timeSeries", params=params, timeout=30)
        res.raise_for_status()
        counts = {"vertex": 0, "key": 0, "other": 0}
        for series in res.json().get("timeSeries", []):
            credential = series["resource"]["labels"]["credential_id"]
            n = sum(int(p["value"]["int64Value"]) for p in series["points"])
            if credential == f"serviceaccount:{self.account_unique_id}":
                counts["vertex"] += n
            elif credential == f"apikey:{self.key_uid}":
                counts["key"] += n
            else:
                counts["other"] += n
        return counts


@pytest.fixture(scope="session")
def cloud() -> Cloud:
    if not os.environ.get("KEYLESS_EMULATOR") or not os.environ.get("KEYLESS_TEST_API_KEY"):
        pytest.skip("needs the emulator estate of test/python-client/harness.ts")
    e = os.environ
    return Cloud(
        base_url=e["KEYLESS_EMULATOR"],
        project=e["KEYLESS_TEST_PROJECT"],
        pipeline=e["KEYLESS_TEST_PIPELINE"],
        account=e["KEYLESS_TEST_ACCOUNT"],
        account_unique_id=e["KEYLESS_TEST_ACCOUNT_UNIQUE_ID"],
        key_uid=e["KEYLESS_TEST_KEY_UID"],
        api_key=e["KEYLESS_TEST_API_KEY"],
        bucket=e["KEYLESS_TEST_BUCKET"],
        publisher_key_file=e["KEYLESS_TEST_PUBLISHER_KEY_FILE"],
        node=e.get("KEYLESS_TEST_NODE", "node"),
    )


@pytest.fixture()
def clean_faults(cloud: Cloud) -> Iterator[Cloud]:
    cloud.clear_faults()
    yield cloud
    cloud.clear_faults()


@pytest.fixture()
def job_env(cloud: Cloud, tmp_path: Path) -> Dict[str, str]:
    """A runner's environment: the pipeline's key, ADC through the metadata server, its own cache folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYLESS_TEST_")}
    for name in ("GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "KEYLESS_RUN_ID"):
        env.pop(name, None)
    env["GEMINI_API_KEY"] = cloud.api_key
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    return env


def run_exec(
    options: Sequence[str],
    command: Sequence[str],
    env: Dict[str, str],
    *,
    timeout: float = 60,
) -> "subprocess.CompletedProcess[str]":
    """``python -m keyless_route exec <options> -- <command>``, as a runner's step would run it."""
    return subprocess.run(
        [sys.executable, "-m", "keyless_route", "exec", *options, "--", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def python_job(name: str = "summarize.py") -> List[str]:
    return [sys.executable, str(JOBS / name)]
