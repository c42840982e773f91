// The activities a migration calls, as a contract: their names, inputs and results. Workflows
// proxy this interface (workflows/activities.ts); createActivities (activities/index.ts) must
// satisfy it, so renaming or reshaping an activity breaks both sides at compile time. Inputs and
// results are JSON: they are recorded in workflow histories.

import { z } from 'zod';
import type { IdTokenVerdict } from './identity';
import type { Route, RoutePath } from './route';
import type { FederatedRuntime } from './runtime';
import type { DualRunReport, KeyAudit, KeyRestrictions, KeySnapshot, ProbeReport, TrafficReport } from './reports';
import { DualRunPromptSchema, looksLikeKeyString } from './spec';
import type { UndoResult } from './undo';

// --- keys -------------------------------------------------------------------------------------

export interface InventoryProjectInput {
  project: string;
}

export interface InspectKeyInput {
  /** Key resource name (project id or number). */
  apiKey: string;
  /** The pipeline being migrated; other pipelines on the key are `sharedWith`. */
  pipeline: string;
  /** The spec's project: the key must be one of its keys (named by id or number). */
  project?: string;
}

export interface KeyInspection {
  audit: KeyAudit;
  snapshot: KeySnapshot;
  /** Other pipelines that use the same key (from its annotation). */
  sharedWith: string[];
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

export interface UndeleteKeyInput {
  apiKey: string;
}

export interface UndeleteKeyResult {
  /** False when the key was not deleted. */
  undeleted: boolean;
  etagAfter: string;
}

export interface CheckKeyWorksInput {
  apiKey: string;
  /** A Gemini API model id, e.g. gemini-2.5-flash. */
  model: string;
}

export interface CheckKeyWorksResult {
  ok: boolean;
  httpStatus: number;
  status?: string;
  /** ErrorInfo reason of a rejection, e.g. ACCESS_TOKEN_TYPE_UNSUPPORTED, API_KEY_SERVICE_BLOCKED. */
  reason?: string;
}

export interface UndoKeyChangesInput {
  /** The spec's name for the key (the one the operator knows it by). */
  apiKey: string;
  /** The key as inventory found it. */
  snapshot: KeySnapshot;
  /** The etag keyless itself left with its last change: any other means someone else changed the key. */
  expectedEtag: string;
  /** keyless soft-deleted the key (finalize: delete). */
  deleted: boolean;
}

// --- service accounts and IAM ----------------------------------------------------------------

export interface EnsureServiceAccountInput {
  project: string;
  accountId: string;
  displayName?: string;
  /** False: the account must already exist (the spec adopts one someone else manages). */
  create: boolean;
  /**
   * Who asks (a workflow run). Written into the description of an account we create, so a retry
   * after our own create still reports it as ours.
   */
  owner?: string;
}

export interface EnsureServiceAccountResult {
  email: string;
  uniqueId: string;
  /** True when keyless created it (for this owner), so rollback may delete it. */
  created: boolean;
}

/** A role granted (or found granted) on a policy. */
export interface RoleGrant {
  /** False when the policy already held the binding (nothing written). */
  added: boolean;
  etag: string;
  /** Wall-clock time by which the policy held the binding: the IAM propagation window starts here at the latest. */
  confirmedAt: string;
}

// --- the runtime's identity ------------------------------------------------------------------

/** The account a Google Cloud runtime runs as: named in the spec, or a Cloud Run job's. */
export interface RuntimeAccountInput {
  project: string;
  serviceAccount?: string;
  cloudRunJob?: { name: string; location: string };
  accountInAnotherProject: boolean;
}

export interface RuntimeAccount {
  email: string;
  uniqueId: string;
  /** Where the email came from. */
  source: 'spec' | 'cloud-run-job';
  /** The Compute Engine default account, which often holds Editor on the whole project. */
  computeDefault: boolean;
}

/** What ensuring a workload identity pool or provider found or did. */
export interface EnsuredResource {
  name: string;
  /** keyless created it (or undeleted it) for this workflow run: rollback may delete it. */
  created: boolean;
  /** It was deleted (its id still reserved) and keyless undeleted it. */
  undeleted: boolean;
}

/** The OIDC provider keyless wants in a pool. */
export interface WantedProvider {
  poolName: string;
  providerId: string;
  issuer: string;
  allowedAudiences: string[];
  attributeMapping: Record<string, string>;
  attributeCondition: string;
  displayName?: string;
  /** Who asks (default: the workflow run, inside an activity); marks what keyless creates. */
  owner?: string;
}

/** What the federated chain's probe proved. */
export interface WorkloadIdentityProbe {
  /**
   * `chain`: a runner token of the emulator's issuer went through STS and impersonation to Vertex, as
   * the job will. `configuration`: against Google, where keyless cannot obtain a runner's token, the
   * pool, provider, condition and binding were read back and checked; `keyless doctor` inside the
   * job proves the rest.
   */
  verified: 'chain' | 'configuration';
  checks: { check: string; ok: boolean; detail: string }[];
}

export interface ProbeWorkloadIdentityInput {
  project: string;
  location: string;
  models: string[];
  serviceAccountEmail: string;
  /** The runtime, as the spec gives it (github-actions, gitlab-ci or oidc). */
  runtime: FederatedRuntime;
  providerName: string;
  member: string;
  attributeCondition: string;
  /** When the binding was confirmed: a refusal inside IAM's propagation window is retried, after it is final. */
  grantedAt?: string;
}

// --- probe, dual-run, traffic ----------------------------------------------------------------

export interface ProbeVertexInput {
  project: string;
  location: string;
  models: string[];
  serviceAccountEmail: string;
  /** When the Vertex role (and token-creator grant) was confirmed; the propagation window starts here. */
  roleGrantedAt?: string;
  /** How long a 403 still counts as "not propagated yet" (default ten minutes). */
  propagationWindowMs?: number;
}

const ThresholdsSchema = z.strictObject({
  minSuccessRate: z.number().min(0).max(1).default(1),
  minSimilarity: z.number().min(0).max(1).default(0.8),
  maxLatencyRatio: z.number().positive().default(3),
  allowModelVersionDrift: z.boolean().default(false),
});


const keyResourceName = z
  .string()
  .refine((v) => !looksLikeKeyString(v), { message: 'apiKey must be a key resource name, not a key string' })
  .refine((v) => /^projects\/[a-z0-9-]+\/locations\/global\/keys\/[a-z0-9-]+$/.test(v), {
    message: 'apiKey must be a key resource name: projects/<project>/locations/global/keys/<keyId>',
  });

export const DualRunInputSchema = z.strictObject({
  /** The key's resource name; its string is fetched inside the activity. */
  apiKey: keyResourceName,
  project: z.string().min(1),
  location: z.string().min(1),
  serviceAccountEmail: z.email(),
  models: z.array(z.string().min(1)).min(1).max(10),
  prompts: z.array(DualRunPromptSchema).min(1).max(50),
  samples: z.number().int().min(1).max(20),
  thresholds: ThresholdsSchema.prefault({}),
});
/** What the workflow passes: the spec's dual-run section plus where both paths point. */
export type DualRunInput = z.input<typeof DualRunInputSchema>;

export interface ReadTrafficInput {
  project: string;
  /** The API key's uid (Key.uid), as Monitoring labels it: `apikey:<uid>`. */
  keyUid: string;
  /** The pipeline account's uniqueId: `serviceaccount:<uniqueId>`. */
  serviceAccountUniqueId: string;
  /** ISO times; the window is [windowStart, windowEnd). */
  windowStart: string;
  /** Absent: now, by the cloud's clock (a workflow's clock may differ, e.g. on a time-skipping server). */
  windowEnd?: string;
  /** Also read each credential's latency distribution (request_latencies) of its successful requests. */
  latency?: boolean;
}

// --- routes ----------------------------------------------------------------------------------

/** What publishing a route did. */
export interface PublishOutcome {
  location: string;
  generation: number;
  /** False when the store already held this generation (a retry). */
  written: boolean;
}

/** Every activity a workflow may call. */
export interface KeylessActivities {
  /** Every key of a project, classified as the seed's audit does. Read-only. */
  inventoryProject(input: InventoryProjectInput): Promise<KeyAudit[]>;
  /** One key's audit, its snapshot for compensation, and the other pipelines sharing it. KeyNotFound. */
  inspectKey(input: InspectKeyInput): Promise<KeyInspection>;
  /** Stopgap: API target generativelanguage only (app restriction kept). KeyNotFound, ForeignChange. */
  restrictKeyToGemini(input: RestrictKeyInput): Promise<RestrictKeyResult>;
  /** One live Gemini API call with the key; a rejection is `ok: false`, not a failure. */
  checkKeyWorks(input: CheckKeyWorksInput): Promise<CheckKeyWorksResult>;
  /** Final state: restrict, restrict-ip or soft delete. KeyNotFound, ForeignChange, InvalidSpec. */
  finalizeKey(input: FinalizeKeyInput): Promise<FinalizeKeyResult>;
  /** Compensation: put back the inspected snapshot unless someone else changed the key. ForeignChange. */
  restoreKeySnapshot(input: RestoreKeySnapshotInput): Promise<RestoreKeySnapshotResult>;
  /** Compensation of a delete; no-op when the key is not deleted. KeyNotFound once purged. */
  undeleteKey(input: UndeleteKeyInput): Promise<UndeleteKeyResult>;
  /**
   * Compensation of every change keyless made to the key, as one undo: undelete it if keyless
   * deleted it, then put back the inspected snapshot; a key someone else changed or deleted since
   * is left as found, and the result says what the operator should do.
   */
  undoKeyChanges(input: UndoKeyChangesInput): Promise<UndoResult>;

