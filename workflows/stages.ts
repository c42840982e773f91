// One function per stage of ../shared/DESIGN.md, in order. Each acts through activities, records
// what it changed on the Migration, and returns; the main loop in migrate-pipeline.ts moves on.

import { ActivityFailure, ApplicationFailure, CancellationScope, allHandlersFinished, condition, continueAsNew, log, patched, workflowInfo } from '@temporalio/workflow';
import { ErrorType } from '../contracts/errors';
import type { CanaryAnalysis, Mutation } from '../contracts/status';
import { durationMs } from '../contracts/spec';
import type { KeySnapshot } from '../activities/keys';
import type { TrafficReport } from '../activities/traffic';
import { analyses, compensations, mutations, probes, reads } from './activities';
import { judgeCanary, type CanaryJudgement } from './canary-verdict';
import { addKeyTraffic, trafficBetween } from './traffic-delta';
import { type Migration, type MigrationMemory, nowIso } from './migration';

/** The model used for one-call liveness checks of the key. */
function firstModel(m: Migration): string {
  return m.spec.vertex.models[0]!;
}

/** Patch: provision reads whether the Vertex binding predates the migration (histories before it do not). */
const BINDING_OWNER_READ = 'binding-owner-read';
/** Patch: rollback takes back the token-creator grant on an account it keeps (histories before it do not). */
const TOKEN_CREATOR_COMPENSATION = 'token-creator-compensation';
/** Patch: the canary compares against the key over the whole canary when a step has no key traffic, and allows for sampling noise. */
const CANARY_NOISE_MARGIN = 'canary-noise-margin';

function serviceAccountEmail(m: Migration): string {
  return m.facts.serviceAccountEmail ?? `${m.spec.serviceAccount.accountId}@${m.spec.project}.iam.gserviceaccount.com`;
}

/** Reads the key by resource name, snapshots it for rollback, notes who else uses it. */
export async function inventory(m: Migration): Promise<void> {
  const found = await reads.inspectKey({ apiKey: m.spec.apiKey, pipeline: m.spec.pipeline });
  m.facts.keyUid = found.audit.uid;
  m.facts.keySnapshot = found.snapshot;
  m.facts.keyEtag = found.snapshot.etag;
  m.facts.sharedWith = found.sharedWith;
  m.facts.blockCandidate = found.audit.blockCandidate;
}

/**
 * A block candidate (no application restriction, all APIs) is already refused by Google: restrict
 * it to the Generative Language API so the pipeline runs again while the migration proceeds. One
 * live call then tells whether the key works at all; if not, every standard key is refused and the
 * migration is the pipeline's repair.
 */
export async function stopgap(m: Migration): Promise<void> {
  if (m.spec.stopgap && m.facts.blockCandidate) {
    const restricted = await mutations.restrictKeyToGemini({ apiKey: m.spec.apiKey, expectedEtag: m.facts.keyEtag! });
    m.facts.keyEtag = restricted.etagAfter;
    if (restricted.changed) {
      m.recordMutation({ kind: 'key-restricted', target: m.spec.apiKey, detail: 'stopgap: API targets set to generativelanguage.googleapis.com' });
    }
  }
  const check = await reads.checkKeyWorks({ apiKey: m.spec.apiKey, model: firstModel(m) });
  if (!check.ok) {
    m.repair = true;
    log.warn('the key is rejected even when restricted: this migration repairs a pipeline that is down', { httpStatus: check.httpStatus, reason: check.reason });
  }
}

/** Ensures the pipeline's service account, its Vertex role and the orchestrator's right to mint its tokens. */
export async function provision(m: Migration): Promise<void> {
  const account = await mutations.ensureServiceAccount({
    project: m.spec.project,
    accountId: m.spec.serviceAccount.accountId,
    displayName: m.spec.serviceAccount.displayName ?? `keyless: ${m.spec.pipeline}`,
    create: m.spec.serviceAccount.create,
  });
  m.facts.serviceAccountEmail = account.email;
  m.facts.serviceAccountUniqueId = account.uniqueId;
  if (account.created) {
    m.facts.accountCreated = true;
    m.recordMutation({ kind: 'account-created', target: account.email, detail: `service account for ${m.spec.pipeline}` });
  }
  const member = `serviceAccount:${account.email}`;
  // Who owns the binding is settled by a read kept in history before the grant: a retried grant
  // that finds the binding its own lost attempt wrote must still count it as ours, or rollback
  // would leave it behind.
  const heldBefore = patched(BINDING_OWNER_READ) ? (await reads.hasVertexRole({ project: m.spec.project, member })).held : true;
  const role = await mutations.ensureVertexRole({ project: m.spec.project, member });
  if (role.added || !heldBefore) {
    m.facts.roleAdded = true;
    m.facts.roleGrantedAt = role.confirmedAt;
    m.recordMutation({ kind: 'role-granted', target: m.spec.project, detail: `roles/aiplatform.user for serviceAccount:${account.email}` });
  }
  const tokenCreator = await mutations.ensureTokenCreator({ serviceAccountEmail: account.email });
  if (tokenCreator.added) {
    m.facts.tokenCreatorAdded = true;
    m.recordMutation({ kind: 'token-creator-granted', target: account.email, detail: 'roles/iam.serviceAccountTokenCreator for the orchestrator' });
  }
}

