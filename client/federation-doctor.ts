// `keyless doctor` inside a federated job: the job's own chain (its OIDC token, STS, impersonation
// of the pipeline's account, Vertex), walked with google/federation.ts exactly as the job's
// libraries walk it, and the first broken link named with its fix. The fix comes from Google's own
// error text (STS says whether the condition, the audience or the issuer refused the token) and
// from the token's claims set beside what the spec pins.

import { readFile } from 'node:fs/promises';
import { ExternalAccountClient } from 'google-auth-library';
import { WORKLOAD_IDENTITY_USER_ROLE, isFederated, poolName, workloadIdentityPlan, type FederatedRuntime, type Runtime } from '../contracts/runtime';
import { endpointConfigFromEnv } from '../google/endpoints';
import { walkFederatedChain, type FederationStep } from '../google/federation';
import type { Finding } from './commands/doctor';
import { configurationFor, type FederatedIdentity } from './commands/credentials';

type NewFinding = Omit<Finding, 'fix'> & { fix?: string };

/** What doctor knows about the job's intended identity, from the spec when given. */
export interface FederationExpectation {
  pipeline?: string;
  project?: string;
  runtime?: Runtime;
  serviceAccount?: string;
  /** Needed to build the configuration from the spec when the job has none (there is no one to ask inside the job). */
  projectNumber?: string;
}

/** The job's credential configuration, as doctor will walk it. */
export type FederationSetup =
  /** Not a federated job: ADC is checked the ordinary way. */
  | { kind: 'none' }
  /** No chain to walk: what is missing is already a finding. */
  | { kind: 'broken'; findings: NewFinding[] }
  | { kind: 'configuration'; config: Record<string, unknown>; audience: string; serviceAccount?: string; findings: NewFinding[] };

/** A setup with no chain to walk: one blocking finding that says what is missing and how to fix it. */
function broken(check: NewFinding['check'], message: string, fix: string): FederationSetup {
  return { kind: 'broken', findings: [{ check, ok: false, blocking: true, message, fix }] };
}

