// The runtime's identity as activities: the account a Google Cloud runtime runs as; the workload
// identity pool, provider and binding a federated runtime needs, and their compensations; and the
// probe of the job's own path. The work is the Google library's (google/workload-identity.ts,
// google/runtime-account.ts, google/federation.ts).

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeylessActivities, ProbeWorkloadIdentityInput, WorkloadIdentityProbe } from '../contracts/activities';
import { ErrorType, KeylessError } from '../contracts/errors';
import { WORKLOAD_IDENTITY_USER_ROLE } from '../contracts/runtime';
import { simulatedRunner } from '../emulator/client/runners';
import type { GoogleClients } from '../google/clients';
import { credentialConfiguration, githubRunnerSource, type SubjectTokenSource } from '../google/credential-config';
import { walkFederatedChain } from '../google/federation';
import { resolveRuntimeAccount } from '../google/runtime-account';
import {
  deletePoolIfEmpty,
  deleteProvider,
  ensurePool,
  ensureProvider,
  grantWorkloadIdentityUser,
  holdsWorkloadIdentityUser,
  projectNumber,
  revokeWorkloadIdentityUser,
} from '../google/workload-identity';
import { currentWorkflowRun, firstAttemptAt } from './context';
import { DEFAULT_PROPAGATION_WINDOW_MS as PROPAGATION_WINDOW_MS } from './probe';

type IdentityActivities = Pick<
  KeylessActivities,
  | 'projectNumber'
  | 'resolveRuntimeAccount'
  | 'ensureWorkloadIdentityPool'
  | 'ensureWorkloadIdentityProvider'
  | 'hasWorkloadIdentityUser'
  | 'ensureWorkloadIdentityUser'
  | 'deleteWorkloadIdentityProvider'
  | 'deleteWorkloadIdentityPool'
  | 'removeWorkloadIdentityUser'
  | 'probeWorkloadIdentity'
>;

export function createIdentityActivities(clients: GoogleClients): IdentityActivities {
  return {
    projectNumber: async (input) => ({ number: await projectNumber(clients, input.project) }),
    resolveRuntimeAccount: (input) => resolveRuntimeAccount(clients, input),
    ensureWorkloadIdentityPool: (input) => ensurePool(clients, { ...input, owner: input.owner ?? currentWorkflowRun() }),
    ensureWorkloadIdentityProvider: (input) => ensureProvider(clients, { ...input, owner: input.owner ?? currentWorkflowRun() }),
    hasWorkloadIdentityUser: async (input) => ({ held: await holdsWorkloadIdentityUser(clients, input.serviceAccountEmail, input.member) }),
    ensureWorkloadIdentityUser: async (input) => ({ added: (await grantWorkloadIdentityUser(clients, input.serviceAccountEmail, input.member)).changed }),
    async deleteWorkloadIdentityProvider(input) {
      await deleteProvider(clients, input.name);
      return { changes: [{ kind: 'workload-identity-provider-deleted', target: input.name, detail: 'rollback: the provider keyless created is deleted (Google keeps its id for 30 days)' }] };
    },
    async deleteWorkloadIdentityPool(input) {
      const { activeProviders } = await deletePoolIfEmpty(clients, input.name);
      // Another pipeline's provider still lives in the pool: it stays, and so does the record of its creation.
      if (activeProviders.length > 0) return { changes: [], notUndone: ['workload-identity-pool-created'] };
      return { changes: [{ kind: 'workload-identity-pool-deleted', target: input.name, detail: 'rollback: the pool keyless created is deleted, no provider being left in it' }] };
    },
    async removeWorkloadIdentityUser(input) {
      await revokeWorkloadIdentityUser(clients, input.serviceAccountEmail, input.member);
      return { changes: [{ kind: 'workload-identity-user-removed', target: input.serviceAccountEmail, detail: `rollback: ${WORKLOAD_IDENTITY_USER_ROLE} removed for ${input.member}` }] };
    },
    probeWorkloadIdentity: (input) => (clients.config.mode === 'emulator' ? probeChain(clients, input, clients.config.baseUrl) : probeConfiguration(clients, input)),
  };
}

/** The embedded default: a simulated runner's token through STS and impersonation to Vertex, as the job will walk it. */
async function probeChain(clients: GoogleClients, input: ProbeWorkloadIdentityInput, baseUrl: string): Promise<WorkloadIdentityProbe> {
  const audience = `//iam.googleapis.com/${input.providerName}`;
  const runner = await simulatedRunner(baseUrl, input.runtime, audience);
  const dir = runner.kind === 'token' ? await mkdtemp(join(tmpdir(), 'keyless-probe-')) : undefined;
  try {
    let source: SubjectTokenSource;
    if (runner.kind === 'github') source = githubRunnerSource(runner.requestUrl, runner.requestToken, audience);
    else {
      const path = join(dir!, 'subject-token.jwt');
      await writeFile(path, runner.token, { mode: 0o600 });
      source = { kind: 'file', path };
    }
    const config = credentialConfiguration(clients.config, { audience, serviceAccountEmail: input.serviceAccountEmail, source });
    const steps = await walkFederatedChain(clients.config, config, { project: input.project, location: input.location, models: input.models });
    const broken = steps.find((s) => !s.ok);
    if (broken) {
      // A fresh provider or binding may be refused while IAM propagates it: Temporal retries it.
      const settling = (broken.link === 'impersonation' || broken.link === 'sts') && Date.now() - (input.grantedAt ? Date.parse(input.grantedAt) : firstAttemptAt()) < PROPAGATION_WINDOW_MS;
      throw new KeylessError({
        type: settling ? ErrorType.Transient : ErrorType.MissingRole,
        nonRetryable: !settling,
        message: `the job's path breaks at ${broken.link}: ${broken.detail}`,
        details: [{ steps: steps.map(({ link, ok, detail }) => ({ link, ok, detail })) }],
      });
    }
    return { verified: 'chain', checks: steps.map((s) => ({ check: s.link, ok: s.ok, detail: s.detail })) };
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

/** Against Google keyless cannot obtain a runner's token: it reads back what the job's path relies on. */
async function probeConfiguration(clients: GoogleClients, input: ProbeWorkloadIdentityInput): Promise<WorkloadIdentityProbe> {
  const checks: WorkloadIdentityProbe['checks'] = [];
  let provider;
  try {
    ({ data: provider } = await clients.iam.projects.locations.workloadIdentityPools.providers.get({ name: input.providerName }));
  } catch (err) {
    throw new KeylessError({ type: ErrorType.Transient, message: `reading ${input.providerName}: ${(err as Error).message}` });
  }
  checks.push({ check: 'provider', ok: provider.state === 'ACTIVE' && !provider.disabled, detail: `${input.providerName} is ${provider.disabled ? 'disabled' : (provider.state ?? 'in an unknown state')}` });
  checks.push({ check: 'condition', ok: provider.attributeCondition === input.attributeCondition, detail: `its condition is ${provider.attributeCondition ?? '(none)'}` });
  const held = await holdsWorkloadIdentityUser(clients, input.serviceAccountEmail, input.member);
  checks.push({ check: 'binding', ok: held, detail: `${input.serviceAccountEmail} ${held ? 'grants' : 'does not grant'} ${WORKLOAD_IDENTITY_USER_ROLE} to ${input.member}` });
  const failed = checks.filter((c) => !c.ok);
  if (failed.length > 0) throw new KeylessError({ type: ErrorType.Transient, message: `the runtime's configuration is not what keyless set: ${failed.map((c) => c.detail).join('; ')}`, details: [{ checks }] });
  return { verified: 'configuration', checks };
}
