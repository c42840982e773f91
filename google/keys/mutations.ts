// The changes keyless makes to a pipeline's API key: the stopgap restriction, the final
// restrict / restrict-ip / delete, and their compensations. Every change is etag-checked against
// what keyless last saw or left, so a change someone else made is refused, never overwritten;
// every change is idempotent: a key already in the wanted state is left alone.

import { ErrorType, KeylessError } from '../../contracts/errors';
import type { GoogleClients } from '../clients';
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
} from './model';
import { callApiKeys, keyIsDeleted, readKey, waitForKeyOperation, type Progress } from './read';
import type {
  FinalizeKeyInput,
  FinalizeKeyResult,
  RestoreKeySnapshotInput,
  RestoreKeySnapshotResult,
  RestrictKeyInput,
  RestrictKeyResult,
  UndeleteKeyInput,
  UndeleteKeyResult,
} from '../../contracts/activities';

const GEMINI_ONLY = [{ service: GEMINI_API_SERVICE }];

/** ForeignChange: the key's etag is not the one keyless expected; names fields, never values. */
function foreignChange(context: string, key: ApiKeyResource, expectedEtag: string, fields: string[]): KeylessError {
  const owners = pipelinesOf(key.annotations);
  const ask = owners.length ? `the owners of ${owners.join(', ')}` : 'the key\'s owners';
  const what = fields.length ? `fields ${fields.join(', ')} differ` : 'its etag changed';
  return new KeylessError({
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
  progress?: Progress,
): Promise<ApiKeyResource> {
  const paths = [
    ...(change.restrictions ? ['restrictions'] : []),
    ...(change.annotations ? ['annotations'] : []),
    ...(change.displayName !== undefined ? ['display_name'] : []),
  ];
  const [operation] = await callApiKeys(`${context}: updating ${name}`, () =>
    clients.apiKeys.updateKey({ key: { name, etag: expectedEtag, ...change }, updateMask: { paths } }),
  );
  return waitForKeyOperation(operation, `${context}: updating ${name}`, progress);
}

/** The seed's option A floor: API target generativelanguage only, application restriction kept. */
export async function restrictKeyToGemini(clients: GoogleClients, input: RestrictKeyInput, progress?: Progress): Promise<RestrictKeyResult> {
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
  }, progress);
  return { changed: true, etagAfter: after.etag ?? '', restrictionsBefore };
}

/** The key's final state once its pipeline runs on Vertex: restricted, IP-restricted, or soft-deleted. */
export async function finalizeKey(clients: GoogleClients, input: FinalizeKeyInput, progress?: Progress): Promise<FinalizeKeyResult> {
  const context = `finalizeKey ${input.action}`;
  const key = await readKey(clients, input.apiKey, context);
  if (input.action === 'delete') return deleteKey(clients, context, key, input.expectedEtag, progress);
  if (key.deleteTime) throw keyIsDeleted(key.name, context, key.deleteTime);
  const desired = desiredRestrictions(input);
  if (sameRestrictions(key.restrictions, desired)) return { action: input.action, changed: false, etagAfter: key.etag ?? '' };
  if (key.etag !== input.expectedEtag) throw foreignChange(context, key, input.expectedEtag, []);
  const after = await updateKey(clients, context, key.name, input.expectedEtag, { restrictions: desired }, progress);
  return { action: input.action, changed: true, etagAfter: after.etag ?? '' };
}

function desiredRestrictions(input: FinalizeKeyInput): KeyRestrictions {
  if (input.action === 'restrict') return { apiTargets: GEMINI_ONLY };
  if (!input.allowedIps?.length) {
    throw new KeylessError({
      type: ErrorType.InvalidSpec,
      nonRetryable: true,
      message: 'finalizeKey restrict-ip: allowedIps is empty; give the fixed egress addresses of the jobs that keep the key',
    });
  }
  return { serverKeyRestrictions: { allowedIps: [...input.allowedIps] }, apiTargets: GEMINI_ONLY };
}

async function deleteKey(clients: GoogleClients, context: string, key: ApiKeyResource, expectedEtag: string, progress?: Progress): Promise<FinalizeKeyResult> {
  if (key.deleteTime) return { action: 'delete', changed: false, etagAfter: key.etag ?? '', deleteTime: key.deleteTime };
  if (key.etag !== expectedEtag) throw foreignChange(context, key, expectedEtag, []);
  const [operation] = await callApiKeys(`${context}: deleting ${key.name}`, () => clients.apiKeys.deleteKey({ name: key.name, etag: expectedEtag }));
  let after = await waitForKeyOperation(operation, `${context}: deleting ${key.name}`, progress);
  // Google's operation may answer with an empty Key; the key itself then tells the delete time.
  if (!after.deleteTime) after = await readKey(clients, key.name, context);
  return { action: 'delete', changed: true, etagAfter: after.etag ?? '', ...(after.deleteTime ? { deleteTime: after.deleteTime } : {}) };
}

/** Compensation: puts back restrictions, annotations and display name, unless someone else changed the key since. */
export async function restoreKeySnapshot(clients: GoogleClients, input: RestoreKeySnapshotInput, progress?: Progress): Promise<RestoreKeySnapshotResult> {
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
  }, progress);
  return { restored: true, fields, etagAfter: after.etag ?? '' };
}

/** Compensation of a finalize delete; a key that is not deleted is left alone. */
export async function undeleteKey(clients: GoogleClients, input: UndeleteKeyInput, progress?: Progress): Promise<UndeleteKeyResult> {
  const context = 'undeleteKey';
  const key = await readKey(clients, input.apiKey, context);
  if (!key.deleteTime) return { undeleted: false, etagAfter: key.etag ?? '' };
  const [operation] = await callApiKeys(`${context}: undeleting ${key.name}`, () => clients.apiKeys.undeleteKey({ name: key.name }));
  const after = await waitForKeyOperation(operation, `${context}: undeleting ${key.name}`, progress);
  return { undeleted: true, etagAfter: after.etag ?? '' };
}