/** Finds the configuration the job's libraries will load (GOOGLE_APPLICATION_CREDENTIALS), or builds one from the spec inside a GitHub job. */
export async function resolveFederation(env: Record<string, string | undefined>, expect: FederationExpectation): Promise<FederationSetup> {
  const runtime = expect.runtime && isFederated(expect.runtime) ? expect.runtime : undefined;
  const path = env.GOOGLE_APPLICATION_CREDENTIALS?.trim();
  const loaded = path ? await readExternalAccount(path) : undefined;
  if (loaded) {
    const findings: NewFinding[] = [];
    const audience = String(loaded.audience ?? '');
    const serviceAccount = impersonatedAccount(loaded);
    findings.push({ check: 'adc', ok: true, blocking: false, message: `GOOGLE_APPLICATION_CREDENTIALS (${path}) is an external_account configuration: Workload Identity Federation through ${audience.replace(/^\/\/iam\.googleapis\.com\//, '')}${serviceAccount ? `, acting as ${serviceAccount}` : ''}` });
    if (!serviceAccount) {
      findings.push({
        check: 'workload-identity',
        ok: false,
        blocking: false,
        message: 'the configuration has no service_account_impersonation_url: calls go as the federated principal itself (direct resource access), not as the pipeline\'s account, so the canary (which counts the account\'s calls) will not see them',
        fix: `regenerate it with keyless credentials ${expect.pipeline ?? '<pipeline>'}`,
      });
    }
    if (runtime && expect.pipeline) {
      const plan = workloadIdentityPlan(runtime, expect.pipeline);
      const wanted = `/workloadIdentityPools/${plan.poolId}/providers/${plan.providerId}`;
      if (!audience.endsWith(wanted)) {
        findings.push({ check: 'workload-identity', ok: false, blocking: true, message: `the configuration names provider ${audience}, but the spec's runtime uses pool ${plan.poolId} and provider ${plan.providerId}`, fix: `regenerate it with keyless credentials ${expect.pipeline}` });
      }
    }
    return { kind: 'configuration', config: loaded, audience, ...(serviceAccount ? { serviceAccount } : {}), findings };
  }
  if (!runtime || !expect.pipeline) return { kind: 'none' };

  const snippet = runtime.kind === 'oidc' ? 'json' : runtime.kind;
  if (runtime.kind === 'github-actions' && !env.ACTIONS_ID_TOKEN_REQUEST_URL?.trim()) {
    return broken('runtime-token', 'the runner gives this job no ID token: ACTIONS_ID_TOKEN_REQUEST_URL is absent, and GOOGLE_APPLICATION_CREDENTIALS names no external_account configuration', `add \`permissions: id-token: write\` to the job (or the workflow), then authenticate with google-github-actions/auth: keyless credentials ${expect.pipeline} --format github-actions prints the job`);
  }
  if (runtime.kind !== 'github-actions') {
    return broken('workload-identity', `the spec's runtime is ${runtime.kind}, but GOOGLE_APPLICATION_CREDENTIALS names no external_account configuration, so the job's libraries will not federate`, `write the configuration before the job calls Google: keyless credentials ${expect.pipeline} --format ${snippet} prints it`);
  }
  if (!expect.projectNumber || !expect.serviceAccount || !expect.project) {
    return broken('workload-identity', 'GOOGLE_APPLICATION_CREDENTIALS names no external_account configuration, and doctor cannot name the provider to build one without the project number', `pass --project-number (gcloud projects describe ${expect.project ?? '<project>'} --format='value(projectNumber)'), or authenticate the job first (google-github-actions/auth)`);
  }
  // Inside a GitHub job without a configuration yet: walk the one `keyless credentials --source github-runner` would write.
  const plan = workloadIdentityPlan(runtime, expect.pipeline);
  const identity: FederatedIdentity = {
    pipeline: expect.pipeline,
    project: expect.project,
    runtime,
    provider: `${poolName(expect.projectNumber, plan.poolId)}/providers/${plan.providerId}`,
    serviceAccount: expect.serviceAccount,
    attributeCondition: plan.attributeCondition,
    location: 'global',
    from: 'spec',
  };
  const config = configurationFor(identity, { source: { kind: 'github-runner' }, env, endpoints: endpointConfigFromEnv(env) });
  return {
    kind: 'configuration',
    config,
    audience: String(config.audience),
    serviceAccount: expect.serviceAccount,
    findings: [
      {
        check: 'workload-identity',
        ok: false,
        blocking: false,
        message: 'GOOGLE_APPLICATION_CREDENTIALS names no external_account configuration: the chain is walked with the one built from the spec and this job\'s runner, but the job\'s own libraries will not find it',
        fix: `authenticate the job before it calls Google: google-github-actions/auth (keyless credentials ${expect.pipeline} --format github-actions), or keyless credentials ${expect.pipeline} --source github-runner --output "$RUNNER_TEMP/keyless.json" >> "$GITHUB_ENV"`,
      },
    ],
  };
}

export interface FederationWalk {
  findings: NewFinding[];
  /** The Vertex calls the walk made (doctor names their fixes as for any Vertex call). */
  vertexSteps: FederationStep[];
  /** The account the job acts as once impersonation succeeded. */
  principal?: string;
}

