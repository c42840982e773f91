// Workload Identity Federation as keyless manages it: a pool per project, an OIDC provider per
// pipeline, and roles/iam.workloadIdentityUser for the runtime's principal on the pipeline's
// account. Creating one marks it as keyless's (its description names the workflow run), so a retry
// after a lost answer still knows the resource is its own. Deleted pools and providers keep their
// ids for 30 days: ensuring one that is deleted undeletes it (and sets it as wanted), so a
// migration re-run after a rollback works instead of failing on a reserved id.

import type { iam_v1 } from '@googleapis/iam';
import type { EnsuredResource, WantedProvider } from '../contracts/activities';
import { ErrorType, KeylessError } from '../contracts/errors';
import { WORKLOAD_IDENTITY_USER_ROLE } from '../contracts/runtime';
import type { GoogleClients } from './clients';
import { describeGoogleError, googleError, googleErrorInfo } from './errors';
import { addMember, holdsPlainBinding, readPolicy, removeMember, serviceAccountPolicy } from './iam-policy';

/** Operations of the IAM API finish in seconds; polling stops after this. */
const OPERATION_POLLS = 30;
const OPERATION_POLL_MS = 500;

type Pools = iam_v1.Resource$Projects$Locations$Workloadidentitypools;

function pools(clients: GoogleClients): Pools {
  return clients.iam.projects.locations.workloadIdentityPools;
}

/** The description that marks a resource as created by keyless for `owner` (a workflow run). */
export function ownerDescription(owner: string | undefined): string | undefined {
  return owner ? `Created by keyless for ${owner}.` : undefined;
}

/** The project's number, which IAM principals name. */
export async function projectNumber(clients: GoogleClients, project: string): Promise<string> {
  if (/^[0-9]+$/.test(project)) return project;
  try {
    const { data } = await clients.resourceManager.projects.get({ name: `projects/${project}` });
    const number = /^projects\/([0-9]+)$/.exec(data.name ?? '')?.[1];
    if (!number) throw new KeylessError({ type: ErrorType.InvalidRequest, message: `projects/${project} answered without a project number (${data.name ?? 'no name'})` });
    return number;
  } catch (err) {
    throw googleError(err, { context: `read projects/${project}`, notFound: ErrorType.InvalidSpec, forbidden: ErrorType.PermissionDenied });
  }
}

/** Creates the pool, adopts it when it exists, undeletes it when its id is still reserved. */
export async function ensurePool(clients: GoogleClients, input: { projectNumber: string; poolId: string; owner?: string }): Promise<EnsuredResource> {
  const parent = `projects/${input.projectNumber}/locations/global`;
  const name = `${parent}/workloadIdentityPools/${input.poolId}`;
  const description = ownerDescription(input.owner);
  const existing = await getOrUndefined(() => pools(clients).get({ name }), `read ${name}`);
  if (existing?.state === 'DELETED') {
    await operation(clients, () => pools(clients).undelete({ name, requestBody: {} }), `undelete ${name}`);
    if (description) await operation(clients, () => pools(clients).patch({ name, updateMask: 'description', requestBody: { description } }), `mark ${name}`);
    return { name, created: true, undeleted: true };
  }
  if (existing) return { name, created: description !== undefined && existing.description === description, undeleted: false };
  try {
    await operation(
      clients,
      () => pools(clients).create({ parent, workloadIdentityPoolId: input.poolId, requestBody: { displayName: 'keyless', ...(description ? { description } : {}) } }),
      `create ${name}`,
    );
    return { name, created: true, undeleted: false };
  } catch (err) {
    // Created between our read and our create (another worker, or our own lost attempt): look again.
    if (googleErrorInfo(err).status !== 'ALREADY_EXISTS') throw err;
    const raced = await getOrUndefined(() => pools(clients).get({ name }), `read ${name}`);
    return { name, created: description !== undefined && raced?.description === description, undeleted: false };
  }
}

/**
 * Creates the provider, undeletes it when its id is still reserved (then sets it as wanted), and
 * adopts one that already says exactly what keyless wants. One that admits other tokens (another
 * issuer, mapping or condition) is refused: keyless will not widen or narrow someone's provider.
 */
export async function ensureProvider(clients: GoogleClients, wanted: WantedProvider): Promise<EnsuredResource> {
  const name = `${wanted.poolName}/providers/${wanted.providerId}`;
  const description = ownerDescription(wanted.owner);
  const body: iam_v1.Schema$WorkloadIdentityPoolProvider = {
    displayName: wanted.displayName ?? wanted.providerId.slice(0, 32),
    ...(description ? { description } : {}),
    attributeMapping: wanted.attributeMapping,
    attributeCondition: wanted.attributeCondition,
    oidc: { issuerUri: wanted.issuer, allowedAudiences: wanted.allowedAudiences },
  };
  const providers = pools(clients).providers;
  const existing = await getOrUndefined(() => providers.get({ name }), `read ${name}`);
  if (existing?.state === 'DELETED') {
    await operation(clients, () => providers.undelete({ name, requestBody: {} }), `undelete ${name}`);
    await operation(clients, () => providers.patch({ name, updateMask: 'displayName,description,attributeMapping,attributeCondition,oidc.issuerUri,oidc.allowedAudiences', requestBody: body }), `set ${name}`);
    return { name, created: true, undeleted: true };
  }
  if (existing) {
    const mine = description !== undefined && existing.description === description;
    if (!mine && !sameProvider(existing, wanted)) {
      throw new KeylessError({
        type: ErrorType.InvalidSpec,
        message: `${name} exists and admits other tokens than this runtime's (its issuer, mapping or condition differ); keyless will not change someone else's provider: set runtime.provider to another id, or align that provider with the spec`,
        details: [{ name }],
      });
    }
    return { name, created: mine, undeleted: false };
  }
  try {
    await operation(clients, () => providers.create({ parent: wanted.poolName, workloadIdentityPoolProviderId: wanted.providerId, requestBody: body }), `create ${name}`);
    return { name, created: true, undeleted: false };
  } catch (err) {
    if (googleErrorInfo(err).status !== 'ALREADY_EXISTS') throw err;
    const raced = await getOrUndefined(() => providers.get({ name }), `read ${name}`);
    return { name, created: description !== undefined && raced?.description === description, undeleted: false };
  }
}

