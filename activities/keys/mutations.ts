// The changes keyless makes to a pipeline's API key: the stopgap restriction, the final
// restrict / restrict-ip / delete, and their compensations. Every change is etag-checked against
// what keyless last saw or left, so a change someone else made is refused, never overwritten;
// every change is idempotent: a key already in the wanted state is left alone.

import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../contracts/errors';
import type { GoogleClients } from '../google-clients';
import {
  appRestrictionPart,
  changedFields,
  GEMINI_API_SERVICE,
  normalizeRestrictions,
  pipelinesOf,
  sameRestrictions,
  servicesOf,
  STOPGAP_ANNOTATION,
  type ApiKeyResource,
  type KeyRestrictions,
  type KeySnapshot,
} from './model';
import { callApiKeys, keyIsDeleted, readKey, waitForKeyOperation } from './runtime';

const GEMINI_ONLY = [{ service: GEMINI_API_SERVICE }];

/** ForeignChange: the key's etag is not the one keyless expected; names fields, never values. */
function foreignChange(context: string, key: ApiKeyResource, expectedEtag: string, fields: string[]): ApplicationFailure {
  const owners = pipelinesOf(key.annotations);
  const ask = owners.length ? `the owners of ${owners.join(', ')}` : 'the key\'s owners';
  const what = fields.length ? `fields ${fields.join(', ')} differ` : 'its etag changed';
  return ApplicationFailure.create({
    type: ErrorType.ForeignChange,
    nonRetryable: true,
    message:
      `${context}: key ${key.name} was changed by someone else (${what}; last update ${key.updateTime ?? 'unknown'}). ` +
      `keyless will not overwrite it: ask ${ask}, or look up apikeys.googleapis.com UpdateKey/DeleteKey on this key in Cloud Audit Logs, then retry the migration.`,
    details: [{ name: key.name, changedFields: fields, expectedEtag, currentEtag: key.etag ?? '', updateTime: key.updateTime ?? '', pipelines: owners }],
  });
}

/** Writes restrictions (and optionally annotations/displayName) with the etag keyless expects. */
async function updateKey(
  clients: GoogleClients,
  context: string,
  name: string,
  expectedEtag: string,
  change: { restrictions?: KeyRestrictions; annotations?: Record<string, string>; displayName?: string },
): Promise<ApiKeyResource> {
  const paths = [
    ...(change.restrictions ? ['restrictions'] : []),
    ...(change.annotations ? ['annotations'] : []),
    ...(change.displayName !== undefined ? ['display_name'] : []),
  ];
  const [operation] = await callApiKeys(`${context}: updating ${name}`, () =>
    clients.apiKeys.updateKey({ key: { name, etag: expectedEtag, ...change }, updateMask: { paths } }),
  );
  return waitForKeyOperation(operation, `${context}: updating ${name}`);
}

export interface RestrictKeyInput {
  apiKey: string;
  /** The etag inspectKey saw; a different one means someone else changed the key. */
  expectedEtag: string;
}

export interface RestrictKeyResult {
  /** True when keyless restricted the key, also on a retry of the attempt that did. */
  changed: boolean;
  etagAfter: string;
  /** The restrictions before the stopgap; informational (compensation restores inspectKey's snapshot). */
  restrictionsBefore: KeyRestrictions;
}

/** The seed's option A floor: API target generativelanguage only, application restriction kept. */
export async function restrictKeyToGemini(clients: GoogleClients, input: RestrictKeyInput): Promise<RestrictKeyResult> {
  const context = 'restrictKeyToGemini';
  const key = await readKey(clients, input.apiKey, context);
  if (key.deleteTime) throw keyIsDeleted(key.name, context, key.deleteTime);
  const annotations = key.annotations ?? {};
  // Our own earlier attempt (its completion was lost): answer as that attempt did. Before it the
  // key had no Gemini target, so its restrictions were the application restriction alone.
  if (annotations[STOPGAP_ANNOTATION] === input.expectedEtag && servicesOf(key.restrictions).includes(GEMINI_API_SERVICE)) {
    return { changed: true, etagAfter: key.etag ?? '', restrictionsBefore: appRestrictionPart(key.restrictions) };
  }
  const restrictionsBefore = normalizeRestrictions(key.restrictions);
  // Any API restriction that admits Gemini already meets the floor; narrowing it further could
  // break whoever shares the key for another API.
  if (servicesOf(key.restrictions).includes(GEMINI_API_SERVICE)) return { changed: false, etagAfter: key.etag ?? '', restrictionsBefore };
  if (key.etag !== input.expectedEtag) throw foreignChange(context, key, input.expectedEtag, []);
  const after = await updateKey(clients, context, key.name, input.expectedEtag, {
    restrictions: { ...appRestrictionPart(key.restrictions), apiTargets: GEMINI_ONLY },
    annotations: { ...annotations, [STOPGAP_ANNOTATION]: input.expectedEtag },
  });
  return { changed: true, etagAfter: after.etag ?? '', restrictionsBefore };
}

export type FinalizeAction = 'restrict' | 'restrict-ip' | 'delete';

export interface FinalizeKeyInput {
  apiKey: string;
  action: FinalizeAction;
  /** Egress addresses (IPs or CIDRs) for `restrict-ip`. */
  allowedIps?: string[];
  /** The etag keyless left (stopgap) or saw (inspectKey). */
  expectedEtag: string;
}