/** Walks the configuration's chain and turns each link into a finding; the first broken one carries the fix. */
export async function walkFederation(
  setup: Extract<FederationSetup, { kind: 'configuration' }>,
  env: Record<string, string | undefined>,
  expect: FederationExpectation,
  target: { project?: string; location?: string; models: string[] },
): Promise<FederationWalk> {
  const findings: NewFinding[] = [];
  const models = target.project && target.location ? target.models : [];
  const steps = await walkFederatedChain(endpointConfigFromEnv(env), setup.config, { project: target.project ?? '', location: target.location ?? '', models });
  const runtime = expect.runtime && isFederated(expect.runtime) ? expect.runtime : undefined;
  for (const step of steps) {
    if (step.link === 'vertex') continue;
    if (step.ok) {
      findings.push({ check: linkCheck(step), ok: true, blocking: false, message: step.detail });
      continue;
    }
    const claims = step.link === 'subject-token' ? undefined : await tokenClaims(setup.config);
    findings.push({ check: linkCheck(step), ok: false, blocking: true, ...explainBroken(step, { setup, env, expect, runtime, claims }) });
  }
  const impersonated = steps.some((s) => s.link === 'impersonation' && s.ok);
  return { findings, vertexSteps: steps.filter((s) => s.link === 'vertex'), ...(impersonated && setup.serviceAccount ? { principal: setup.serviceAccount } : {}) };
}

function linkCheck(step: FederationStep): Finding['check'] {
  return step.link === 'subject-token' ? 'runtime-token' : step.link === 'sts' ? 'sts' : 'impersonation';
}

interface BrokenContext {
  setup: Extract<FederationSetup, { kind: 'configuration' }>;
  env: Record<string, string | undefined>;
  expect: FederationExpectation;
  runtime?: FederatedRuntime;
  claims?: Record<string, unknown>;
}

function explainBroken(step: FederationStep, ctx: BrokenContext): { message: string; fix: string } {
  if (step.link === 'subject-token') return explainSubjectToken(step, ctx);
  if (step.link === 'sts') return explainSts(step, ctx);
  return explainImpersonation(step, ctx);
}

function explainSubjectToken(step: FederationStep, ctx: BrokenContext): { message: string; fix: string } {
  const source = (ctx.setup.config.credential_source ?? {}) as { file?: string; url?: string };
  if (source.file) {
    return {
      message: `the runner gives no token: ${step.detail}`,
      fix: `write the job's ID token to ${source.file} before it calls Google (GitLab: the snippet's printf of its id_tokens variable; Kubernetes: a projected service account token mounted there)`,
    };
  }
  if (!ctx.env.ACTIONS_ID_TOKEN_REQUEST_URL?.trim()) {
    return {
      message: `the runner gives no token (ACTIONS_ID_TOKEN_REQUEST_URL is absent, so GitHub does not let this job ask for one): ${step.detail}`,
      fix: 'add `permissions: id-token: write` to the job (or the workflow)',
    };
  }
  return {
    message: `the runner refused the token request: ${step.detail}`,
    fix: `the configuration's request URL or bearer belongs to another job or run: build it in this job (google-github-actions/auth, or keyless credentials ${ctx.expect.pipeline ?? '<pipeline>'} --source github-runner)`,
  };
}