/** One live call per model as the service account; a 403 right after the grant is retried through IAM propagation. */
export async function probe(m: Migration): Promise<void> {
  m.facts.probe = await probes.probeVertex({
    project: m.spec.project,
    location: m.spec.vertex.location,
    models: m.spec.vertex.models,
    serviceAccountEmail: serviceAccountEmail(m),
    roleGrantedAt: m.facts.roleGrantedAt,
  });
}

/** The sample prompts through both paths; a breach of the thresholds rolls back with the report. */
export async function dualRun(m: Migration): Promise<void> {
  const report = await analyses.dualRun({
    apiKey: m.spec.apiKey,
    project: m.spec.project,
    location: m.spec.vertex.location,
    serviceAccountEmail: serviceAccountEmail(m),
    models: m.spec.vertex.models,
    prompts: m.spec.dualRun.prompts,
    samples: m.spec.dualRun.samples,
    thresholds: m.spec.dualRun.thresholds,
  });
  m.facts.dualRun = report;
  if (!report.passed) {
    m.requestRollback({ reason: `dual-run breached its thresholds: ${report.breaches.join('; ')}`, failureType: ErrorType.DualRunBreach, at: nowIso() });
    m.checkpoint();
  }
}

/** Publishes a route with a generation newer than any this workflow wrote before. */
export async function publishRoute(m: Migration, vertexPercent: number, approvedBy: string | undefined, forRollback = false): Promise<void> {
  // Workflow time in milliseconds keeps generations rising across successive migrations of the
  // same pipeline, and replays produce the same value.
  m.routeGeneration = Math.max(m.routeGeneration + 1, Date.now());
  const route = {
    pipeline: m.spec.pipeline,
    generation: m.routeGeneration,
    vertexPercent,
    project: m.spec.project,
    location: m.spec.vertex.location,
    serviceAccount: serviceAccountEmail(m),
    updatedAt: nowIso(),
  };
  const outcome = await (forRollback ? compensations : mutations).publishRoute({ store: m.spec.route.store, route });
  m.vertexPercent = vertexPercent;
  m.recordMutation({ kind: 'route-published', target: outcome.location, detail: `generation ${route.generation}: ${vertexPercent}% on Vertex`, approvedBy });
}

/** Reads the key's and the account's request counts since the canary began (by the cloud's clock). */
async function readTrafficSinceAnchor(m: Migration): Promise<TrafficReport> {
  m.facts.trafficAnchor ??= await reads.cloudTime();
  return reads.readTraffic({
    project: m.spec.project,
    keyUid: m.facts.keyUid!,
    serviceAccountUniqueId: m.facts.serviceAccountUniqueId!,
    windowStart: m.facts.trafficAnchor,
  });
}

/** Walks the canary steps: publish each step's route, then bake it while watching the traffic. */
export async function canary(m: Migration): Promise<void> {
  const steps = m.spec.canary.steps;
  for (; m.canaryStep < steps.length; m.canaryStep++) {
    m.checkpoint();
    const step = steps[m.canaryStep]!;
    if (m.vertexPercent !== step.percent) await publishRoute(m, step.percent, m.cutoverApprover);
    // With the key already rejected there is no healthy baseline to protect: bake for less.
    const bake = durationMs(step.bake) * (m.repair ? m.spec.canary.repairBakeFactor : 1);
    if (m.bakeRemainingMs === undefined) {
      m.bakeRemainingMs = bake;
      m.facts.stepBaseline = await readTrafficSinceAnchor(m);
    }
    await bakeWatching(m, step.percent);
    m.bakeRemainingMs = undefined;
  }
}

