// Which auth a run or call takes: a pure, deterministic function of (pipeline, unit id) mapped to a
// bucket 0..99 and compared with the route's vertexPercent. The same unit always lands in the
// same bucket, so raising the percent only ever moves units from the key to Vertex, never back.

/** Bucket 0..99 of one run or call of a pipeline. */
export function splitBucket(pipeline: string, unitId: string): number {
  return mix32(fnv1a32(`${pipeline}\u0000${unitId}`)) % 100;
}

/** True when this unit goes through Vertex at `vertexPercent`. */
export function choosesVertex(vertexPercent: number, pipeline: string, unitId: string): boolean {
  if (vertexPercent <= 0) return false;
  if (vertexPercent >= 100) return true;
  return splitBucket(pipeline, unitId) < vertexPercent;
}

function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

// FNV alone leaves sequential ids ("run-1", "run-2", …) clustered in the low bits that `% 100`
// reads; murmur3's finalizer spreads every input bit over the whole word.
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