export interface FinalizeKeyResult {
  action: FinalizeAction;
  /** Whether this call changed the key (false: it already was in the final state). */
  changed: boolean;
  etagAfter: string;
  /** RFC 3339; set for `delete` (soft delete: undeletable for 30 days). */
  deleteTime?: string;
}

/** The key's final state once its pipeline runs on Vertex: restricted, IP-restricted, or soft-deleted. */
export async function finalizeKey(clients: GoogleClients, input: FinalizeKeyInput): Promise<FinalizeKeyResult> {
  const context = `finalizeKey ${input.action}`;
  const key = await readKey(clients, input.apiKey, context);
  if (input.action === 'delete') return deleteKey(clients, context, key, input.expectedEtag);
  if (key.deleteTime) throw keyIsDeleted(key.name, context, key.deleteTime);
  const desired = desiredRestrictions(input);
  if (sameRestrictions(key.restrictions, desired)) return { action: input.action, changed: false, etagAfter: key.etag ?? '' };
  if (key.etag !== input.expectedEtag) throw foreignChange(context, key, input.expectedEtag, []);
  const after = await updateKey(clients, context, key.name, input.expectedEtag, { restrictions: desired });
  return { action: input.action, changed: true, etagAfter: after.etag ?? '' };
}

function desiredRestrictions(input: FinalizeKeyInput): KeyRestrictions {
  if (input.action === 'restrict') return { apiTargets: GEMINI_ONLY };
  if (!input.allowedIps?.length) {
    throw ApplicationFailure.create({
      type: ErrorType.InvalidSpec,
      nonRetryable: true,
      message: 'finalizeKey restrict-ip: allowedIps is empty; give the fixed egress addresses of the jobs that keep the key',
    });
  }
  return { serverKeyRestrictions: { allowedIps: [...input.allowedIps] }, apiTargets: GEMINI_ONLY };
}

async function deleteKey(clients: GoogleClients, context: string, key: ApiKeyResource, expectedEtag: string): Promise<FinalizeKeyResult> {
  if (key.deleteTime) return { action: 'delete', changed: false, etagAfter: key.etag ?? '', deleteTime: key.deleteTime };
  if (key.etag !== expectedEtag) throw foreignChange(context, key, expectedEtag, []);
  const [operation] = await callApiKeys(`${context}: deleting ${key.name}`, () => clients.apiKeys.deleteKey({ name: key.name, etag: expectedEtag }));
  let after = await waitForKeyOperation(operation, `${context}: deleting ${key.name}`);
  // Google's operation may answer with an empty Key; the key itself then tells the delete time.
  if (!after.deleteTime) after = await readKey(clients, key.name, context);
  return { action: 'delete', changed: true, etagAfter: after.etag ?? '', ...(after.deleteTime ? { deleteTime: after.deleteTime } : {}) };
}

export interface RestoreKeySnapshotInput {
  snapshot: KeySnapshot;
  /** The etag keyless itself left with its last change to the key. */
  expectedEtag: string;
}

export interface RestoreKeySnapshotResult {
  /** False when the key already matched the snapshot. */
  restored: boolean;
  /** Fields put back (never values). */
  fields: string[];
  etagAfter: string;
}

/** Compensation: puts back restrictions, annotations and display name, unless someone else changed the key since. */
export async function restoreKeySnapshot(clients: GoogleClients, input: RestoreKeySnapshotInput): Promise<RestoreKeySnapshotResult> {
  const context = 'restoreKeySnapshot';
  const { snapshot } = input;
  const key = await readKey(clients, snapshot.name, context);
  if (key.deleteTime) throw keyIsDeleted(key.name, context, key.deleteTime);
  const fields = changedFields(snapshot, key);
  if (!fields.length) return { restored: false, fields: [], etagAfter: key.etag ?? '' };
  if (key.etag !== input.expectedEtag) throw foreignChange(context, key, input.expectedEtag, fields);
  const after = await updateKey(clients, context, key.name, input.expectedEtag, {
    ...(fields.includes('restrictions') ? { restrictions: snapshot.restrictions } : {}),
    ...(fields.includes('annotations') ? { annotations: snapshot.annotations } : {}),
    ...(fields.includes('displayName') ? { displayName: snapshot.displayName } : {}),
  });
  return { restored: true, fields, etagAfter: after.etag ?? '' };
}

export interface UndeleteKeyInput {
  apiKey: string;
}

export interface UndeleteKeyResult {
  /** False when the key was not deleted. */
  undeleted: boolean;
  etagAfter: string;
}

/** Compensation of a finalize delete; a key that is not deleted is left alone. */
export async function undeleteKey(clients: GoogleClients, input: UndeleteKeyInput): Promise<UndeleteKeyResult> {
  const context = 'undeleteKey';
  const key = await readKey(clients, input.apiKey, context);
  if (!key.deleteTime) return { undeleted: false, etagAfter: key.etag ?? '' };
  const [operation] = await callApiKeys(`${context}: undeleting ${key.name}`, () => clients.apiKeys.undeleteKey({ name: key.name }));
  const after = await waitForKeyOperation(operation, `${context}: undeleting ${key.name}`);
  return { undeleted: true, etagAfter: after.etag ?? '' };
}
