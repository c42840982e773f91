// `keyless plan <spec> [--json]`: every mutation a migration of this spec would make, in the order
// the workflow makes them, found with read-only calls. Nothing is written: the plan is how an
// operator reviews a migration (and its blast radius) before starting it.

import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../contracts/errors';
import { routeLocation } from '../../contracts/route';
import type { PipelineSpec } from '../../contracts/spec';
import type { Mutation } from '../../contracts/status';
import { describeGoogleError } from '../../activities/google-errors';
import type { GoogleClients } from '../../activities/google-clients';
import { inspectKey, type KeyInspection } from '../../activities/keys/inventory';
import { GEMINI_API_SERVICE } from '../../activities/keys/model';
import { TOKEN_CREATOR_ROLE, VERTEX_ROLE, serviceAccountEmail } from '../../activities/provision';
import { fileRouteStore, type RouteStore } from '../../activities/route-store';
import { gcsRouteStore } from '../../activities/route-store-gcs';
import { ExitCode, UserError } from '../errors';

/** One thing the migration would do (or a warning about it), in workflow order. */
export interface PlannedStep {
  stage: 'inventory' | 'stopgap' | 'provision' | 'probe' | 'dual-run' | 'canary' | 'finalize';
  /** The mutation kind as the result will record it; `warning` and `note` change nothing. */
  mutation: Mutation['kind'] | 'warning' | 'note';
  target: string;
  detail: string;
  /** True when the cloud already says so: the migration will find it done and write nothing. */
  alreadyDone?: boolean;
}

export interface PlanOptions {
  /** The orchestrator's email, to check its token-creator grant; without it that step is listed as to do. */
  orchestratorEmail?: string;
}

interface PolicyView {
  bindings?: { role?: string | null; members?: string[] | null; condition?: unknown }[] | null;
}

/** Lists the migration's mutations for a validated spec; only read calls reach the cloud. */
export async function planMigration(clients: GoogleClients, spec: PipelineSpec, options: PlanOptions = {}): Promise<PlannedStep[]> {
  const steps: PlannedStep[] = [];
  const key = await inspectForPlan(clients, spec);

  if (key.audit.state === 'deleted') {
    steps.push({ stage: 'inventory', mutation: 'warning', target: spec.apiKey, detail: `the key is deleted (since ${key.audit.deleteTime ?? 'unknown'}): the stopgap and finalize cannot act on it; undelete it first` });
  }
  if (key.sharedWith.length > 0) {
    steps.push({
      stage: 'inventory',
      mutation: 'warning',
      target: spec.apiKey,
      detail: `key shared with ${key.sharedWith.join(', ')}: finalize waits until they are at 100% on Vertex, and the stopgap restriction applies to them too`,
    });
  }
  if (key.audit.blockCandidate) {
    steps.push(
      spec.stopgap
        ? { stage: 'stopgap', mutation: 'key-restricted', target: spec.apiKey, detail: `block candidate: API targets set to ${GEMINI_API_SERVICE}` }
        : { stage: 'stopgap', mutation: 'warning', target: spec.apiKey, detail: 'block candidate and stopgap: false: the key stays refused by Google during the migration' },
    );
  }

  const email = serviceAccountEmail(spec.serviceAccount.accountId, spec.project);
  const account = await readAccount(clients, spec.project, email);
  if (account) {
    steps.push({ stage: 'provision', mutation: 'account-created', target: email, detail: 'exists: adopted (rollback will not delete it)', alreadyDone: true });
  } else if (spec.serviceAccount.create) {
    steps.push({ stage: 'provision', mutation: 'account-created', target: email, detail: `create service account for ${spec.pipeline}` });
  } else {
    steps.push({ stage: 'provision', mutation: 'warning', target: email, detail: 'does not exist and serviceAccount.create is false: the migration would roll back at provision' });
  }

  const member = `serviceAccount:${email}`;
  const projectPolicy = await readPolicy(`the IAM policy of projects/${spec.project}`, async () =>
    (await clients.resourceManager.projects.getIamPolicy({ resource: `projects/${spec.project}`, requestBody: { options: { requestedPolicyVersion: 3 } } })).data as PolicyView,
  );
  const bound = hasPlainBinding(projectPolicy, VERTEX_ROLE, member);
  steps.push({ stage: 'provision', mutation: 'role-granted', target: spec.project, detail: `${VERTEX_ROLE} for ${member}${bound ? ' (already bound)' : ''}`, ...(bound ? { alreadyDone: true } : {}) });

  // A new account has no policy yet: the grant is certainly to do.
  const orchestrator = options.orchestratorEmail;
  const accountPolicy = account && orchestrator
    ? await readPolicy(`the IAM policy of ${email}`, async () =>
        (await clients.iam.projects.serviceAccounts.getIamPolicy({ resource: `projects/${spec.project}/serviceAccounts/${email}`, 'options.requestedPolicyVersion': 3 })).data as PolicyView,
      )
    : undefined;
  const canMint = orchestrator !== undefined && hasPlainBinding(accountPolicy, TOKEN_CREATOR_ROLE, `serviceAccount:${orchestrator}`);
  steps.push({
    stage: 'provision',
    mutation: 'token-creator-granted',
    target: email,
    detail: `${TOKEN_CREATOR_ROLE} for ${orchestrator ?? 'the orchestrator'}${canMint ? ' (already granted)' : ''}`,
    ...(canMint ? { alreadyDone: true } : {}),
  });

  const calls = spec.vertex.models.length * spec.dualRun.prompts.length * spec.dualRun.samples;
  steps.push({
    stage: 'probe',
    mutation: 'note',
    target: `${spec.project}/${spec.vertex.location}`,
    detail: `models ${spec.vertex.models.join(', ')}: one live call each as ${email}, then ${calls} dual-run call(s) per path (key and Vertex)`,
  });

  const location = routeLocation(spec.route.store, spec.pipeline);
  const current = await readCurrentRoute(clients, spec.route.store, location);
  const approval = spec.approvals.cutover ? 'after the cutover approval' : 'without approval (approvals.cutover: false)';
  spec.canary.steps.forEach((step, i) => {
    steps.push({
      stage: 'canary',
      mutation: 'route-published',
      target: location,
      detail: `step ${i + 1}/${spec.canary.steps.length}: ${step.percent}% on Vertex, bake ${step.bake}${i === 0 ? `, ${approval}` : ''}${i === 0 && current ? ` (store now at ${current.vertexPercent}%, generation ${current.generation})` : ''}`,
    });
  });

  const { action, allowedIps } = spec.finalize;
  const when = spec.approvals.finalize ? `after soak ${spec.soak.duration} and the finalize approval` : `after soak ${spec.soak.duration}`;
  steps.push({
    stage: 'finalize',
    mutation: action === 'delete' ? 'key-deleted' : 'key-restricted',
    target: spec.apiKey,
    detail:
      action === 'delete'
        ? `soft-delete the key (undeletable for 30 days), ${when}`
        : action === 'restrict'
          ? `restrict to ${GEMINI_API_SERVICE}, ${when}`
          : `restrict to IPs ${allowedIps!.join(', ')}, ${when}`,
  });
  return steps;
}

