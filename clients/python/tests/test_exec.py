"""``python -m keyless_route exec``: unchanged jobs (Python google-genai, Node @google/genai) follow
the route per run through the emulator, whose request accounting shows which credential each run
used; bad input, exit codes, signals and a store that is down."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
from conftest import JOBS, Cloud, python_job, route_doc, run_exec, write_route

from keyless_route import chooses_vertex

LINE = re.compile(r"^keyless: (?P<pipeline>\S+) run (?P<run>.+): (?P<mode>vertex|api-key) \((?P<route>route generation \d+|no route)(?P<stale>, stale: .*)?\)$")
# The TypeScript client's stated tolerance for the split (test/gemini-client/split.test.ts).
TOLERANCE_POINTS = 2.5


def decision(stderr: str) -> Dict[str, Optional[str]]:
    first = stderr.splitlines()[0] if stderr else ""
    m = LINE.match(first)
    assert m, f"no decision line in {stderr!r}"
    return m.groupdict()


def node_job(cloud: Cloud) -> List[str]:
    return [cloud.node, str(JOBS / "summarize.mjs")]


def options(store: Path, cloud: Cloud, *extra: str) -> List[str]:
    return ["--pipeline", cloud.pipeline, "--store", f"file://{store}", "--project", cloud.project, *extra]


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, env_extra, message",
    [
        (["--pipeline", "nightly-summarizer", "--store", "file:///tmp/r", "touch", "{marker}"], {}, "put -- between the options and the command"),
        (["--store", "file:///tmp/r", "--", "touch", "{marker}"], {}, "--pipeline is required"),
        (["--pipeline", "Nightly", "--store", "file:///tmp/r", "--", "touch", "{marker}"], {}, "--pipeline must be 2-63 characters"),
        (["--pipeline", "nightly-summarizer", "--", "touch", "{marker}"], {}, "--store is required"),
        (["--pipeline", "nightly-summarizer", "--store", "https://routes.example/r", "--", "touch", "{marker}"], {}, "--store: the route store must be file://<dir> or gs://<bucket>[/<prefix>]"),
        (["--pipeline", "nightly-summarizer", "--store", "file:///tmp/r", "--project", "x", "--", "touch", "{marker}"], {}, "--project must be a Google Cloud project id"),
        (["--pipeline", "nightly-summarizer", "--store", "file:///tmp/r", "--"], {}, "no command after --"),
        (["--pipeline", "nightly-summarizer", "--store", "file:///tmp/r", "--verbose", "--", "touch", "{marker}"], {}, "unknown option --verbose"),
        (["--pipeline", "nightly-summarizer", "--store", "file:///tmp/r", "--", "touch", "{marker}"], {"GOOGLE_GENAI_USE_VERTEXAI": "true"}, "remove GOOGLE_GENAI_USE_VERTEXAI"),
        (["--pipeline", "nightly-summarizer", "--store", "file:///tmp/r", "--", "touch", "{marker}"], {"GOOGLE_GENAI_USE_VERTEXAI": "1"}, "remove GOOGLE_GENAI_USE_VERTEXAI"),
        (["--pipeline", "nightly-summarizer", "--store", "file:///tmp/r", "--", "touch", "{marker}"], {"GOOGLE_API_KEY": "AIza" + "R" * 35}, "remove GOOGLE_API_KEY"),
        (["--pipeline", "nightly-summarizer", "--store", "file:///tmp/r", "--run-id", "run\n1", "--", "touch", "{marker}"], {}, "--run-id contains control characters"),
        (["--pipeline", "nightly-summarizer", "--store", "file:///tmp/r", "--run-id", "run\u202e1", "--", "touch", "{marker}"], {}, "--run-id contains control characters"),
        (["--pipeline", "nightly-summarizer", "--store", "file:///tmp/r", "--", "touch", "{marker}"], {"GITHUB_RUN_ID": "123\x1b[2J"}, "GITHUB_RUN_ID contains control characters"),
        (["--pipeline", "nightly-summarizer", "--store", "file:///tmp/r", "--run-id", "AIza" + "S" * 35, "--", "touch", "{marker}"], {}, "--run-id looks like an API key"),
        (["--pipeline", "nightly-summarizer", "--store", "file:///tmp/r", "--ttl", "soon", "--", "touch", "{marker}"], {}, "--ttl must be a number of seconds"),
        (["--pipeline", "nightly-summarizer", "--store", "file:///tmp/r", "--", "touch", "{marker}"], {"KEYLESS_EMULATOR": "http://10.0.0.8:8085"}, "KEYLESS_EMULATOR must be the emulator's loopback origin"),
        (["--pipeline", "nightly-summarizer", "--store", "file:///tmp/r", "--", "touch", "{marker}"], {"KEYLESS_CREDENTIAL_CONFIG": "/nonexistent/wif.json"}, "KEYLESS_CREDENTIAL_CONFIG names no file"),
    ],
)
def test_bad_input_exits_2_naming_the_flag_or_variable_and_runs_nothing(cloud: Cloud, job_env: Dict[str, str], tmp_path: Path, argv: List[str], env_extra: Dict[str, str], message: str) -> None:
    marker = tmp_path / "ran"
    env = {**job_env, **env_extra}
    result = subprocess.run(
        [sys.executable, "-m", "keyless_route", "exec", *[a.replace("{marker}", str(marker)) for a in argv]],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert result.stderr.startswith("keyless exec: ")
    assert not marker.exists()
    assert cloud.api_key not in result.stderr and "AIza" + "R" * 35 not in result.stderr and "AIza" + "S" * 35 not in result.stderr


def test_a_command_that_cannot_be_started_exits_127_with_the_reason(job_env: Dict[str, str], cloud: Cloud, tmp_path: Path) -> None:
    result = run_exec(options(tmp_path, cloud), ["no-such-command-keyless"], job_env)
    assert result.returncode == 127
    assert "keyless exec: cannot start no-such-command-keyless: No such file or directory" in result.stderr
    assert decision(result.stderr)["mode"] == "api-key"


def test_exit_code_and_stdio_pass_through_untouched(job_env: Dict[str, str], cloud: Cloud, tmp_path: Path) -> None:
    code = "import sys; data = sys.stdin.read(); print('out:' + data); print('err:' + data, file=sys.stderr); sys.exit(7)"
    result = subprocess.run(
        [sys.executable, "-m", "keyless_route", "exec", *options(tmp_path, cloud), "--", sys.executable, "-c", code],
        env=job_env,
        input="hello",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 7
    assert result.stdout == "out:hello\n"
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and LINE.match(lines[0]) and lines[1] == "err:hello"


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signals_reach_the_command(job_env: Dict[str, str], cloud: Cloud, tmp_path: Path, sig: signal.Signals, code: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "keyless_route", "exec", *options(tmp_path, cloud), "--", *python_job("signals.py")],
        env=job_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = proc.stdout.readline().split()
        # exec becomes the command: the same process, so a signal to it is the command's.
        assert ready == ["ready", str(proc.pid)]
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill() if proc.poll() is None else None
    assert proc.returncode == code, (out, err)
    assert out.strip() == f"got {sig.name}"
    assert LINE.match(err.splitlines()[0])


def test_the_command_gets_the_signal_dispositions_it_gets_when_started_directly(job_env: Dict[str, str], cloud: Cloud, tmp_path: Path) -> None:
    # Python ignores SIGPIPE for itself; a command exec'd from it must not inherit that (`yes | head`).
    probe = ["grep", "-E", "^Sig(Ign|Blk):", "/proc/self/status"]
    direct = subprocess.run(probe, env=job_env, capture_output=True, text=True, timeout=30)
    via_exec = run_exec(options(tmp_path, cloud), probe, job_env)
    assert via_exec.returncode == 0 and direct.returncode == 0
    assert via_exec.stdout == direct.stdout
    pipe = subprocess.run(
        ["sh", "-c", f"{sys.executable} -m keyless_route exec {' '.join(options(tmp_path, cloud))} -- yes | head -n 2"],
        env=job_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert pipe.returncode == 0 and pipe.stdout == "y\ny\n" and "Broken pipe" not in pipe.stderr


# -- the environment a run gets ------------------------------------------------------------------


def run_env(cloud: Cloud, store: Path, env: Dict[str, str], *extra: str) -> Tuple[Dict[str, str], Dict[str, Optional[str]]]:
    result = run_exec(options(store, cloud, *extra), python_job("print_env.py"), env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), decision(result.stderr)


def test_a_vertex_run_gets_the_switch_project_location_and_no_key(cloud: Cloud, job_env: Dict[str, str], tmp_path: Path) -> None:
    store = tmp_path / "routes"
    write_route(store, route_doc(21, 100, location="europe-west4"))
    wif = tmp_path / "wif.json"
    wif.write_text(json.dumps({"type": "external_account"}))
    env = {**job_env, "GOOGLE_API_KEY": cloud.api_key, "GOOGLE_GENAI_USE_ENTERPRISE": "false", "KEYLESS_CREDENTIAL_CONFIG": str(wif), "UNRELATED": "kept"}
    seen, line = run_env(cloud, store, env, "--run-id", "run-1")
    assert line == {"pipeline": cloud.pipeline, "run": "run-1", "mode": "vertex", "route": "route generation 21", "stale": None}
    assert seen == {
        "GOOGLE_GENAI_USE_VERTEXAI": "true",
        "GOOGLE_CLOUD_PROJECT": cloud.project,
        "GOOGLE_CLOUD_LOCATION": "europe-west4",
        "GOOGLE_APPLICATION_CREDENTIALS": str(wif),
        "GOOGLE_VERTEX_BASE_URL": cloud.base_url,
        # google-genai for Python reads this one for an environment-switched Vertex run (see cli.py).
        "GOOGLE_GEMINI_BASE_URL": f"{cloud.base_url}/#aiplatform.googleapis.com",
        "KEYLESS_RUN_ID": "run-1",
        "KEYLESS_AUTH_MODE": "vertex",
        "KEYLESS_ROUTE_GENERATION": "21",
        "UNRELATED": "kept",
    }


def test_a_key_run_keeps_the_key_variables_as_they_were_and_no_vertex_switch(cloud: Cloud, job_env: Dict[str, str], tmp_path: Path) -> None:
    store = tmp_path / "routes"
    write_route(store, route_doc(22, 0))
    env = {**job_env, "GOOGLE_API_KEY": cloud.api_key, "GOOGLE_GENAI_USE_VERTEXAI": "false", "GOOGLE_CLOUD_PROJECT": "runner-project", "KEYLESS_CREDENTIAL_CONFIG": str(JOBS / "print_env.py")}
    seen, line = run_env(cloud, store, env, "--run-id", "run-2")
    assert line["mode"] == "api-key" and line["route"] == "route generation 22"
    assert seen == {
        "GEMINI_API_KEY": f"<{len(cloud.api_key)} characters>",
        "GOOGLE_API_KEY": f"<{len(cloud.api_key)} characters>",
        "GOOGLE_CLOUD_PROJECT": "runner-project",
        "GOOGLE_GEMINI_BASE_URL": cloud.base_url,
        "GOOGLE_VERTEX_BASE_URL": cloud.base_url,
        "KEYLESS_RUN_ID": "run-2",
        "KEYLESS_AUTH_MODE": "api-key",
        "KEYLESS_ROUTE_GENERATION": "22",
    }


@pytest.mark.parametrize(
    "ci, run_id",
    [
        ({"GITHUB_RUN_ID": "9876543210", "GITHUB_RUN_ATTEMPT": "2"}, "9876543210-2"),
        ({"GITHUB_RUN_ID": "9876543210"}, "9876543210-1"),
        ({"CI_JOB_ID": "445566"}, "445566"),
        ({"CLOUD_RUN_EXECUTION": "nightly-job-x7k2p"}, "nightly-job-x7k2p"),
        ({"JENKINS_URL": "http://ci", "BUILD_TAG": "jenkins-nightly-42", "JOB_NAME": "nightly"}, "jenkins-nightly-42"),
        ({"KUBERNETES_SERVICE_HOST": "10.0.0.1", "JOB_NAME": "nightly-29173452", "HOSTNAME": "nightly-29173452-abcde"}, "nightly-29173452"),
        ({"KEYLESS_RUN_ID": "outer-run", "GITHUB_RUN_ID": "1"}, "outer-run"),
    ],
)
def test_the_run_id_is_the_ci_runs_own(cloud: Cloud, job_env: Dict[str, str], tmp_path: Path, ci: Dict[str, str], run_id: str) -> None:
    _, line = run_env(cloud, tmp_path, {**job_env, **ci})
    assert line["run"] == run_id
    # --run-id wins over all of them.
    _, line = run_env(cloud, tmp_path, {**job_env, **ci}, "--run-id", "given")
    assert line["run"] == "given"


def test_without_a_ci_run_id_each_run_is_random(cloud: Cloud, job_env: Dict[str, str], tmp_path: Path) -> None:
    env = {**job_env, "HOSTNAME": "a-long-lived-pod", "JOB_NAME": "not-kubernetes"}
    runs = {run_env(cloud, tmp_path, env)[1]["run"] for _ in range(2)}
    assert len(runs) == 2 and all(uuid.UUID(r) for r in runs)


# -- unchanged jobs follow the route ------------------------------------------------------------


def one_run(cloud: Cloud, store: Path, env: Dict[str, str], run_id: str, job: List[str], *extra: str) -> Tuple[str, str]:
    result = run_exec(options(store, cloud, "--run-id", run_id, *extra), job, env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip(), "the job printed no text"
    return decision(result.stderr)["mode"] or "", result.stdout


@pytest.mark.parametrize("percent", [0, 50, 100])
def test_unchanged_python_and_node_jobs_follow_the_route_each_run_as_the_emulator_counts_it(cloud: Cloud, job_env: Dict[str, str], tmp_path: Path, percent: int) -> None:
    store = tmp_path / "routes"
    write_route(store, route_doc(30 + percent, percent))
    modes = []
    for i in range(6):
        run_id = f"run-{percent}-{i}"
        job = python_job() if i % 2 == 0 else node_job(cloud)
        before = cloud.request_counts()
        mode, _ = one_run(cloud, store, job_env, run_id, job)
        after = cloud.request_counts()
        expected = "vertex" if chooses_vertex(percent, cloud.pipeline, run_id) else "api-key"
        assert mode == expected
        # Google's accounting: this run's one call was made with exactly the credential chosen.
        used = {"vertex": after["vertex"] - before["vertex"], "api-key": after["key"] - before["key"]}
        assert used == {"vertex": int(expected == "vertex"), "api-key": int(expected == "api-key")}
        modes.append(mode)
    if percent == 0:
        assert set(modes) == {"api-key"}
    elif percent == 100:
        assert set(modes) == {"vertex"}
    else:
        assert set(modes) == {"api-key", "vertex"}


def test_200_runs_at_50_percent_split_within_the_typescript_tolerance(cloud: Cloud, job_env: Dict[str, str], tmp_path: Path) -> None:
    store = tmp_path / "routes"
    write_route(store, route_doc(40, 50))
    runs = 200
    # GitHub Actions run ids, as the runner sets them: exec builds <GITHUB_RUN_ID>-<GITHUB_RUN_ATTEMPT>.
    ids = [str(11_000_000_000 + 7919 * i) for i in range(runs)]

    def run(i: int) -> Tuple[str, str]:
        env = {**job_env, "GITHUB_RUN_ID": ids[i], "GITHUB_RUN_ATTEMPT": "1"}
        # A quarter Python jobs, the rest Node: both unchanged, the Node one starts faster.
        job = python_job() if i % 4 == 0 else node_job(cloud)
        result = run_exec(options(store, cloud), job, env, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        line = decision(result.stderr)
        return line["run"] or "", line["mode"] or ""

    before = cloud.request_counts()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, range(runs)))
    after = cloud.request_counts()
    assert [r for r, _ in results] == [f"{i}-1" for i in ids]
    expected = ["vertex" if chooses_vertex(50, cloud.pipeline, f"{i}-1") else "api-key" for i in ids]
    assert [m for _, m in results] == expected
    vertex = expected.count("vertex")
    assert (after["vertex"] - before["vertex"], after["key"] - before["key"]) == (vertex, runs - vertex)
    assert abs(100 * vertex / runs - 50) <= TOLERANCE_POINTS


def test_a_rollback_to_0_percent_moves_runs_back_within_the_ttl(cloud: Cloud, job_env: Dict[str, str], tmp_path: Path) -> None:
    store = tmp_path / "routes"
    ttl = 2.0
    write_route(store, route_doc(50, 100))
    assert one_run(cloud, store, job_env, "r-1", python_job(), "--ttl", str(ttl))[0] == "vertex"
    write_route(store, route_doc(51, 0))
    rolled_back = time.monotonic()
    runs: List[Tuple[float, str]] = []
    # Until a run has started more than a TTL after the rollback (bounded: at most 12 runs).
    while len(runs) < 12 and (not runs or runs[-1][0] <= ttl):
        started = time.monotonic() - rolled_back
        job = python_job() if len(runs) % 2 else node_job(cloud)
        runs.append((started, one_run(cloud, store, job_env, f"r-{len(runs) + 2}", job, "--ttl", str(ttl))[0]))
    # Within the TTL a run may still use the route read before the rollback; after it, none does.
    assert all(mode == "api-key" for started, mode in runs if started > ttl)
    modes = [mode for _, mode in runs]
    assert runs[-1][0] > ttl and modes[-1] == "api-key"
    assert modes == sorted(modes, key=lambda m: m == "api-key")


def test_a_store_that_cannot_be_read_never_fails_the_job(cloud: Cloud, job_env: Dict[str, str], tmp_path: Path) -> None:
    store = tmp_path / "routes"
    path = write_route(store, route_doc(60, 100))
    result = run_exec(options(store, cloud, "--ttl", "0"), python_job(), job_env)
    assert result.returncode == 0 and decision(result.stderr)["mode"] == "vertex"
    # The store breaks: the next run follows the last route seen, kept on disk, and says so.
    path.unlink()
    path.mkdir()
    result = run_exec(options(store, cloud, "--ttl", "0"), python_job(), job_env)
    line = decision(result.stderr)
    assert result.returncode == 0 and result.stdout.strip()
    assert (line["mode"], line["route"]) == ("vertex", "route generation 60")
    assert "could not be read" in line["stale"] and "using the last route seen" in line["stale"]
    # A runner that never saw a route (its own cache folder) takes the key.
    fresh = {**job_env, "XDG_CACHE_HOME": str(tmp_path / "other-cache")}
    result = run_exec(options(store, cloud, "--ttl", "0"), node_job(cloud), fresh)
    line = decision(result.stderr)
    assert result.returncode == 0 and (line["mode"], line["route"]) == ("api-key", "no route")
    assert "using the API key" in line["stale"]


def test_a_corrupt_route_falls_back_and_says_so_without_its_content(cloud: Cloud, job_env: Dict[str, str], tmp_path: Path) -> None:
    store = tmp_path / "routes"
    tampered = "AIzaSy" + "T" * 33
    write_route(store, route_doc(70, 100, location=tampered))
    result = run_exec(options(store, cloud), python_job(), job_env)
    line = decision(result.stderr)
    assert result.returncode == 0 and line["mode"] == "api-key"
    assert "route document refused: location must be" in line["stale"]
    assert tampered not in result.stderr and tampered not in result.stdout


def test_a_cloud_storage_route_with_the_runners_adc(clean_faults: Cloud, job_env: Dict[str, str], tmp_path: Path) -> None:
    cloud = clean_faults
    cloud.publish_gcs(f"exec/{cloud.project}/{cloud.pipeline}.json", json.dumps(route_doc(80, 100)).encode())
    store = ["--pipeline", cloud.pipeline, "--store", f"gs://{cloud.bucket}/exec", "--project", cloud.project, "--ttl", "0"]
    result = run_exec([*store, "--run-id", "gs-1"], node_job(cloud), job_env)
    assert result.returncode == 0 and decision(result.stderr)["route"] == "route generation 80"
    assert decision(result.stderr)["mode"] == "vertex"
    # The bucket goes down: the last route seen, from disk.
    cloud.set_faults("storage", {"errorRates": {"503": 1}})
    result = run_exec([*store, "--run-id", "gs-2"], python_job(), job_env)
    line = decision(result.stderr)
    assert result.returncode == 0 and (line["mode"], line["route"]) == ("vertex", "route generation 80")
    assert "HTTP 503" in line["stale"]