/** Waits out the current bake; pause stops its clock, promote ends it, rollback or a breach aborts it. */
async function bakeWatching(m: Migration, percent: number): Promise<void> {
  const interval = durationMs(m.spec.canary.analysisInterval);
  m.promoteRequested = false;
  while ((m.bakeRemainingMs ?? 0) > 0 && !m.promoteRequested) {
    m.checkpoint();
    if (m.paused) {
      m.bakeEndsAt = undefined;
      m.publishDetails();
      await condition(() => !m.paused || m.rollbackRecord !== undefined);
      continue;
    }
    const started = Date.now();
    const wait = Math.min(interval, m.bakeRemainingMs!);
    m.bakeEndsAt = new Date(started + m.bakeRemainingMs!).toISOString();
    m.publishDetails();
    await condition(() => m.paused || m.promoteRequested || m.rollbackRecord !== undefined, wait);
    m.bakeRemainingMs! -= Date.now() - started;
    m.checkpoint();
    await analyse(m, percent);
    await continueAsNewIfHistoryIsLong(m);
  }
  m.bakeEndsAt = undefined;
  m.checkpoint();
}

/** Compares the service account's error rate with the key's since the step began. */
async function analyse(m: Migration, percent: number): Promise<void> {
  const reading = await readTrafficSinceAnchor(m);
  const traffic = trafficBetween(m.facts.stepBaseline, reading);
  const { minRequests, maxErrorRateDelta } = m.spec.canary;
  let judged: CanaryJudgement;
  if (patched(CANARY_NOISE_MARGIN)) {
    judged = judgeCanary({ vertex: traffic.vertex, keyThisStep: traffic.key, keyWholeCanary: reading.key, repair: m.repair, minRequests, maxErrorRateDelta });
  } else {
    // Histories from before the patch: the key in this step (0 % when rejected), a fixed gate.
    const baseline = m.repair ? { source: 'none' as const, requests: 0, errors: 0, errorRate: 0 } : { source: 'key-this-step' as const, ...pick(traffic.key) };
    const delta = traffic.vertex.errorRate - baseline.errorRate;
    judged = { baseline, delta, allowedDelta: maxErrorRateDelta, verdict: traffic.vertex.requests < minRequests ? 'too-few-requests' : delta > maxErrorRateDelta ? 'breach' : 'healthy' };
  }
  const { baseline, delta, allowedDelta, verdict } = judged;
  const analysis: CanaryAnalysis = {
    step: m.canaryStep + 1,
    percent,
    at: nowIso(),
    key: pick(traffic.key),
    vertex: pick(traffic.vertex),
    delta,
    baseline: { source: baseline.source, errorRate: baseline.errorRate, requests: baseline.requests },
    allowedDelta,
    verdict,
  };
  m.analyses.push(analysis);
  if (verdict === 'breach') {
    const against =
      baseline.source === 'key-this-step'
        ? `the key's ${fmt(baseline.errorRate)}`
        : baseline.source === 'key-whole-canary'
          ? `the key's ${fmt(baseline.errorRate)} over the canary so far`
          : m.repair
            ? '0% (the key is already rejected)'
            : '0% (the key had too few requests to compare with)';
    m.requestRollback({
      reason: `canary step ${analysis.step} (${percent}%): Vertex error rate ${fmt(traffic.vertex.errorRate)} exceeds ${against} by more than ${fmt(allowedDelta)} over ${traffic.vertex.requests} requests`,
      failureType: ErrorType.CanaryBreach,
      at: nowIso(),
    });
    m.checkpoint();
  }
}

/** 100 % on Vertex; the key must see no request for the soak duration, or the migration holds. */
export async function soak(m: Migration): Promise<void> {
  const duration = durationMs(m.spec.soak.duration);
  const interval = durationMs(m.spec.canary.analysisInterval);
  let baseline = await readTrafficSinceAnchor(m);
  let quietUntil = Date.now() + duration;
  for (;;) {
    m.checkpoint();
    await condition(() => m.promoteRequested || m.rollbackRecord !== undefined, Math.max(0, quietUntil - Date.now()));
    m.checkpoint();
    const reading = await readTrafficSinceAnchor(m);
    const traffic = trafficBetween(baseline, reading);
    // What the key saw over the whole soak, kept for the report even after the traffic stops.
    m.facts.soak = addKeyTraffic(m.facts.soak, traffic.key);
    if (traffic.key.requests === 0) return;
    if (m.promoteRequested) {
      // An operator override, recorded in decisions by the promote handler.
      m.promoteRequested = false;
      return;
    }
    if (m.stage !== 'held') m.enter('held');
    // Traffic must stop for a whole soak duration before finalize; look again every interval.
    baseline = reading;
    quietUntil = Date.now() + Math.max(interval, duration);
    await continueAsNewIfHistoryIsLong(m);
  }
}

