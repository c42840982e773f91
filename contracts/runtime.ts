// Where a pipeline's job runs, and what Workload Identity Federation it needs there: the spec's
// `runtime` section, and the pool, provider (issuer, attribute mapping, a condition pinned to
// numeric ids) and IAM member derived from it. Pure, so the workflow's identity stage, `keyless
// plan`, `keyless credentials` and `keyless doctor` derive the same names and rules.

import { z } from 'zod';

/** GitHub Actions' OIDC issuer, shared by every repository on github.com. */
export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';
/** GitLab.com's issuer, shared by every project on gitlab.com. */
export const GITLAB_ISSUER = 'https://gitlab.com';

/** The pool keyless creates (or adopts) once per project for its federated runtimes. */
export const DEFAULT_POOL_ID = 'keyless';

/** The role that lets a federated principal act as a service account. */
export const WORKLOAD_IDENTITY_USER_ROLE = 'roles/iam.workloadIdentityUser';

/** Google's rule for pool and provider ids: 4–32 characters of [a-z0-9-], not starting with `gcp-`. */
const wifId = (field: string) =>
  z
    .string()
    .regex(/^[a-z0-9-]{4,32}$/, `${field} must be 4-32 characters: lowercase letters, digits and hyphens`)
    .refine((id) => !id.startsWith('gcp-'), { message: `${field} may not start with "gcp-": Google reserves that prefix` });

const numericId = (field: string, howToFind: string) =>
  z
    .union([z.string(), z.number()], { message: `${field} is required: the numeric id (names can be re-registered, ids cannot); ${howToFind}` })
    .transform(String)
    .refine((id) => /^[1-9][0-9]{0,19}$/.test(id), { message: `${field} must be a numeric id (digits only); ${howToFind}` });

const httpsUrl = (field: string) =>
  z.string().refine(
    (url) => {
      try {
        const parsed = new URL(url);
        return parsed.protocol === 'https:' && !parsed.search && !parsed.hash;
      } catch {
        return false;
      }
    },
    { message: `${field} must be an https:// URL (an OIDC issuer), without query or fragment` },
  );

const claimValue = z.string().min(1).max(256);

export const GithubActionsRuntimeSchema = z.strictObject({
  kind: z.literal('github-actions'),
  /** `owner/name`, as GitHub spells it. */
  repository: z.string().regex(/^[A-Za-z0-9-]{1,39}\/[A-Za-z0-9._-]{1,100}$/, 'repository must be owner/name, e.g. acme/nightly-jobs'),
  repositoryId: numericId('repositoryId', 'find it with `gh api repos/OWNER/REPO --jq .id`'),
  /** Pins the owner too (an org id survives a repository transfer to a namesake). */
  repositoryOwnerId: numericId('repositoryOwnerId', 'find it with `gh api repos/OWNER/REPO --jq .owner.id`').optional(),
  /** Only runs of this ref, e.g. refs/heads/main. */
  ref: z.string().regex(/^refs\/(heads|tags)\/\S{1,200}$/, 'ref must be a full ref such as refs/heads/main').optional(),
  /** Only jobs of this deployment environment. */
  environment: claimValue.optional(),
  /** Only this workflow, e.g. acme/nightly-jobs/.github/workflows/nightly.yml@refs/heads/main. */
  workflowRef: claimValue.optional(),
  pool: wifId('runtime.pool').default(DEFAULT_POOL_ID),
  /** Default: derived from the pipeline's name (one provider per pipeline, so one rollback never breaks another). */
  provider: wifId('runtime.provider').optional(),
});

export const GitlabCiRuntimeSchema = z.strictObject({
  kind: z.literal('gitlab-ci'),
  projectPath: z.string().regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/, 'projectPath must be group[/subgroup]/project, e.g. acme/jobs/nightly'),
  projectId: numericId('projectId', "find it on the project's overview page or with `glab api projects/<url-encoded path> | jq .id`"),
  issuer: httpsUrl('runtime.issuer').default(GITLAB_ISSUER),
  ref: claimValue.optional(),
  pool: wifId('runtime.pool').default(DEFAULT_POOL_ID),
  provider: wifId('runtime.provider').optional(),
});

