// `keyless plan <spec> [--json]`: every mutation a migration of this spec would make, in the order
// the workflow makes them, changing nothing. The facts come from read-only calls; the plan itself
// comes from the stages' own plan functions (workflows/stages/), the ones the workflow records by,
// so the plan cannot drift from what a run does.

import { ErrorType, isKeylessError } from '../../contracts/errors';
import { isChange, type PlanFacts, type PlannedStep, type ResourceState } from '../../contracts/plan';
import { isFederated, poolName, providerName, workloadIdentityPlan, type FederatedRuntime } from '../../contracts/runtime';
import { pipelineAccount, type PipelineSpec } from '../../contracts/spec';
import type { GoogleClients } from '../../google/clients';
import { googleErrorInfo } from '../../google/errors';
import { TOKEN_CREATOR_ROLE, VERTEX_ROLE, holdsPlainBinding, projectPolicy, serviceAccountPolicy } from '../../google/iam-policy';
import { inspectKey, type KeyInspection } from '../../google/keys/inventory';
import { resolveRuntimeAccount } from '../../google/runtime-account';
import { readPipelineVolume } from '../../google/monitoring';
import { getServiceAccount, whoAmI } from '../../google/service-accounts';
import { holdsWorkloadIdentityUser, projectNumber } from '../../google/workload-identity';
import { builtInRouteStores, readRouteFrom } from '../../route-store';
import { planMigration } from '../../workflows/stages';
import type { Command } from '../command';
import { ExitCode, UserError } from '../errors';
import { loadSpec } from '../spec-file';

export type { PlannedStep } from '../../contracts/plan';

export const plan: Command = {
  summary: 'List every mutation a migration of this spec would make, changing nothing',
  usage: 'keyless plan <spec> [--json]',
  example: 'KEYLESS_EMULATOR=http://127.0.0.1:7280 keyless plan examples/specs/nightly-summarizer.yaml',
  options: { json: { type: 'boolean' } },
  positionals: [1, 1],
  async run(args, io) {
    const spec = await loadSpec(args.positionals[0]!);
    const clients = io.google();
    // Without a known orchestrator email the token-creator grant is listed as to do.
    const orchestratorEmail = await whoAmI(clients).catch(() => undefined);
    const steps = await planFromCloud(clients, spec, { orchestratorEmail });
    if (args.values.json) io.json(steps);
    else io.print(renderPlan(steps));
    return ExitCode.Ok;
  },
};

export interface PlanOptions {
  /** The orchestrator's email, to check its token-creator grant; without it that step is listed as to do. */
  orchestratorEmail?: string;
}

/** The migration's plan for a validated spec, over facts read from the cloud; only read calls reach it. */
export async function planFromCloud(clients: GoogleClients, spec: PipelineSpec, options: PlanOptions = {}): Promise<PlannedStep[]> {
  return planMigration(spec, await readPlanFacts(clients, spec, options));
}

/** What the plan depends on, read from the cloud: the key, the account, the two policies, the route. */
export async function readPlanFacts(clients: GoogleClients, spec: PipelineSpec, options: PlanOptions = {}): Promise<PlanFacts> {
  const key = await inspectForPlan(clients, spec);
  const wanted = pipelineAccount(spec);
  const runtimeAccount = wanted.kind === 'runtime' ? await readOrExplain('reading the runtime\'s account', () => resolveRuntimeAccount(clients, { project: spec.project, ...(wanted.email ? { serviceAccount: wanted.email } : {}), ...(wanted.cloudRunJob ? { cloudRunJob: wanted.cloudRunJob } : {}), accountInAnotherProject: wanted.accountInAnotherProject })) : undefined;
  const email = runtimeAccount?.email ?? wanted.email!;
  const account = await readOrExplain(`reading service account ${email}`, () => getServiceAccount(clients, email));
  const projectIam = await readOrExplain(`reading the IAM policy of projects/${spec.project}`, () => projectPolicy(clients, spec.project).read());
  const orchestrator = options.orchestratorEmail;
  // A new account has no policy yet: the grant is certainly to do.
  const accountIam = account && orchestrator ? await readOrExplain(`reading the IAM policy of ${email}`, () => serviceAccountPolicy(clients, email).read()) : undefined;
  // A store the planner cannot read is not a reason to refuse a plan.
  const current = await readRouteFrom(builtInRouteStores(() => clients.storage), spec.route.store, spec.pipeline, { project: spec.project }).catch(() => undefined);
  const federated = isFederated(spec.runtime) ? await readWorkloadIdentity(clients, spec.project, spec.runtime, spec.pipeline, email) : undefined;
  // Nor is a Monitoring it cannot read: the steps are then listed without estimates.
  const observedVolume = key.audit.uid
    ? await readPipelineVolume(clients, { project: spec.project, keyUid: key.audit.uid, ...(account?.uniqueId ? { serviceAccountUniqueId: account.uniqueId } : {}), windowMs: VOLUME_WINDOW_MS }).catch(() => undefined)
    : undefined;
  return {
    ...federated,
    ...(runtimeAccount ? { runtimeAccount: { email: runtimeAccount.email, computeDefault: runtimeAccount.computeDefault } } : {}),
    key: { blockCandidate: key.audit.blockCandidate, deleted: key.audit.state === 'deleted', ...(key.audit.deleteTime ? { deleteTime: key.audit.deleteTime } : {}), sharedWith: key.sharedWith },
    accountExists: account !== undefined,
    vertexRoleHeld: holdsPlainBinding(projectIam, VERTEX_ROLE, `serviceAccount:${email}`),
    ...(orchestrator ? { orchestratorEmail: orchestrator, tokenCreatorHeld: holdsPlainBinding(accountIam, TOKEN_CREATOR_ROLE, `serviceAccount:${orchestrator}`) } : {}),
    ...(current ? { currentRoute: { vertexPercent: current.vertexPercent, generation: current.generation } } : {}),
    ...(observedVolume ? { observedVolume } : {}),
  };
}