/** Deletes the provider (soft: Google keeps its id 30 days); one already gone or deleted is fine. */
export async function deleteProvider(clients: GoogleClients, name: string): Promise<{ deleted: boolean }> {
  const existing = await getOrUndefined(() => pools(clients).providers.get({ name }), `read ${name}`);
  if (!existing || existing.state === 'DELETED') return { deleted: false };
  await operation(clients, () => pools(clients).providers.delete({ name }), `delete ${name}`);
  return { deleted: true };
}

/** Deletes the pool only when no active provider is left in it; answers what it did. */
export async function deletePoolIfEmpty(clients: GoogleClients, name: string): Promise<{ deleted: boolean; activeProviders: string[] }> {
  const existing = await getOrUndefined(() => pools(clients).get({ name }), `read ${name}`);
  if (!existing || existing.state === 'DELETED') return { deleted: false, activeProviders: [] };
  const active: string[] = [];
  let pageToken: string | undefined;
  for (let page = 0; page < 50; page++) {
    let data: iam_v1.Schema$ListWorkloadIdentityPoolProvidersResponse;
    try {
      ({ data } = await pools(clients).providers.list({ parent: name, pageSize: 100, ...(pageToken ? { pageToken } : {}) }));
    } catch (err) {
      throw googleError(err, { context: `list the providers of ${name}` });
    }
    active.push(...(data.workloadIdentityPoolProviders ?? []).filter((p) => p.state !== 'DELETED').map((p) => p.name ?? ''));
    pageToken = data.nextPageToken ?? undefined;
    if (!pageToken) break;
  }
  if (active.length > 0) return { deleted: false, activeProviders: active };
  await operation(clients, () => pools(clients).delete({ name }), `delete ${name}`);
  return { deleted: true, activeProviders: [] };
}

/** Whether the account's policy already lets `member` act as it. */
export async function holdsWorkloadIdentityUser(clients: GoogleClients, serviceAccountEmail: string, member: string): Promise<boolean> {
  return holdsPlainBinding(await readPolicy(serviceAccountPolicy(clients, serviceAccountEmail)), WORKLOAD_IDENTITY_USER_ROLE, member);
}

export function grantWorkloadIdentityUser(clients: GoogleClients, serviceAccountEmail: string, member: string) {
  return addMember(serviceAccountPolicy(clients, serviceAccountEmail), WORKLOAD_IDENTITY_USER_ROLE, member);
}

export function revokeWorkloadIdentityUser(clients: GoogleClients, serviceAccountEmail: string, member: string) {
  return removeMember(serviceAccountPolicy(clients, serviceAccountEmail), WORKLOAD_IDENTITY_USER_ROLE, member);
}

/** Whether an existing provider says what keyless wants (the fields that decide which tokens it admits). */
function sameProvider(existing: iam_v1.Schema$WorkloadIdentityPoolProvider, wanted: WantedProvider): boolean {
  const sorted = (record: Record<string, string> | null | undefined) => JSON.stringify(Object.entries(record ?? {}).sort(([a], [b]) => a.localeCompare(b)));
  return (
    existing.oidc?.issuerUri === wanted.issuer &&
    JSON.stringify([...(existing.oidc?.allowedAudiences ?? [])].sort()) === JSON.stringify([...wanted.allowedAudiences].sort()) &&
    (existing.attributeCondition ?? '') === wanted.attributeCondition &&
    sorted(existing.attributeMapping) === sorted(wanted.attributeMapping) &&
    existing.disabled !== true
  );
}

async function getOrUndefined<T>(get: () => Promise<{ data: T }>, context: string): Promise<T | undefined> {
  try {
    return (await get()).data;
  } catch (err) {
    if (describeGoogleError(err).httpStatus === 404) return undefined;
    throw googleError(err, { context });
  }
}

/** Runs a change and waits for its long-running operation. */
async function operation(clients: GoogleClients, start: () => Promise<{ data: iam_v1.Schema$Operation }>, context: string): Promise<void> {
  let op: iam_v1.Schema$Operation;
  try {
    op = (await start()).data;
  } catch (err) {
    throw googleError(err, { context, alreadyExists: ErrorType.InvalidRequest });
  }
  for (let poll = 0; !op.done && poll < OPERATION_POLLS; poll++) {
    await new Promise((resolve) => setTimeout(resolve, OPERATION_POLL_MS));
    try {
      op = (await clients.iam.projects.locations.workloadIdentityPools.operations.get({ name: op.name! })).data;
    } catch (err) {
      throw googleError(err, { context: `${context}: operation ${op.name}` });
    }
  }
  if (!op.done) throw new KeylessError({ type: ErrorType.Transient, message: `${context}: operation ${op.name} not done after ${(OPERATION_POLLS * OPERATION_POLL_MS) / 1000}s` });
  if (op.error) throw new KeylessError({ type: ErrorType.InvalidRequest, message: `${context}: ${op.error.message ?? 'the operation failed'}`, details: [op.error] });
}