export const OidcRuntimeSchema = z.strictObject({
  kind: z.literal('oidc'),
  issuer: httpsUrl('runtime.issuer'),
  /** The `aud` values the job's tokens carry. */
  audiences: z.array(claimValue, { message: 'runtime.audiences must list the audiences of the job\'s tokens' }).min(1, 'runtime.audiences must list at least one audience of the job\'s tokens').max(10),
  /** Pins the token's `sub` exactly. */
  subject: z.string().min(1).max(127).optional(),
  /** Claim/value pairs every admitted token must carry. */
  claims: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'runtime.claims names must be lowercase claim names such as namespace or service_account'), claimValue).optional(),
  pool: wifId('runtime.pool').default(DEFAULT_POOL_ID),
  provider: wifId('runtime.provider').optional(),
});

const email = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}@[a-z0-9.-]+\.gserviceaccount\.com$/, 'runtime.serviceAccount must be a service account email such as job@my-project.iam.gserviceaccount.com');

export const GoogleRuntimeSchema = z.strictObject({
  kind: z.literal('google'),
  /** The account the job runs as (Cloud Run, Cloud Functions, GCE, GKE Workload Identity). */
  serviceAccount: email.optional(),
  /** A Cloud Run job whose account keyless reads from the Cloud Run Admin API. */
  cloudRunJob: z.strictObject({ name: z.string().regex(/^[a-z][a-z0-9-]{0,61}[a-z0-9]$/, 'runtime.cloudRunJob.name must be a Cloud Run job name'), location: z.string().regex(/^[a-z]+-[a-z]+[0-9]+$/, 'runtime.cloudRunJob.location must be a region such as us-central1') }).optional(),
  /** The account lives in another project (keyless still binds the Vertex role in this one). */
  accountInAnotherProject: z.boolean().default(false),
});

export const ExternalRuntimeSchema = z.strictObject({ kind: z.literal('external') });

/** Where the job runs. `external`: the operator arranges its credentials (the default). */
export const RuntimeSchema = z
  .discriminatedUnion('kind', [GithubActionsRuntimeSchema, GitlabCiRuntimeSchema, OidcRuntimeSchema, GoogleRuntimeSchema, ExternalRuntimeSchema], {
    message: 'runtime.kind must be one of: github-actions, gitlab-ci, oidc, google, external',
  })
  .superRefine((runtime, ctx) => {
    if (runtime.kind === 'google' && Boolean(runtime.serviceAccount) === Boolean(runtime.cloudRunJob)) {
      ctx.addIssue({ code: 'custom', path: ['serviceAccount'], message: 'a google runtime names the account it runs as: give runtime.serviceAccount or runtime.cloudRunJob (one of them)' });
    }
    if (runtime.kind === 'oidc') {
      const pins = Object.keys(runtime.claims ?? {});
      if (!runtime.subject && pins.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['claims'], message: 'an oidc runtime must pin its tokens: give runtime.subject or runtime.claims, or every token of the issuer would be admitted' });
      }
      const shared = sharedIssuer(runtime.issuer);
      if (shared && !pins.some((claim) => shared.idClaims.includes(claim))) {
        ctx.addIssue({
          code: 'custom',
          path: ['claims'],
          message: `${runtime.issuer} is shared by every ${shared.who}: pin a numeric id claim (${shared.idClaims.join(' or ')}) in runtime.claims, or use runtime.kind ${shared.kind}`,
        });
      }
    }
  });

export type RuntimeInput = z.input<typeof RuntimeSchema>;
export type Runtime = z.output<typeof RuntimeSchema>;
export type FederatedRuntime = Extract<Runtime, { kind: 'github-actions' | 'gitlab-ci' | 'oidc' }>;

/** The runtimes whose job gets its identity through Workload Identity Federation. */
export function isFederated(runtime: Runtime): runtime is FederatedRuntime {
  return runtime.kind === 'github-actions' || runtime.kind === 'gitlab-ci' || runtime.kind === 'oidc';
}

/** Issuers shared by all their users, where only a numeric id tells one user from another. */
function sharedIssuer(issuer: string): { who: string; idClaims: string[]; kind: string } | undefined {
  const normalized = issuer.replace(/\/+$/, '');
  if (normalized === GITHUB_ISSUER) return { who: 'repository on github.com', idClaims: ['repository_id', 'repository_owner_id'], kind: 'github-actions' };
  if (normalized === GITLAB_ISSUER) return { who: 'project on gitlab.com', idClaims: ['project_id', 'namespace_id'], kind: 'gitlab-ci' };
  return undefined;
}

/** What a federated runtime needs from IAM: the pool, the provider and the member bound on the account. */
export interface WorkloadIdentityPlan {
  poolId: string;
  providerId: string;
  issuer: string;
  /** Empty: tokens must be addressed to the provider itself (`//iam.googleapis.com/<provider>`). */
  allowedAudiences: string[];
  attributeMapping: Record<string, string>;
  attributeCondition: string;
  /** The member granted roles/iam.workloadIdentityUser on the account, for a project number. */
  member(projectNumber: string): string;
}

