// The rollback of migrations recorded before the undo log (patch `undo-log` in rollback.ts): a
// hand-ordered compensation, kept so their histories replay and a rollback they had begun finishes
// the way it started. New migrations never run it. Remove it, with the patch, once no migration
// started before the undo log can still be running or replayed.

import { ActivityFailure, log, patched, type ApplicationFailure } from '@temporalio/workflow';
import { ErrorType } from '../contracts/errors';
import { pipelineAccount, type PipelineSpec } from '../contracts/spec';
import { keyLeftAsFoundAdvice, type Mutation } from '../contracts/status';
import type { Undo } from '../contracts/undo';
import { compensations } from './activities';
import { nowIso, type Migration, type MigrationMemory } from './migration';
import { publishRoute } from './stages/route';

/** Patch: rollback takes back the token-creator grant on an account it keeps (histories before it do not). */
const TOKEN_CREATOR_COMPENSATION = 'token-creator-compensation';

/** Undoes what was done in the legacy order: route, key, Vertex role, token-creator grant, account. */
export async function legacyRollback(m: Migration): Promise<void> {
  const toUndo = m.mutations.filter((x) => !x.undoneAt);
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
    // so the restore below refuses rather than overwrite what they did.
    if (undeleted.undeleted) {
      m.facts.keyEtag = undeleted.etagAfter ?? m.facts.keyEtag;
      undeletedByKeyless = true;
      m.recordMutation({ kind: 'key-undeleted', target: m.spec.apiKey, detail: 'rollback: undeleted', approvedBy: by });
    }
  }
  const keyRestored = keyTouched ? await restoreKeyUnlessChanged(m, by) : true;
  const email = m.serviceAccountEmail;
  if (m.facts.roleAdded && !m.spec.serviceAccount?.keepOnRollback) {
    await compensations.removeVertexRole({ project: m.spec.project, member: `serviceAccount:${email}` });
    m.recordMutation({ kind: 'role-removed', target: m.spec.project, detail: `rollback: roles/aiplatform.user removed for ${email}`, approvedBy: by });
  }
  if (m.facts.tokenCreatorAdded && !m.facts.accountCreated && !m.spec.serviceAccount?.keepOnRollback && patched(TOKEN_CREATOR_COMPENSATION)) {
    await compensations.removeTokenCreator({ serviceAccountEmail: email });
    m.recordMutation({ kind: 'token-creator-removed', target: email, detail: 'rollback: the orchestrator may no longer mint its tokens', approvedBy: by });
  }
  if (m.facts.accountCreated && !m.spec.serviceAccount?.keepOnRollback) {
    await compensations.deleteServiceAccount({ email });
    m.recordMutation({ kind: 'account-deleted', target: email, detail: 'rollback: the account keyless created is deleted', approvedBy: by });
  }
  const at = nowIso();
  for (const mutation of toUndo) {
    const undone = !isKeyChange(mutation) || keyRestored || (mutation.kind === 'key-deleted' && undeletedByKeyless);
    if (undone) mutation.undoneAt = at;
  }
  // Nothing is left for the undo log to do.
  for (const undo of m.undos) undo.doneAt ??= at;
}

function isKeyChange(mutation: Mutation): boolean {
  return mutation.kind === 'key-restricted' || mutation.kind === 'key-deleted';
}

async function restoreKeyUnlessChanged(m: Migration, by: string | undefined): Promise<boolean> {
  const snapshot = m.facts.keySnapshot!;
  const key = m.spec.apiKey;
  try {
    const restored = await compensations.restoreKeySnapshot({ snapshot, expectedEtag: m.facts.keyEtag! });
    m.facts.keyEtag = restored.etagAfter ?? m.facts.keyEtag;
    m.recordMutation({ kind: 'key-restored', target: key, detail: 'rollback: restrictions and annotations as before the migration', approvedBy: by });
    return true;
  } catch (err) {
    const failure = err instanceof ActivityFailure ? (err.cause as ApplicationFailure | undefined) : undefined;
    const deleted = failure?.type === ErrorType.KeyNotFound;
    if (failure?.type !== ErrorType.ForeignChange && !deleted) throw err;
    const found = (failure.details?.[0] ?? {}) as { changedFields?: string[] };
    const advice = keyLeftAsFoundAdvice(key, snapshot, deleted);
    m.facts.leftAsFound = [
      ...(m.facts.leftAsFound ?? []),
      { target: key, changedFields: found.changedFields ?? (deleted ? ['deleteTime'] : []), reason: failure.message, advice, at: nowIso() },
    ];
    log.warn('rollback left the key as someone else changed it', { apiKey: key, failureType: failure.type });
    return false;
  }
}

/**
 * The undo log of a run continued from one recorded before the undo log existed: rebuilt from its
 * facts, in the order the legacy rollback would have undone them (the log runs newest first), and
 * its mutations pointed at their undos.
 */
export function legacyUndos(memory: MigrationMemory, spec: PipelineSpec): Undo[] {
  const { facts } = memory;
  const keep = spec.serviceAccount?.keepOnRollback ?? false;
  const email = facts.serviceAccountEmail ?? (pipelineAccount(spec).email ?? '');
  const member = `serviceAccount:${email}`;
  const undos: Undo[] = [];
  const ids: Partial<Record<Mutation['kind'], string>> = {};
  if (facts.accountCreated && !keep) {
    undos.push({ id: `service-account:${email}`, activity: 'deleteServiceAccount', input: { email } });
    ids['account-created'] = ids['token-creator-granted'] = `service-account:${email}`;
  }
  if (facts.tokenCreatorAdded && !facts.accountCreated && !keep) {
    undos.push({ id: `token-creator:${email}`, activity: 'removeTokenCreator', input: { serviceAccountEmail: email } });
    ids['token-creator-granted'] = `token-creator:${email}`;
  }
  if (facts.roleAdded && !keep) {
    undos.push({ id: `vertex-role:${spec.project}:${member}`, activity: 'removeVertexRole', input: { project: spec.project, member } });
    ids['role-granted'] = `vertex-role:${spec.project}:${member}`;
  }
  if (memory.mutations.some((x) => isKeyChange(x) && !x.undoneAt) && facts.keySnapshot && facts.keyEtag) {
    undos.push({ id: 'key', activity: 'undoKeyChanges', input: { apiKey: spec.apiKey, snapshot: facts.keySnapshot, expectedEtag: facts.keyEtag, deleted: facts.keyDeleted ?? false } });
    ids['key-restricted'] = ids['key-deleted'] = 'key';
  }
  if (memory.vertexPercent !== 0 && memory.mutations.some((x) => x.kind === 'route-published')) {
    const route = {
      pipeline: spec.pipeline,
      generation: memory.routeGeneration + 1,
      vertexPercent: 0,
      project: spec.project,
      location: spec.vertex.location,
      serviceAccount: email,
      updatedAt: new Date().toISOString(),
    };
    undos.push({ id: 'route', activity: 'publishRouteToKey', input: { store: spec.route.store, route } });
    ids['route-published'] = 'route';
  }
  for (const mutation of memory.mutations) {
    const id = ids[mutation.kind];
    if (id && !mutation.undoneAt) mutation.undoId ??= id;
  }
  return undos;
}