/** Two pipelines sharing a key: the key is finalized only once every one of them is on Vertex. */
export async function awaitSharingPipelines(m: Migration): Promise<void> {
  const others = (m.facts.sharedWith ?? []).filter((p) => p !== m.spec.pipeline);
  if (others.length === 0) return;
  const interval = durationMs(m.spec.canary.analysisInterval);
  for (;;) {
    const routes = await Promise.all(others.map((pipeline) => reads.readRoute({ store: m.spec.route.store, pipeline })));
    const behind = others.filter((_, i) => (routes[i]?.vertexPercent ?? 0) < 100);
    if (behind.length === 0) {
      m.waitingFor = undefined;
      return;
    }
    m.waitingFor = `${behind.join(', ')} to reach 100% on Vertex (they share this key)`;
    if (m.stage !== 'held') m.enter('held');
    m.publishDetails();
    await condition(() => m.rollbackRecord !== undefined, interval);
    m.checkpoint();
  }
}

/** Restricts, IP-restricts or deletes the key, as the spec asks. */
export async function finalize(m: Migration): Promise<void> {
  const { action, allowedIps } = m.spec.finalize;
  const approvedBy = m.approvals.get('finalize')?.by;
  const done = await mutations.finalizeKey({ apiKey: m.spec.apiKey, action, allowedIps, expectedEtag: m.facts.keyEtag! });
  m.facts.keyEtag = done.etagAfter ?? m.facts.keyEtag;
  if (action === 'delete') {
    m.facts.keyDeleted = true;
    m.recordMutation({ kind: 'key-deleted', target: m.spec.apiKey, detail: 'soft-deleted; undeletable for 30 days', approvedBy });
  } else {
    m.recordMutation({
      kind: 'key-restricted',
      target: m.spec.apiKey,
      detail: action === 'restrict' ? 'finalize: generativelanguage.googleapis.com only' : `finalize: allowed IPs ${allowedIps!.join(', ')}`,
      approvedBy,
    });
  }
}

/** Keeps the migration open after finalize for the spec's rollback window, so a late `rollback` still undoes it. */
export async function holdRollbackWindow(m: Migration): Promise<void> {
  const window = durationMs(m.spec.finalize.rollbackWindow);
  if (window <= 0) return;
  m.waitingFor = `rollback window until ${new Date(Date.now() + window).toISOString()} (send rollback to undo the finalize)`;
  m.publishDetails();
  await condition(() => m.rollbackRecord !== undefined, window);
  m.waitingFor = undefined;
  m.checkpoint();
}

/**
 * Undoes what was done, newest first, in a scope cancellation cannot interrupt. Each mutation is
 * undone once (marked with undoneAt), so a rollback that is itself retried or resumed after a
 * continue-as-new never repeats a step.
 */
export async function rollback(m: Migration): Promise<void> {
  m.waitingFor = undefined;
  m.enter('rolling-back');
  const toUndo = m.mutations.filter((x) => !x.undoneAt);
  await CancellationScope.nonCancellable(async () => {
    const by = m.rollbackRecord?.by;
    if (m.vertexPercent !== 0 && m.mutations.some((x) => x.kind === 'route-published')) {
      await publishRoute(m, 0, by, true);
    }
    const keyTouched = toUndo.some(isKeyChange);
    let undeletedByKeyless = false;
    if (m.facts.keyDeleted) {
      const undeleted = await compensations.undeleteKey({ apiKey: m.spec.apiKey });
      m.facts.keyDeleted = false;
      // A key that is no longer deleted was undeleted by someone else: keep the etag keyless left,
      // so the restore below refuses rather than overwrite what they did. (A retried undelete whose
      // first completion was lost looks the same; it errs the safe way: the key is left as found.)
      if (undeleted.undeleted) {
        // Undelete gives the key a new etag; the restore below must expect that one.
        m.facts.keyEtag = undeleted.etagAfter ?? m.facts.keyEtag;
        undeletedByKeyless = true;
        m.recordMutation({ kind: 'key-undeleted', target: m.spec.apiKey, detail: 'rollback: undeleted', approvedBy: by });
      }
    }
    const keyRestored = keyTouched ? await restoreKeyUnlessChanged(m, by) : true;
    if (m.facts.roleAdded && !m.spec.serviceAccount.keepOnRollback) {
      await compensations.removeVertexRole({ project: m.spec.project, member: `serviceAccount:${serviceAccountEmail(m)}` });
      m.recordMutation({ kind: 'role-removed', target: m.spec.project, detail: `rollback: roles/aiplatform.user removed for ${serviceAccountEmail(m)}`, approvedBy: by });
    }
    // The grant lives on the account's own policy: deleting the account takes it along, and
    // keepOnRollback keeps it with the role; an adopted account must lose it explicitly.
    if (m.facts.tokenCreatorAdded && !m.facts.accountCreated && !m.spec.serviceAccount.keepOnRollback && patched(TOKEN_CREATOR_COMPENSATION)) {
      await compensations.removeTokenCreator({ serviceAccountEmail: serviceAccountEmail(m) });
      m.recordMutation({ kind: 'token-creator-removed', target: serviceAccountEmail(m), detail: 'rollback: the orchestrator may no longer mint its tokens', approvedBy: by });
    }
    if (m.facts.accountCreated && !m.spec.serviceAccount.keepOnRollback) {
      await compensations.deleteServiceAccount({ email: serviceAccountEmail(m) });
      m.recordMutation({ kind: 'account-deleted', target: serviceAccountEmail(m), detail: 'rollback: the account keyless created is deleted', approvedBy: by });
    }
    const at = nowIso();
    for (const mutation of toUndo) {
      // A key left as someone else changed it still carries whatever of keyless's change survived theirs.
      const undone = !isKeyChange(mutation) || keyRestored || (mutation.kind === 'key-deleted' && undeletedByKeyless);
      if (undone) mutation.undoneAt = at;
    }
  });
  m.enter('rolled-back');
}