/** The pool's resource name. */
export function poolName(projectNumber: string, poolId: string): string {
  return `projects/${projectNumber}/locations/global/workloadIdentityPools/${poolId}`;
}

/** The provider's resource name (what a credential configuration's audience names). */
export function providerName(projectNumber: string, poolId: string, providerId: string): string {
  return `${poolName(projectNumber, poolId)}/providers/${providerId}`;
}

/** The audience a job sends to STS, and the one GitHub's and GitLab's tokens are asked for. */
export function stsAudience(projectNumber: string, poolId: string, providerId: string): string {
  return `//iam.googleapis.com/${providerName(projectNumber, poolId, providerId)}`;
}

/** A pipeline's default provider id: its own name, or a shortened one with a stable hash when longer than Google allows. */
export function defaultProviderId(pipeline: string): string {
  const id = pipeline.startsWith('gcp-') ? `kl-${pipeline}` : pipeline;
  if (id.length >= 4 && id.length <= 32) return id;
  if (id.length < 4) return `${id}-kl`.padEnd(4, '0');
  return `${id.slice(0, 23).replace(/-+$/, '')}-${fnv32(pipeline)}`;
}

/** The pool, provider and member a federated runtime needs; the condition always pins a numeric id or the exact subject. */
export function workloadIdentityPlan(runtime: FederatedRuntime, pipeline: string): WorkloadIdentityPlan {
  const providerId = runtime.provider ?? defaultProviderId(pipeline);
  const set = (poolId: string, attribute: string, value: string) => (projectNumber: string) =>
    `principalSet://iam.googleapis.com/${poolName(projectNumber, poolId)}/attribute.${attribute}/${value}`;
  switch (runtime.kind) {
    case 'github-actions': {
      const pins: [string, string | undefined][] = [
        ['repository_id', runtime.repositoryId],
        ['repository_owner_id', runtime.repositoryOwnerId],
        ['ref', runtime.ref],
        ['environment', runtime.environment],
        ['workflow_ref', runtime.workflowRef],
      ];
      return {
        poolId: runtime.pool,
        providerId,
        issuer: GITHUB_ISSUER,
        allowedAudiences: [],
        attributeMapping: mapping(['repository', ...pins.filter(([, v]) => v !== undefined).map(([claim]) => claim)]),
        attributeCondition: condition(pins),
        member: set(runtime.pool, 'repository_id', runtime.repositoryId),
      };
    }
    case 'gitlab-ci':
      return {
        poolId: runtime.pool,
        providerId,
        issuer: runtime.issuer,
        allowedAudiences: [],
        attributeMapping: mapping(['project_path', 'project_id', ...(runtime.ref ? ['ref'] : [])]),
        attributeCondition: condition([
          ['project_id', runtime.projectId],
          ['ref', runtime.ref],
        ]),
        member: set(runtime.pool, 'project_id', runtime.projectId),
      };
    case 'oidc': {
      const claims = Object.entries(runtime.claims ?? {}).sort(([a], [b]) => a.localeCompare(b));
      const pins: [string, string | undefined][] = [['sub', runtime.subject], ...claims];
      const [firstClaim, firstValue] = claims[0] ?? [];
      return {
        poolId: runtime.pool,
        providerId,
        issuer: runtime.issuer,
        allowedAudiences: runtime.audiences,
        attributeMapping: mapping(claims.map(([claim]) => claim)),
        attributeCondition: condition(pins),
        member: runtime.subject
          ? (projectNumber) => `principal://iam.googleapis.com/${poolName(projectNumber, runtime.pool)}/subject/${runtime.subject}`
          : set(runtime.pool, firstClaim!, firstValue!),
      };
    }
  }
}

/** google.subject from `sub`, and one attribute per claim keyless reads or pins. */
function mapping(claims: string[]): Record<string, string> {
  return Object.fromEntries([['google.subject', 'assertion.sub'], ...[...new Set(claims)].map((claim) => [`attribute.${claim}`, `assertion.${claim}`])]);
}

/** Every pinned claim equal to its value; claim values are quoted as CEL string literals. */
function condition(pins: [string, string | undefined][]): string {
  return pins
    .filter((pin): pin is [string, string] => pin[1] !== undefined)
    .map(([claim, value]) => `assertion.${claim} == ${celString(value)}`)
    .join(' && ');
}

function celString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** FNV-1a, 8 hex digits: a short, stable suffix. */
function fnv32(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, '0');
}