  /** Creates the pipeline's service account, or adopts it when it already exists. */
  ensureServiceAccount(input: EnsureServiceAccountInput): Promise<EnsureServiceAccountResult>;
  /** Grants roles/aiplatform.user on the project to the member, keeping every other binding. */
  ensureVertexRole(input: { project: string; member: string }): Promise<RoleGrant>;
  /** Whether the project already grants roles/aiplatform.user to the member (read before the grant, to know who owns it). */
  hasVertexRole(input: { project: string; member: string }): Promise<{ held: boolean }>;
  /**
   * Pre-provisioned mode: reads, changing nothing, whether what provision would make is there (the
   * account, its Vertex role, the orchestrator's token-creator grant for the probe and dual-run);
   * each missing piece comes with the command that makes it.
   */
  verifyProvisioned(input: { project: string; serviceAccountEmail: string }): Promise<{ uniqueId?: string; missing: { what: string; fix: string }[] }>;
  /** Lets the orchestrator mint tokens for the pipeline's account (on that account's own policy). */
  ensureTokenCreator(input: { serviceAccountEmail: string; orchestratorEmail?: string }): Promise<RoleGrant & { orchestratorEmail: string }>;
  /** Compensation: removes this member from the unconditional roles/aiplatform.user binding only. */
  removeVertexRole(input: { project: string; member: string }): Promise<{ removed: boolean; etag: string } & UndoResult>;
  /** Compensation: takes back the orchestrator's token-creator grant on an account keyless keeps. */
  removeTokenCreator(input: { serviceAccountEmail: string; orchestratorEmail?: string }): Promise<{ removed: boolean } & UndoResult>;
  /** Compensation: deletes the account keyless created (its own policy goes with it); an account already gone is fine. */
  deleteServiceAccount(input: { email: string }): Promise<{ deleted: boolean } & UndoResult>;
  /** The orchestrator's own identity. */
  whoAmI(): Promise<{ email: string }>;

