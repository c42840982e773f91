"""Which auth a run or call takes: bit for bit the TypeScript client's gemini-client/split.ts.

A pure, deterministic function of (pipeline, unit id) mapped to a bucket 0..99 and compared with
the route's vertexPercent. The same unit lands in the same bucket in every language, so raising
the percent only ever moves units from the key to Vertex, never back.

The hash runs over UTF-16 code units, as JavaScript's ``charCodeAt`` gives them: a character
outside the Basic Multilingual Plane counts as its two surrogates, and a lone surrogate (which a
Python ``str`` can hold) as itself.
"""

from __future__ import annotations

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
_MASK = 0xFFFFFFFF


def _utf16_units(text: str) -> bytes:
    # surrogatepass encodes a lone surrogate as its own code unit, as JavaScript strings hold it.
    return text.encode("utf-16-le", "surrogatepass")


def _fnv1a32(text: str) -> int:
    data = _utf16_units(text)
    h = _FNV_OFFSET
    for i in range(0, len(data), 2):
        h ^= data[i] | (data[i + 1] << 8)
        h = (h * _FNV_PRIME) & _MASK
    return h


def _mix32(h: int) -> int:
    # murmur3's finalizer: FNV alone leaves sequential ids clustered in the low bits `% 100` reads.
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK
    h ^= h >> 16
    return h


def split_bucket(pipeline: str, unit_id: str) -> int:
    """Bucket 0..99 of one run or call of a pipeline."""
    return _mix32(_fnv1a32(f"{pipeline}\u0000{unit_id}")) % 100


def chooses_vertex(vertex_percent: float, pipeline: str, unit_id: str) -> bool:
    """True when this unit goes through Vertex at ``vertex_percent``."""
    if vertex_percent <= 0:
        return False
    if vertex_percent >= 100:
        return True
    return split_bucket(pipeline, unit_id) < vertex_percent
