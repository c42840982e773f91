"""The split against the shared vectors computed by the TypeScript function, and its spread."""

from __future__ import annotations

import json
import uuid

from conftest import VECTORS

from keyless_route import chooses_vertex, split_bucket

VECTORS_FILE = json.loads((VECTORS / "split.json").read_text(encoding="utf-8"))
# The TypeScript client's stated tolerance (test/gemini-client/split.test.ts).
DECISIONS = 5_000
TOLERANCE_POINTS = 2.5


def test_every_bucket_of_the_shared_vectors() -> None:
    rows = VECTORS_FILE["splitBucket"]
    assert len(rows) > 100
    wrong = [r for r in rows if split_bucket(r["pipeline"], r["unitId"]) != r["bucket"]]
    assert wrong == []


def test_every_decision_of_the_shared_vectors() -> None:
    rows = VECTORS_FILE["choosesVertex"]
    assert {r["vertexPercent"] for r in rows} == {0, 1, 50, 99, 100}
    wrong = [r for r in rows if chooses_vertex(r["vertexPercent"], r["pipeline"], r["unitId"]) != r["vertex"]]
    assert wrong == []


def test_characters_beyond_the_bmp_hash_as_two_utf16_units() -> None:
    # U+1F680 is the surrogate pair D83D DE80 in JavaScript; hashing its code point would differ.
    rocket = next(r for r in VECTORS_FILE["splitBucket"] if r["unitId"] == "🚀" and r["pipeline"] == "nightly-summarizer")
    assert split_bucket("nightly-summarizer", "🚀") == rocket["bucket"]
    lone = next(r for r in VECTORS_FILE["splitBucket"] if r["unitId"] == "\ud83d")
    assert split_bucket(lone["pipeline"], "\ud83d") == lone["bucket"]


def share(percent: int, units: list, pipeline: str = "nightly-summarizer") -> float:
    return 100 * sum(chooses_vertex(percent, pipeline, u) for u in units) / len(units)


def test_tracks_the_percent_within_the_typescript_tolerance() -> None:
    for percent in (1, 10, 25, 50, 90):
        assert abs(share(percent, [f"run-7#{i}" for i in range(DECISIONS)]) - percent) <= TOLERANCE_POINTS
    assert abs(share(10, [str(uuid.uuid4()) for _ in range(DECISIONS)]) - 10) <= TOLERANCE_POINTS


def test_raising_the_percent_only_moves_units_to_vertex() -> None:
    units = [f"run-{i}" for i in range(2_000)]
    at10 = [u for u in units if chooses_vertex(10, "p", u)]
    at50 = {u for u in units if chooses_vertex(50, "p", u)}
    assert at10 and all(u in at50 for u in at10)
    assert not any(chooses_vertex(0, "p", u) for u in units)
    assert all(chooses_vertex(100, "p", u) for u in units)