/** The key's inspection; a missing key is a spec mistake, said with the field's name. */
async function inspectForPlan(clients: GoogleClients, spec: PipelineSpec): Promise<KeyInspection> {
  try {
    return await inspectKey(clients, { apiKey: spec.apiKey, pipeline: spec.pipeline });
  } catch (err) {
    if (err instanceof ApplicationFailure && err.type === ErrorType.KeyNotFound) {
      throw new UserError(`apiKey ${spec.apiKey} not found`, ExitCode.Config, 'check the key resource name with `keyless inventory --project <p>`');
    }
    if (err instanceof ApplicationFailure) {
      const unavailable = err.type === ErrorType.Transient || err.type === ErrorType.Quota;
      throw new UserError(`reading apiKey ${spec.apiKey}: ${err.message}`, unavailable ? ExitCode.Unavailable : ExitCode.Failed);
    }
    throw err;
  }
}

async function readAccount(clients: GoogleClients, project: string, email: string): Promise<object | undefined> {
  try {
    return (await clients.iam.projects.serviceAccounts.get({ name: `projects/${project}/serviceAccounts/${email}` })).data;
  } catch (err) {
    if (describeGoogleError(err).httpStatus === 404) return undefined;
    throw asUserError(err, `reading service account ${email}`);
  }
}

async function readPolicy(what: string, read: () => Promise<PolicyView>): Promise<PolicyView> {
  try {
    return await read();
  } catch (err) {
    throw asUserError(err, `reading ${what}`);
  }
}

/** The route store's current document, if any; a store the planner cannot read is not a reason to refuse a plan. */
async function readCurrentRoute(clients: GoogleClients, store: string, location: string) {
  const routeStore: RouteStore = store.startsWith('gs://') ? gcsRouteStore(clients.storage) : fileRouteStore;
  return routeStore.read(location).catch(() => undefined);
}

/** The same rule as provision's: only the role's unconditional binding counts. */
function hasPlainBinding(policy: PolicyView | undefined, role: string, member: string): boolean {
  return (policy?.bindings ?? []).some((b) => b.role === role && !b.condition && (b.members ?? []).includes(member));
}

function asUserError(err: unknown, context: string): unknown {
  if (err instanceof UserError) return err;
  const info = describeGoogleError(err);
  if (info.httpStatus === 403) return new UserError(`${context}: permission denied`, ExitCode.Failed, 'the plan needs read access to the key, the account and the project IAM policy');
  if (info.httpStatus === 0) return new UserError(`${context}: the cloud is not answering (${info.message})`, ExitCode.Unavailable, 'check KEYLESS_EMULATOR or your network, then retry');
  return new UserError(`${context}: ${info.httpStatus} ${info.status}: ${info.message}`, ExitCode.Failed);
}

/** A fixed-width table: stage, mutation, target, detail; done steps marked so they are not mistaken for work. */
export function renderPlan(steps: PlannedStep[]): string {
  const header = ['#', 'STAGE', 'MUTATION', 'TARGET', 'DETAIL'];
  let n = 0;
  const rows = steps.map((s) => {
    const isChange = s.mutation !== 'warning' && s.mutation !== 'note';
    const index = isChange ? String(++n) : s.mutation === 'warning' ? '!!' : '-';
    const mutation = s.alreadyDone ? `${s.mutation} (done)` : s.mutation;
    return [index, s.stage, mutation, s.target, s.detail];
  });
  const widths = header.map((h, i) => Math.min(i === 4 ? 200 : 64, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (c.length > widths[i]! ? `${c.slice(0, widths[i]! - 1)}…` : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const todo = steps.filter((s) => s.mutation !== 'warning' && s.mutation !== 'note' && !s.alreadyDone).length;
  const warnings = steps.filter((s) => s.mutation === 'warning').length;
  const summary = `${todo} mutation(s) to make${warnings ? `, ${warnings} warning(s)` : ''}; nothing was changed.`;
  return [line(header), ...rows.map(line), '', summary].join('\n');
}
