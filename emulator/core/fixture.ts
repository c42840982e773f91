// The fixture an emulator starts from: the estate (projects, keys, service accounts, IAM
// policies), the generative part (models per endpoint, buckets), Google's key retirement dates,
// the IAM propagation delay, latencies and faults. Validated with zod; every error names the
// path of the offending value, e.g. `keys[2].restrictions.apiTargets[0].service: expected string`.

import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { BucketFixtureSchema, ModelFixtureSchema } from '../model/fixture';
import { UNAUTHENTICATED_MESSAGE } from './errors';
import { issuerUriProblem, providerProblem, wifIdProblem } from './workload-identity';

export const SURFACES = [
  'apikeys',
  'iam',
  'resourcemanager',
  'iamcredentials',
  'oauth2',
  'metadata',
  'gemini',
  'vertex',
  'monitoring',
  'storage',
  'sts',
  'run',
] as const;
const SurfaceSchema = z.enum(SURFACES);

export const ProjectIdSchema = z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'a project id (6–30 lowercase letters, digits, hyphens)');
const ProjectNumberSchema = z
  .union([z.string(), z.number().int()])
  .transform(String)
  .pipe(z.string().regex(/^[1-9][0-9]{5,18}$/, 'a project number'));
export const KeyIdSchema = z
  .string()
  .regex(/^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a key id matching [a-z]([a-z0-9-]{0,61}[a-z0-9])?');
export const AccountIdSchema = z.string().regex(/^[a-z]([-a-z0-9]{4,28}[a-z0-9])$/, 'an account id (6–30 chars, [a-z]([-a-z0-9]*[a-z0-9]))');
const RoleSchema = z.string().regex(/^(roles|projects\/[^/]+\/roles|organizations\/[^/]+\/roles)\/[A-Za-z0-9_.]+$/, 'a role such as roles/aiplatform.user');
export const MemberSchema = z
  .string()
  .regex(/^(allUsers|allAuthenticatedUsers|(user|serviceAccount|group|domain|principal|principalSet|deleted:serviceAccount|deleted:user|deleted:group|projectOwner|projectEditor|projectViewer):.+)$/, 'a member such as serviceAccount:name@project.iam.gserviceaccount.com');
const InstantSchema = z
  .union([z.string(), z.date()])
  .transform((value, ctx) => {
    const date = value instanceof Date ? value : new Date(value);
    if (Number.isNaN(date.getTime())) {
      ctx.addIssue({ code: 'custom', message: 'expected an ISO date such as 2026-06-19 or 2026-06-19T00:00:00Z' });
      return z.NEVER;
    }
    return date;
  });

/** API Keys v2 `Restrictions`: at most one application restriction, plus API targets. */
export const RestrictionsSchema = z
  .object({
    browserKeyRestrictions: z.object({ allowedReferrers: z.array(z.string()).default([]) }).optional(),
    serverKeyRestrictions: z.object({ allowedIps: z.array(z.string()).default([]) }).optional(),
    androidKeyRestrictions: z
      .object({
        allowedApplications: z.array(z.object({ sha1Fingerprint: z.string(), packageName: z.string() })).default([]),
      })
      .optional(),
    iosKeyRestrictions: z.object({ allowedBundleIds: z.array(z.string()).default([]) }).optional(),
    apiTargets: z.array(z.object({ service: z.string().min(1), methods: z.array(z.string()).optional() })).optional(),
  })
  .strict()
  .superRefine((value, ctx) => {
    const kinds = ['browserKeyRestrictions', 'serverKeyRestrictions', 'androidKeyRestrictions', 'iosKeyRestrictions'] as const;
    if (kinds.filter((kind) => value[kind] !== undefined).length > 1) {
      ctx.addIssue({ code: 'custom', message: 'at most one application restriction (browser, server, android, ios)' });
    }
  });
export type Restrictions = z.output<typeof RestrictionsSchema>;

const BindingSchema = z.object({
  role: RoleSchema,
  members: z.array(MemberSchema).min(1),
  condition: z.object({ title: z.string(), description: z.string().optional(), expression: z.string() }).optional(),
});

const PolicyFixtureSchema = z.object({ bindings: z.array(BindingSchema).default([]) });

const ProjectFixtureSchema = z.object({
  id: ProjectIdSchema,
  number: ProjectNumberSchema,
  /** Extra project bindings besides the service accounts' `roles` (users, groups). */
  iamPolicy: PolicyFixtureSchema.default({ bindings: [] }),
});

const ServiceAccountFixtureSchema = z.object({
  project: ProjectIdSchema,
  accountId: AccountIdSchema,
  displayName: z.string().max(100).optional(),
  description: z.string().max(256).optional(),
  uniqueId: z.string().regex(/^[0-9]{21}$/, 'a 21-digit unique id').optional(),
  disabled: z.boolean().default(false),
  /** Roles granted to this account on its project. */
  roles: z.array(RoleSchema).default([]),
  /** The account's own IAM policy (e.g. who may mint its tokens). */
  iamPolicy: PolicyFixtureSchema.optional(),
  /** Gets its own metadata server at start, so a process can run as it through ADC. */
  attachable: z.boolean().default(false),
  /** Gets a key the emulator signs with; written by `--credentials-dir`. */
  downloadableKey: z.boolean().default(false),
});

const ApiKeyFixtureSchema = z.object({
  project: ProjectIdSchema,
  keyId: KeyIdSchema,
  displayName: z.string().max(63).optional(),
  restrictions: RestrictionsSchema.optional(),
  annotations: z.record(z.string(), z.string()).default({}),
  /** Makes this an auth key (`AQ.` prefix) bound to the account. */
  serviceAccountEmail: z.email().optional(),
  /** A fixed key string; generated in Google's format when absent. */
  keyString: z.string().min(10).optional(),
  createTime: InstantSchema.optional(),
  deleteTime: InstantSchema.optional(),
});

/** An OIDC provider of a workload identity pool, in the IAM v1 JSON shape. */
const ProviderFixtureSchema = z.object({
  providerId: z.string(),
  displayName: z.string().optional(),
  description: z.string().optional(),
  disabled: z.boolean().default(false),
  attributeMapping: z.record(z.string(), z.string()),
  attributeCondition: z.string().optional(),
  oidc: z.object({ issuerUri: z.string(), allowedAudiences: z.array(z.string()).default([]), jwksJson: z.string().optional() }),
  deleteTime: InstantSchema.optional(),
});

const PoolFixtureSchema = z.object({
  project: ProjectIdSchema,
  poolId: z.string(),
  displayName: z.string().max(32).optional(),
  description: z.string().max(256).optional(),
  disabled: z.boolean().default(false),
  deleteTime: InstantSchema.optional(),
  providers: z.array(ProviderFixtureSchema).default([]),
});

/** An issuer the emulator simulates besides GitHub's and gitlab.com (always there). */
const OidcIssuerFixtureSchema = z.object({
  issuer: z.string(),
  /** github: GitHub Enterprise Server shaped; gitlab: a self-managed GitLab; generic: any other. */
  kind: z.enum(['github', 'gitlab', 'generic']).default('generic'),
});

const CloudRunFixtureSchema = z.object({
  project: ProjectIdSchema,
  location: z.string().regex(/^[a-z]+-[a-z]+[0-9]+$/, 'a region such as us-central1'),
  name: z.string().regex(/^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$/, 'a Cloud Run name (lowercase letters, digits, hyphens; up to 49)'),
  /** The runtime account; absent means the Compute Engine default account. */
  serviceAccount: z.email().optional(),
  image: z.string().default('us-docker.pkg.dev/cloudrun/container/job:latest'),
  labels: z.record(z.string(), z.string()).default({}),
});

const LatencySchema = z.object({ fixedMs: z.number().nonnegative().default(0), jitterMs: z.number().nonnegative().default(0) });

/** Fault settings of one surface. */
export const SurfaceFaultSchema = z.object({
  /** Share of calls (0–1) answered with that HTTP status, Google-shaped. */
  errorRates: z
    .object({ '429': z.number().min(0).max(1).default(0), '500': z.number().min(0).max(1).default(0), '503': z.number().min(0).max(1).default(0) })
    .partial()
    .default({}),
  /** Fail the next N calls with `status`. */
  failNext: z.object({ count: z.number().int().min(0).max(1_000_000), status: z.union([z.literal(429), z.literal(500), z.literal(503)]).default(503) }).optional(),
  /** Added to every call. */
  latencyMs: z.number().nonnegative().max(120_000).default(0),
  /** Holds the answer to a change after the change is made (and audited): a response lost in flight. */
  mutationResponseDelayMs: z.number().nonnegative().max(120_000).default(0),
});
export type SurfaceFault = z.output<typeof SurfaceFaultSchema>;

/** The whole fixture. */
export const FixtureSchema = z
  .object({
    projects: z.array(ProjectFixtureSchema).min(1),
    serviceAccounts: z.array(ServiceAccountFixtureSchema).default([]),
    keys: z.array(ApiKeyFixtureSchema).default([]),
    retirement: z
      .object({
        /** From this instant the Gemini API rejects unrestricted standard keys (Google: 2026-06-19). */
        unrestrictedKeysRejectedFrom: InstantSchema.optional(),
        /** From this instant it rejects every standard key (Google: September 2026, day unpublished). */
        standardKeysRejectedFrom: InstantSchema.optional(),
      })
      .default({}),
    /** What a retired key gets. Google has not documented it; the default is the reported shape. */
    rejection: z
      .object({
        httpStatus: z.number().int().min(400).max(599).default(401),
        status: z.string().default('UNAUTHENTICATED'),
        reason: z.string().default('ACCESS_TOKEN_TYPE_UNSUPPORTED'),
        message: z.string().default(UNAUTHENTICATED_MESSAGE),
      })
      .default({ httpStatus: 401, status: 'UNAUTHENTICATED', reason: 'ACCESS_TOKEN_TYPE_UNSUPPORTED', message: UNAUTHENTICATED_MESSAGE }),
    /** How long a new IAM binding takes to take effect where propagation is modelled (Google: ~2 min, up to 7). */
    iamPropagationDelaySeconds: z.number().nonnegative().default(0),
    /** Added latency per surface. */
    latencies: z.partialRecord(SurfaceSchema, LatencySchema).default({}),
    faults: z.partialRecord(SurfaceSchema, SurfaceFaultSchema).default({}),
    apiKeys: z
      .object({
        /** Google's cap is unconfirmed; 300 is the working assumption. */
        maxPageSize: z.number().int().positive().default(300),
        /** How many operations.get polls a key mutation stays `done:false` for (0: done at once). */
        pendingOperationPolls: z.number().int().min(0).max(10).default(0),
      })
      .default({ maxPageSize: 300, pendingOperationPolls: 0 }),
    models: ModelFixtureSchema.default(ModelFixtureSchema.parse({})),
    buckets: BucketFixtureSchema.default([]),
    workloadIdentityPools: z.array(PoolFixtureSchema).default([]),
    oidcIssuers: z.array(OidcIssuerFixtureSchema).default([]),
    cloudRun: z
      .object({ jobs: z.array(CloudRunFixtureSchema).default([]), services: z.array(CloudRunFixtureSchema).default([]) })
      .default({ jobs: [], services: [] }),
  })
  .superRefine((fixture, ctx) => {
    const projectIds = new Set<string>();
    const numbers = new Set<string>();
    fixture.projects.forEach((project, i) => {
      if (projectIds.has(project.id)) ctx.addIssue({ code: 'custom', path: ['projects', i, 'id'], message: `duplicate project id ${project.id}` });
      if (numbers.has(project.number)) ctx.addIssue({ code: 'custom', path: ['projects', i, 'number'], message: `duplicate project number ${project.number}` });
      projectIds.add(project.id);
      numbers.add(project.number);
    });
    const emails = new Set<string>();
    fixture.serviceAccounts.forEach((account, i) => {
      if (!projectIds.has(account.project)) ctx.addIssue({ code: 'custom', path: ['serviceAccounts', i, 'project'], message: `unknown project ${account.project}` });
      const email = `${account.accountId}@${account.project}.iam.gserviceaccount.com`;
      if (emails.has(email)) ctx.addIssue({ code: 'custom', path: ['serviceAccounts', i, 'accountId'], message: `duplicate service account ${email}` });
      emails.add(email);
    });
    const keyNames = new Set<string>();
    const keyStrings = new Set<string>();
    fixture.keys.forEach((key, i) => {
      if (!projectIds.has(key.project)) ctx.addIssue({ code: 'custom', path: ['keys', i, 'project'], message: `unknown project ${key.project}` });
      const name = `${key.project}/${key.keyId}`;
      if (keyNames.has(name)) ctx.addIssue({ code: 'custom', path: ['keys', i, 'keyId'], message: `duplicate key id ${key.keyId}` });
      keyNames.add(name);
      if (key.keyString !== undefined) {
        if (keyStrings.has(key.keyString)) ctx.addIssue({ code: 'custom', path: ['keys', i, 'keyString'], message: 'duplicate key string' });
        keyStrings.add(key.keyString);
      }
    });
    fixture.buckets.forEach((bucket, i) => {
      if (!projectIds.has(bucket.project)) ctx.addIssue({ code: 'custom', path: ['buckets', i, 'project'], message: `unknown project ${bucket.project}` });
    });
    const poolNames = new Set<string>();
    fixture.workloadIdentityPools.forEach((pool, i) => {
      const at = ['workloadIdentityPools', i];
      if (!projectIds.has(pool.project)) ctx.addIssue({ code: 'custom', path: [...at, 'project'], message: `unknown project ${pool.project}` });
      const idProblem = wifIdProblem('pool', pool.poolId);
      if (idProblem) ctx.addIssue({ code: 'custom', path: [...at, 'poolId'], message: idProblem });
      if (poolNames.has(`${pool.project}/${pool.poolId}`)) ctx.addIssue({ code: 'custom', path: [...at, 'poolId'], message: `duplicate pool id ${pool.poolId}` });
      poolNames.add(`${pool.project}/${pool.poolId}`);
      const providerIds = new Set<string>();
      pool.providers.forEach((provider, j) => {
        const pat = [...at, 'providers', j];
        const problem = wifIdProblem('provider', provider.providerId) ?? providerProblem(provider);
        if (problem) ctx.addIssue({ code: 'custom', path: pat, message: problem });
        if (providerIds.has(provider.providerId)) ctx.addIssue({ code: 'custom', path: [...pat, 'providerId'], message: `duplicate provider id ${provider.providerId}` });
        providerIds.add(provider.providerId);
      });
    });
    fixture.oidcIssuers.forEach((issuer, i) => {
      const problem = issuerUriProblem(issuer.issuer);
      if (problem) ctx.addIssue({ code: 'custom', path: ['oidcIssuers', i, 'issuer'], message: problem });
    });
    for (const kind of ['jobs', 'services'] as const) {
      fixture.cloudRun[kind].forEach((resource, i) => {
        if (!projectIds.has(resource.project)) ctx.addIssue({ code: 'custom', path: ['cloudRun', kind, i, 'project'], message: `unknown project ${resource.project}` });
      });
    }
  });

export type Fixture = z.output<typeof FixtureSchema>;
export type FixtureInput = z.input<typeof FixtureSchema>;

/** A fixture that failed validation; `issues` are `path: problem` lines. */
export class FixtureError extends Error {
  constructor(
    readonly origin: string,
    readonly issues: string[],
  ) {
    super(`invalid fixture ${origin}:\n  ${issues.join('\n  ')}`);
    this.name = 'FixtureError';
  }
}

/** `keys[2].restrictions.apiTargets[0].service` from a zod path. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}

/** Zod issues as `path: problem` lines. */
export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${formatIssuePath(issue.path)}: ${issue.message.replace(/^Invalid input: /, '')}`);
}

/** Validates an already-parsed fixture document. */
export function parseFixture(raw: unknown, origin = 'fixture'): Fixture {
  const result = FixtureSchema.safeParse(raw);
  if (!result.success) throw new FixtureError(origin, formatIssues(result.error));
  return result.data;
}

/** Parses YAML or JSON fixture text. */
export function parseFixtureText(text: string, origin = 'fixture'): Fixture {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new FixtureError(origin, [`(root): not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`]);
  }
  return parseFixture(raw, origin);
}

/** Reads and validates a fixture file (YAML or JSON). */
export async function loadFixtureFile(path: string): Promise<Fixture> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new FixtureError(path, [`(root): cannot read: ${(err as Error).message}`]);
  }
  return parseFixtureText(text, path);
}
