"""The route rules every reader checks, from the shared file clients/vectors/route.json."""

from __future__ import annotations

import json
from typing import Any, Dict

import pytest
from conftest import VECTORS

from keyless_route import MAX_ROUTE_BYTES, RouteRefused, parse_route

RULES = json.loads((VECTORS / "route.json").read_text(encoding="utf-8"))
# "{key-shaped}" stands for a key-shaped string, built at run time as test/support/route-vectors.ts
# builds it, so that none is committed.
KEY_SHAPED = "AIza" + "SyRouteVector-".ljust(35, "0")
for _case in RULES["cases"]:
    for _field, _value in _case.get("set", {}).items():
        if _value == "{key-shaped}":
            _case["set"][_field] = KEY_SHAPED


def document_bytes(case: Dict[str, Any]) -> bytes:
    """The document as test/gemini-client/route-vectors.test.ts builds it."""
    if "raw" in case:
        return case["raw"].encode()
    doc = {**RULES["base"], **case.get("set", {})}
    for name in case.get("unset", []):
        doc.pop(name, None)
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    if "padTo" in case:
        text = text[:-1] + b" " * (case["padTo"] - len(text)) + b"}"
    return text


@pytest.mark.parametrize("case", RULES["cases"], ids=[c["name"] for c in RULES["cases"]])
def test_rule(case: Dict[str, Any]) -> None:
    data = document_bytes(case)
    if "padTo" in case:
        assert len(data) == case["padTo"]
    pipeline = case.get("pipeline", RULES["pipeline"])
    if case["verdict"] == "valid":
        route = parse_route(data, pipeline=pipeline, now_ms=RULES["nowMs"], expect=case.get("expect"))
        assert route.pipeline == pipeline
        assert route.to_document() == {**RULES["base"], **case.get("set", {})}
    else:
        with pytest.raises(RouteRefused) as refused:
            parse_route(data, pipeline=pipeline, now_ms=RULES["nowMs"], expect=case.get("expect"))
        assert refused.value.field == case["field"]
        # A refusal never repeats what the document said.
        for value in case.get("set", {}).values():
            if isinstance(value, str) and len(value) > 3:
                assert value not in str(refused.value)


def test_the_cases_cover_every_field_and_both_verdicts() -> None:
    fields = {c.get("field") for c in RULES["cases"] if c["verdict"] == "invalid"}
    assert {"(document)", "pipeline", "generation", "vertexPercent", "project", "location", "serviceAccount", "updatedAt"} <= fields
    assert sum(c["verdict"] == "valid" for c in RULES["cases"]) >= 10
    assert MAX_ROUTE_BYTES == 16384


def test_a_key_string_in_a_refused_document_is_never_in_the_message() -> None:
    key = "AIzaSy" + "Z" * 33
    doc = {**RULES["base"], "location": key}
    with pytest.raises(RouteRefused) as refused:
        parse_route(json.dumps(doc).encode(), pipeline=RULES["pipeline"], now_ms=RULES["nowMs"])
    assert key not in str(refused.value) and "location" in str(refused.value)
    doc = {**RULES["base"], key: 1}
    with pytest.raises(RouteRefused) as refused:
        parse_route(json.dumps(doc).encode(), pipeline=RULES["pipeline"], now_ms=RULES["nowMs"])
    assert key not in str(refused.value)