/** What exists of a federated runtime's pool, provider and binding. */
async function readWorkloadIdentity(clients: GoogleClients, project: string, runtime: FederatedRuntime, pipeline: string, email: string): Promise<Pick<PlanFacts, 'projectNumber' | 'workloadIdentity'>> {
  const number = await readOrExplain(`reading projects/${project}`, () => projectNumber(clients, project));
  const wif = workloadIdentityPlan(runtime, pipeline);
  const stateOf = async (name: string, read: () => Promise<{ data: { state?: string | null } }>): Promise<ResourceState> => {
    const found = await readOrExplain(`reading ${name}`, () => read().then((r) => r.data, (err: unknown) => (googleErrorInfo(err).httpStatus === 404 ? undefined : Promise.reject(err))));
    return !found ? 'absent' : found.state === 'DELETED' ? 'deleted' : 'active';
  };
  const pools = clients.iam.projects.locations.workloadIdentityPools;
  const pool = poolName(number, wif.poolId);
  const provider = providerName(number, wif.poolId, wif.providerId);
  const accountExists = (await getServiceAccount(clients, email)) !== undefined;
  return {
    projectNumber: number,
    workloadIdentity: {
      pool: await stateOf(pool, () => pools.get({ name: pool })),
      provider: await stateOf(provider, () => pools.providers.get({ name: provider })),
      userHeld: accountExists && (await readOrExplain(`reading the IAM policy of ${email}`, () => holdsWorkloadIdentityUser(clients, email, wif.member(number)))),
    },
  };
}
/** How far back the pipeline's volume is read: a week shows a daily job's seven runs. */
const VOLUME_WINDOW_MS = 7 * 24 * 3_600_000;

/** The key's inspection; a missing key is a spec mistake, said with the field's name. */
async function inspectForPlan(clients: GoogleClients, spec: PipelineSpec): Promise<KeyInspection> {
  try {
    return await inspectKey(clients, { apiKey: spec.apiKey, pipeline: spec.pipeline });
  } catch (err) {
    if (isKeylessError(err) && err.type === ErrorType.KeyNotFound) {
      throw new UserError(`apiKey ${spec.apiKey} not found`, ExitCode.Config, 'check the key resource name with `keyless inventory --project <p>`');
    }
    if (isKeylessError(err)) {
      const unavailable = err.type === ErrorType.Transient || err.type === ErrorType.Quota;
      throw new UserError(`reading apiKey ${spec.apiKey}: ${err.message}`, unavailable ? ExitCode.Unavailable : ExitCode.Failed);
    }
    throw err;
  }
}

async function readOrExplain<T>(context: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof UserError) throw err;
    if (isKeylessError(err) && err.type === ErrorType.InvalidSpec) throw new UserError(`${context}: ${err.message}`, ExitCode.Config);
    const info = googleErrorInfo(err);
    if (info.httpStatus === 403) throw new UserError(`${context}: permission denied`, ExitCode.Failed, 'the plan needs read access to the key, the account and the project IAM policy');
    if (info.httpStatus === 0) throw new UserError(`${context}: the cloud is not answering (${info.message})`, ExitCode.Unavailable, 'check KEYLESS_EMULATOR or your network, then retry');
    throw new UserError(`${context}: ${info.httpStatus} ${info.status}: ${info.message}`, ExitCode.Failed);
  }
}

/** A fixed-width table: stage, mutation, target, detail; done steps marked so they are not mistaken for work. */
export function renderPlan(steps: PlannedStep[]): string {
  const header = ['#', 'STAGE', 'MUTATION', 'TARGET', 'DETAIL'];
  let n = 0;
  const rows = steps.map((s) => {
    const index = isChange(s) ? String(++n) : s.mutation === 'warning' ? '!!' : '-';
    const mutation = s.alreadyDone ? `${s.mutation} (done)` : s.mutation;
    return [index, s.stage, mutation, s.target, s.when ? `${s.detail}, ${s.when}` : s.detail];
  });
  const widths = header.map((h, i) => Math.min(i === 4 ? 200 : 64, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (c.length > widths[i]! ? `${c.slice(0, widths[i]! - 1)}…` : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const todo = steps.filter((s) => isChange(s) && !s.alreadyDone).length;
  const warnings = steps.filter((s) => s.mutation === 'warning').length;
  const summary = `${todo} mutation(s) to make${warnings ? `, ${warnings} warning(s)` : ''}; nothing was changed.`;
  return [line(header), ...rows.map(line), '', summary].join('\n');
}
