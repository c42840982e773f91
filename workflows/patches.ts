// Patch ids of the canary's evidence rules (issue 16). Migrations recorded before them replay the
// code paths they ran; each id guards the commands its change adds or removes. Ids are wire names:
// never rename one while a migration recorded with it may still run.

/**
 * A canary step advances only on evidence (its bake passed and it judged minRequests Vertex
 * requests, healthy), bakes on up to maxBake, then waits for evidence or promote; analyses read
 * latencies and judge error classes; the key's week before the canary is read as a baseline.
 */
export const CANARY_EVIDENCE = 'canary-evidence';

/** The KeylessStage search attribute names a wait for evidence (canary-awaiting-evidence, soak-awaiting-run). */
export const EVIDENCE_STAGE_ATTRIBUTE = 'evidence-stage-attribute';

/** The soak passes only once the pipeline's account made soak.minVertexRequests requests; its window survives continue-as-new. */
export const SOAK_RUN_EVIDENCE = 'soak-run-evidence';

/** approve-finalize and the shared-key wait analyse every interval and roll back on a breach. */
export const WATCH_GATES = 'watch-gates';

/**
 * A wait that has nothing left to wait (a soak of 0 s) starts no timer: the dev server fires a 0 s
 * timer after about a second, which was two thirds of a quick migration's orchestration time.
 */
export const NO_EMPTY_TIMERS = 'no-empty-timers';