function explainSts(step: FederationStep, ctx: BrokenContext): { message: string; fix: string } {
  const text = `${step.error?.message ?? ''} ${step.detail}`;
  const provider = ctx.setup.audience.replace(/^\/\/iam\.googleapis\.com\//, '');
  const said = ctx.claims ? ` (the token says ${describeClaims(ctx.claims)})` : '';
  if (/rejected by the attribute condition/i.test(text)) {
    return { message: `STS refused the job's token: the provider's attribute condition rejects it${said}`, fix: conditionFix(ctx) };
  }
  if (/audience in ID Token/i.test(text)) {
    return {
      message: `STS refused the job's token: its audience is not the provider's${said}`,
      fix:
        ctx.runtime?.kind === 'oidc'
          ? `issue the job's token for one of runtime.audiences (${ctx.runtime.audiences.join(', ')}), or add its audience there and re-run the migration`
          : `ask the issuer for audience https://iam.googleapis.com/${provider} (google-github-actions/auth does; GitLab: id_tokens.<variable>.aud), or regenerate the configuration with keyless credentials`,
    };
  }
  if (/issuer in ID Token/i.test(text)) {
    return {
      message: `STS refused the job's token: it comes from another issuer than the provider trusts${said}`,
      fix: 'the spec\'s runtime must name the issuer the job\'s tokens come from (runtime.kind, or runtime.issuer for self-managed GitLab and other issuers); correct it and re-run the migration',
    };
  }
  if (/connecting to the given credential's issuer|verify the ID Token signature/i.test(text)) {
    return {
      message: `STS could not verify the job's token against its issuer's keys: ${step.detail}`,
      fix: 'the issuer must serve OIDC discovery and its JWKS publicly over https; for a private issuer (a Kubernetes cluster) put its JWKS in the provider (oidc.jwksJson)',
    };
  }
  if (/stale to sign-in/i.test(text)) {
    return { message: `STS refused the job's token: it has expired or is not valid yet${said}`, fix: 'fetch or write the token just before the job calls Google (GitHub\'s last 5 minutes; a token file is only as fresh as the step that wrote it)' };
  }
  if (/invalid_target|target service indicated by the "audience"/i.test(text)) {
    const [, pool, id] = /workloadIdentityPools\/([^/]+)\/providers\/([^/]+)$/.exec(provider) ?? [];
    return {
      message: `STS does not know the provider ${provider}: it does not exist, or it or its pool is disabled or deleted`,
      fix: `run the migration (its identity stage makes the provider), or undelete it within 30 days of its deletion: gcloud iam workload-identity-pools providers undelete ${id ?? '<provider>'} --workload-identity-pool=${pool ?? '<pool>'} --location=global${ctx.expect.project ? ` --project=${ctx.expect.project}` : ''}`,
    };
  }
  if (/Invalid value for "audience"/i.test(text)) {
    return { message: `STS refused the configuration's audience ${ctx.setup.audience}`, fix: 'the audience must be //iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>: regenerate it with keyless credentials' };
  }
  return { message: step.detail, fix: 'see STS\'s message; keyless credentials prints the configuration the provider expects' };
}

/** What the condition pins, set beside the token's claims: which pin the job does not meet. */
function conditionFix(ctx: BrokenContext): string {
  const runtime = ctx.runtime;
  const claim = (name: string) => (ctx.claims?.[name] === undefined ? undefined : String(ctx.claims[name]));
  const differ = (pins: [string, string, string | undefined][]) =>
    pins
      .filter(([, , wanted]) => wanted !== undefined)
      .filter(([name, , wanted]) => claim(name) !== wanted)
      .map(([name, field, wanted]) => `${field} is ${wanted} but the token's ${name} is ${claim(name) ?? '(absent)'}`);
  if (runtime?.kind === 'github-actions') {
    const mismatches = differ([
      ['repository_id', 'runtime.repositoryId', runtime.repositoryId],
      ['repository_owner_id', 'runtime.repositoryOwnerId', runtime.repositoryOwnerId],
      ['ref', 'runtime.ref', runtime.ref],
      ['environment', 'runtime.environment', runtime.environment],
      ['workflow_ref', 'runtime.workflowRef', runtime.workflowRef],
    ]);
    return `the job's repository or ref does not match runtime.repositoryId/ref of the spec${mismatches.length ? ` (${mismatches.join('; ')})` : ''}: run it in ${runtime.repository}${runtime.ref ? ` on ${runtime.ref}` : ''}, or correct the spec (gh api repos/OWNER/REPO --jq .id) and re-run the migration`;
  }
  if (runtime?.kind === 'gitlab-ci') {
    const mismatches = differ([
      ['project_id', 'runtime.projectId', runtime.projectId],
      ['ref', 'runtime.ref', runtime.ref],
    ]);
    return `the job's project or ref does not match runtime.projectId/ref of the spec${mismatches.length ? ` (${mismatches.join('; ')})` : ''}: run it in ${runtime.projectPath}${runtime.ref ? ` on ${runtime.ref}` : ''}, or correct the spec and re-run the migration`;
  }
  if (runtime?.kind === 'oidc') {
    const mismatches = differ([['sub', 'runtime.subject', runtime.subject], ...Object.entries(runtime.claims ?? {}).map(([name, value]): [string, string, string] => [name, `runtime.claims.${name}`, value])]);
    return `the job's token does not carry the claims the spec pins${mismatches.length ? ` (${mismatches.join('; ')})` : ''}: correct runtime.subject/claims and re-run the migration`;
  }
  return 'the job\'s repository/ref (GitHub) or project/ref (GitLab) does not match what the provider pins: compare the claims above with its condition (gcloud iam workload-identity-pools providers describe <provider> --workload-identity-pool=<pool> --location=global --format=\'value(attributeCondition)\'), or pass --spec to compare with the spec';
}

function explainImpersonation(step: FederationStep, ctx: BrokenContext): { message: string; fix: string } {
  const account = ctx.setup.serviceAccount ?? '<account>';
  if (step.error?.httpStatus === 403) {
    const member = memberFor(ctx);
    return {
      message: `${step.detail} ${account} does not grant ${WORKLOAD_IDENTITY_USER_ROLE} to the job's principal`,
      fix: `the migration's identity stage grants it (keyless migrate <spec>); by hand: gcloud iam service-accounts add-iam-policy-binding ${account}${ctx.expect.project ? ` --project=${ctx.expect.project}` : ''} --role=${WORKLOAD_IDENTITY_USER_ROLE} --member=${member}`,
    };
  }
  return { message: step.detail, fix: 'see the message; the account must exist and be enabled' };
}

/** The member the binding must name: the spec's, else the one keyless would write for the token's claims. */
function memberFor(ctx: BrokenContext): string {
  const number = /projects\/([0-9]+)\//.exec(ctx.setup.audience)?.[1];
  const pool = /(projects\/[0-9]+\/locations\/global\/workloadIdentityPools\/[^/]+)/.exec(ctx.setup.audience)?.[1];
  if (ctx.runtime && ctx.expect.pipeline && number) return workloadIdentityPlan(ctx.runtime, ctx.expect.pipeline).member(number);
  if (!pool) return '<member>';
  const claims = ctx.claims ?? {};
  if (claims.repository_id !== undefined) return `principalSet://iam.googleapis.com/${pool}/attribute.repository_id/${String(claims.repository_id)}`;
  if (claims.project_id !== undefined) return `principalSet://iam.googleapis.com/${pool}/attribute.project_id/${String(claims.project_id)}`;
  return claims.sub !== undefined ? `principal://iam.googleapis.com/${pool}/subject/${String(claims.sub)}` : '<member>';
}

const SHOWN_CLAIMS = ['iss', 'aud', 'repository', 'repository_id', 'repository_owner_id', 'project_path', 'project_id', 'ref', 'environment', 'workflow_ref', 'sub'];

function describeClaims(claims: Record<string, unknown>): string {
  return SHOWN_CLAIMS.filter((name) => claims[name] !== undefined && claims[name] !== '')
    .map((name) => `${name} ${Array.isArray(claims[name]) ? (claims[name] as unknown[]).join(',') : String(claims[name])}`)
    .join(', ');
}

/** The job's token's claims (never its signature or the token itself), to say which pin it misses. */
async function tokenClaims(config: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
  try {
    const token = await ExternalAccountClient.fromJSON(config as never)!.retrieveSubjectToken();
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

async function readExternalAccount(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as unknown;
    return parsed && typeof parsed === 'object' && (parsed as { type?: unknown }).type === 'external_account' ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    // Unreadable or not JSON: the ordinary ADC check reports it.
    return undefined;
  }
}

function impersonatedAccount(config: Record<string, unknown>): string | undefined {
  const url = typeof config.service_account_impersonation_url === 'string' ? config.service_account_impersonation_url : '';
  return /serviceAccounts\/([^/:]+):generateAccessToken$/.exec(url)?.[1];
}
