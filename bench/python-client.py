"""The Python client's cost, measured the way bench/gemini-client.ts measures the TypeScript one.

Targets: per-call time <= 1.02 x a direct google.genai call to the same emulator endpoint, and
``python -m keyless_route exec`` adding little to a run over starting the command directly (median
of 20, warm route cache). Run through ``npx tsx bench/python-client.ts``, which makes the venv and
the emulator and passes their environment. Prints figures; not a test. Bounded loops, 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

from google import genai
from google.auth import compute_engine
from google.genai import types

from keyless_route import route_client
from keyless_route.cache import RouteCache
from keyless_route.store import FileRouteSource, parse_store

BASE = os.environ["KEYLESS_EMULATOR"]
PROJECT = os.environ["KEYLESS_TEST_PROJECT"]
ACCOUNT = os.environ["KEYLESS_TEST_ACCOUNT"]
KEY = os.environ["KEYLESS_TEST_API_KEY"]
MODEL = "gemini-2.5-flash"
# Short alternating blocks: the emulator's own pauses (GC, timers) then spoil single pairs, not the figure.
BLOCK = 10
REQUEST: Dict[str, Any] = {
    "model": MODEL,
    "contents": "Summarise in one sentence: the printer on floor 3 jams every morning.",
    "config": types.GenerateContentConfig(temperature=0, max_output_tokens=64),
}

Call = Callable[[], Any]


def compare(direct: Call, library: Call, calls: int) -> Tuple[float, float, float]:
    """Alternates blocks of calls on the two clients so drift hits both alike; the median of block-pair ratios."""
    for _ in range(100):
        direct()
        library()
    direct_s = library_s = 0.0
    ratios: List[float] = []
    for done in range(0, calls, BLOCK):
        order = [direct, library] if (done // BLOCK) % 2 == 0 else [library, direct]
        took: Dict[int, float] = {}
        for fn in order:
            started = time.perf_counter()
            for _ in range(BLOCK):
                fn()
            took[id(fn)] = time.perf_counter() - started
        direct_s += took[id(direct)]
        library_s += took[id(library)]
        ratios.append(took[id(library)] / took[id(direct)])
    return direct_s * 1e6 / calls, library_s * 1e6 / calls, statistics.median(ratios)


def route(pipeline: str, percent: int) -> Dict[str, Any]:
    return {
        "pipeline": pipeline,
        "generation": 1,
        "vertexPercent": percent,
        "project": PROJECT,
        "location": "global",
        "serviceAccount": ACCOUNT,
        "updatedAt": "2026-11-30T00:00:00Z",
    }


def median_run_ms(argv: List[str], env: Dict[str, str], runs: int = 20) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    calls = max(BLOCK, (int(sys.argv[1]) if len(sys.argv) > 1 else 3000) // BLOCK * BLOCK)
    tmp = Path(tempfile.mkdtemp(prefix="keyless-bench-python-"))
    try:
        store = tmp / "routes"
        for pipeline, percent in (("on-key", 0), ("on-vertex", 100)):
            path = store / PROJECT / f"{pipeline}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(route(pipeline, percent)))
        creds = compute_engine.Credentials()
        options = types.HttpOptions(base_url=BASE)

        def library(pipeline: str) -> Call:
            client = route_client(pipeline, f"file://{store}", project=PROJECT, api_key=KEY, credentials=creds, mode="per-call", disk_cache=False)
            return lambda: client.models.generate_content(**REQUEST)

        direct_key = genai.Client(vertexai=False, api_key=KEY, http_options=options)
        key_path = compare(lambda: direct_key.models.generate_content(**REQUEST), library("on-key"), calls)
        direct_vertex = genai.Client(vertexai=True, project=PROJECT, location="global", credentials=creds, http_options=options)
        vertex_path = compare(lambda: direct_vertex.models.generate_content(**REQUEST), library("on-vertex"), calls)

        # keyless's own work per call, without the network: the route lookup, the split and the outcome.
        own = route_client("on-vertex", f"file://{store}", project=PROJECT, api_key=KEY, credentials=creds, mode="per-call", disk_cache=False, on_call=lambda o: None)
        run = own.run("bench")
        started = time.perf_counter()
        for _ in range(100_000):
            run._report(run._decide(), MODEL, 200, started)
        own_us = (time.perf_counter() - started) * 1e6 / 100_000

        cache = RouteCache(pipeline="on-key", project=PROJECT, store=f"file://{store}", source=FileRouteSource(parse_store(f"file://{store}"), "on-key", PROJECT), ttl=3600)
        cache.current()
        lookups = 1_000_000
        started = time.perf_counter()
        for _ in range(lookups):
            cache.current()
        lookup_us = (time.perf_counter() - started) * 1e6 / lookups

        # exec start-up: a command that does nothing, so the figure is exec's own cost.
        true = shutil.which("true") or "/bin/true"
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp / "cache")}
        exec_argv = [sys.executable, "-m", "keyless_route", "exec", "--pipeline", "on-key", "--store", f"file://{store}", "--project", PROJECT, "--"]
        subprocess.run([*exec_argv, true], env=env, check=True, stderr=subprocess.DEVNULL)  # warms the route cache on disk
        direct_ms = median_run_ms([true], env)
        warm_ms = median_run_ms([*exec_argv, true], env)
        cold_ms = median_run_ms([*exec_argv[:-1], "--ttl", "0", "--", true], env)
        python_ms = median_run_ms([sys.executable, "-c", "pass"], env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def line(name: str, r: Tuple[float, float, float]) -> str:
        return f"| {name} | direct {r[0]:.0f} µs/call, keyless {r[1]:.0f} µs/call | ratio {r[2]:.3f} | ≤ 1.02: {'met' if r[2] <= 1.02 else 'NOT met'} |"

    print(f"python client benchmark: {calls} sequential calls per client and path, Python {sys.version.split()[0]}, google-genai {genai.__version__}")
    print("| what | figure | | target |")
    print("|---|---|---|---|")
    print(line("API key → Gemini API", key_path))
    print(line("ADC → Vertex", vertex_path))
    print(f"| keyless's own work per call (lookup, split, outcome) | {own_us:.1f} µs | {100 * own_us / vertex_path[0]:.2f} % of a direct Vertex call | |")
    print(f"| cached route lookup | {lookup_us:.3f} µs | | < 5 µs: {'met' if lookup_us < 5 else 'NOT met'} |")
    overhead = warm_ms - direct_ms
    print(f"| exec start-up, warm route cache (median of 20) | {warm_ms:.1f} ms vs {direct_ms:.1f} ms direct | +{overhead:.1f} ms | ≤ 150 ms: {'met' if overhead <= 150 else 'NOT met'} |")
    print(f"| exec start-up, route read from the store each run (--ttl 0) | {cold_ms:.1f} ms | +{cold_ms - direct_ms:.1f} ms | |")
    print(f"| for scale: python -c pass | {python_ms:.1f} ms | | |")


if __name__ == "__main__":
    main()