  /** The project's number, which IAM principals name. */
  projectNumber(input: { project: string }): Promise<{ number: string }>;
  /** The account a Google Cloud runtime already runs as; InvalidSpec when it does not exist or lives in another project unannounced. */
  resolveRuntimeAccount(input: RuntimeAccountInput): Promise<RuntimeAccount>;
  /** Creates the workload identity pool, adopts it, or undeletes it when its id is still reserved. */
  ensureWorkloadIdentityPool(input: { projectNumber: string; poolId: string; owner?: string }): Promise<EnsuredResource>;
  /** Creates (or undeletes) the pipeline's OIDC provider; one that exists with another condition is refused (InvalidSpec). */
  ensureWorkloadIdentityProvider(input: WantedProvider): Promise<EnsuredResource>;
  /** Whether the account already lets the federated member act as it (read before the grant, to know who owns it). */
  hasWorkloadIdentityUser(input: { serviceAccountEmail: string; member: string }): Promise<{ held: boolean }>;
  /** Grants roles/iam.workloadIdentityUser on the account to the federated member. */
  ensureWorkloadIdentityUser(input: { serviceAccountEmail: string; member: string }): Promise<{ added: boolean }>;
  /** Compensation: deletes the provider keyless created (Google keeps its id 30 days). */
  deleteWorkloadIdentityProvider(input: { name: string }): Promise<UndoResult>;
  /** Compensation: deletes the pool keyless created, once no other provider is left in it. */
  deleteWorkloadIdentityPool(input: { name: string }): Promise<UndoResult>;
  /** Compensation: takes back roles/iam.workloadIdentityUser from the federated member. */
  removeWorkloadIdentityUser(input: { serviceAccountEmail: string; member: string }): Promise<UndoResult>;
  /** Proves the job's own path: the whole chain in the embedded default, the configuration against Google. */
  probeWorkloadIdentity(input: ProbeWorkloadIdentityInput): Promise<WorkloadIdentityProbe>;

  /** One live generateContent per model as the service account; throws the first failure, classified. */
  probeVertex(input: ProbeVertexInput): Promise<ProbeReport>;
  /** The sample prompts through both paths, compared; a breach is `passed: false`, not a failure. */
  dualRun(input: DualRunInput): Promise<DualRunReport>;
  /** Request counts and error rates of the key and of the service account over a window. */
  readTraffic(input: ReadTrafficInput): Promise<TrafficReport>;

  /** Publishes a pipeline's route document; idempotent per generation. `path` absent: the old place (recorded before the move). */
  publishRoute(input: { store: string; route: Route; path?: RoutePath; overwrite?: boolean }): Promise<PublishOutcome>;
  /**
   * Compensation of every route keyless published: the route again, at 0 % on Vertex (all runs on
   * the key), over a newer generation keyless did not write or a document that breaks the rules.
   */
  publishRouteToKey(input: { store: string; route: Route; path?: RoutePath }): Promise<UndoResult>;
  /** Reads a pipeline's current route document by every reader's rules (its project's place, then the old one), if any. */
  readRoute(input: { store: string; pipeline: string; project?: string }): Promise<Route | null>;
  /**
   * Who a Google ID token proves (signature against Google's certificates, issuer, the worker's
   * audiences, expiry, a verified email, issued recently); a token that proves no one is
   * `ok: false` with the reason, never a failure.
   */
  verifyIdToken(input: { idToken: string }): Promise<IdTokenVerdict>;
  /**
   * The time by the clock of the systems keyless measures. Traffic windows are anchored to it,
   * not to workflow time, which a time-skipping test server runs days ahead.
   */
  cloudTime(): Promise<string>;
}