function isKeyChange(mutation: Mutation): boolean {
  return mutation.kind === 'key-restricted' || mutation.kind === 'key-deleted';
}

/**
 * Puts the key back as inventory found it, unless someone else changed (or deleted) it after
 * keyless last did: their change wins, the key is left as found, and the status and result say
 * what the operator should do. Returns whether the key was restored.
 */
async function restoreKeyUnlessChanged(m: Migration, by: string | undefined): Promise<boolean> {
  const snapshot = m.facts.keySnapshot!;
  // The spec's name for the key (project id, not number): the one the operator knows it by.
  const key = m.spec.apiKey;
  try {
    const restored = await compensations.restoreKeySnapshot({ snapshot, expectedEtag: m.facts.keyEtag! });
    m.facts.keyEtag = restored.etagAfter ?? m.facts.keyEtag;
    m.recordMutation({ kind: 'key-restored', target: m.spec.apiKey, detail: 'rollback: restrictions and annotations as before the migration', approvedBy: by });
    return true;
  } catch (err) {
    const failure = err instanceof ActivityFailure ? (err.cause as ApplicationFailure | undefined) : undefined;
    const deleted = failure?.type === ErrorType.KeyNotFound;
    if (failure?.type !== ErrorType.ForeignChange && !deleted) throw err;
    const found = (failure.details?.[0] ?? {}) as { changedFields?: string[] };
    const before = `before the migration it had display name "${snapshot.displayName}" and restrictions ${describeRestrictions(snapshot.restrictions)}`;
    const advice = deleted
      ? `someone else deleted ${key} during the migration and rollback did not undelete it: if a job still needs the key, undelete it within 30 days of its deletion (${before})`
      : `someone else changed ${key} after keyless did, so rollback left it as they set it, with whatever of keyless's own changes survived theirs: ` +
        `find who in Cloud Audit Logs (apikeys.googleapis.com UpdateKey on this key), agree with them on the key's state and set it by hand (${before})`;
    m.facts.leftAsFound = [
      ...(m.facts.leftAsFound ?? []),
      { target: key, changedFields: found.changedFields ?? (deleted ? ['deleteTime'] : []), reason: failure.message, advice, at: nowIso() },
    ];
    log.warn('rollback left the key as someone else changed it', { apiKey: key, failureType: failure.type });
    return false;
  }
}

function describeRestrictions(restrictions: KeySnapshot['restrictions']): string {
  const text = JSON.stringify(restrictions ?? {});
  return text === '{}' ? 'none' : text;
}

/** Long bakes and soaks: start a fresh history, carrying the state, before this one grows too long. */
async function continueAsNewIfHistoryIsLong(m: Migration): Promise<void> {
  if (!workflowInfo().continueAsNewSuggested) return;
  await condition(allHandlersFinished);
  const memory: MigrationMemory = m.memory();
  await continueAsNew<(spec: typeof m.spec, memory: MigrationMemory) => Promise<unknown>>(m.spec, memory);
}

function pick(side: { requests: number; errors: number; errorRate: number }) {
  return { requests: side.requests, errors: side.errors, errorRate: side.errorRate };
}

function fmt(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`;
}
