// What the generative and data surfaces (Gemini, Vertex, Monitoring, Storage) need from the
// emulator's core. The core implements this interface and mounts the routes the surfaces return;
// the surfaces never reach into the core's state directly.

import type { Principal } from '../core/contract';
import type { ModelFixture } from '../model/fixture';

/** An API key as the Gemini surface needs to judge it; restrictions use the API Keys v2 JSON shape. */
export interface ResolvedApiKey {
  /** `projects/<number>/locations/global/keys/<id>`. */
  name: string;
  uid: string;
  /** The owning project's id. */
  project: string;
  projectNumber: string;
  restrictions?: KeyRestrictions;
  /** Set on service-account-bound auth keys (`AQ.` prefix). */
  serviceAccountEmail?: string;
  /** The bound account when `serviceAccountEmail` is set and the account exists. */
  serviceAccount?: { uniqueId: string; disabled: boolean };
  /** True while the key is soft-deleted: it then authenticates nothing. */
  deleted: boolean;
}

/** API Keys v2 `Restrictions`. */
export interface KeyRestrictions {
  browserKeyRestrictions?: { allowedReferrers?: string[] };
  serverKeyRestrictions?: { allowedIps?: string[] };
  androidKeyRestrictions?: { allowedApplications?: { sha1Fingerprint?: string; packageName?: string }[] };
  iosKeyRestrictions?: { allowedBundleIds?: string[] };
  apiTargets?: { service?: string; methods?: string[] }[];
}

/** The answer Google gives a standard key once the retirement applies to it. Google has not documented it. */
export interface KeyRejection {
  httpStatus: number;
  status: string;
  reason: string;
  message: string;
}

/** Google's phased retirement of standard API keys on the Gemini API. */
export interface KeyRetirement {
  /** From this instant, unrestricted standard keys are rejected (Google: 2026-06-19). */
  unrestrictedKeysRejectedFrom?: Date;
  /** From this instant, every standard key is rejected (Google: September 2026). */
  allStandardKeysRejectedFrom?: Date;
  rejection: KeyRejection;
}

/** Whether a member holds one of some roles on a project, and whether the binding has propagated. */
export interface RoleCheck {
  /** A binding exists now. */
  granted: boolean;
  /** A binding exists and is older than the IAM propagation delay. */
  effective: boolean;
}

/** The slice of the emulator's persisted state these surfaces own. */
export interface GenerativeState {
  /** Request counts per minute and label set, for Cloud Monitoring. */
  traffic: TrafficBucket[];
  /** Cloud Storage buckets by name. */
  buckets: Record<string, StoredBucket>;
}

/** Requests with one label set within one minute. */
export interface TrafficBucket {
  /** Start of the minute, epoch milliseconds. */
  minute: number;
  labels: TrafficLabels;
  count: number;
  latencyMsSum: number;
  /** For request_latencies: the sum of squared latencies, and counts per bucket index of LATENCY_BUCKET_OPTIONS (absent in state files from before). */
  latencyMsSumSquares?: number;
  latencyBuckets?: Record<string, number>;
}

/** The `consumed_api` resource labels plus the metric labels of one recorded request. */
export interface TrafficLabels {
  project_id: string;
  service: string;
  method: string;
  version: string;
  location: string;
  credential_id: string;
  response_code: string;
  response_code_class: string;
  protocol: string;
}

export interface StoredBucket {
  name: string;
  project: string;
  timeCreated: string;
  /** The highest generation handed out in this bucket; generations only grow. */
  lastGeneration: string;
  objects: Record<string, StoredObject>;
}

export interface StoredObject {
  name: string;
  generation: string;
  metageneration: string;
  contentType: string;
  /** Base64 of the content. */
  content: string;
  size: string;
  md5Hash: string;
  crc32c: string;
  metadata?: Record<string, string>;
  timeCreated: string;
  updated: string;
}

/** Everything the generative and data surfaces ask of the core. */
export interface GenerativeContext {
  /** The emulator's clock (tests and the demo may move it). */
  now(): Date;
  /** The models part of the fixture, already validated. */
  models: ModelFixture;
  keyRetirement: KeyRetirement;
  /** Looks a key up by its key string, including soft-deleted keys. */
  resolveApiKey(keyString: string): ResolvedApiKey | undefined;
  /** Resolves an `Authorization` header value to a principal; undefined when absent, malformed, expired or unknown. */
  resolveBearer(authorization: string | undefined): Principal | undefined;
  /** Resolves a project id or number. */
  resolveProject(idOrNumber: string): { projectId: string; projectNumber: string } | undefined;
  /** Whether `member` (e.g. `serviceAccount:x@p.iam.gserviceaccount.com`) holds any of `roles` on the project. */
  hasProjectRole(projectId: string, member: string | readonly string[], roles: readonly string[]): RoleCheck;
  /** This module's persisted slice; call `markDirty` after mutating it. */
  state: GenerativeState;
  markDirty(): void;
}

/** An empty slice for a fresh state file. */
export function emptyGenerativeState(): GenerativeState {
  return { traffic: [], buckets: {} };
}

/**
 * The retirement rejection used unless the fixture overrides it: what third parties report
 * (Google has not documented it).
 */
export const DEFAULT_KEY_REJECTION: KeyRejection = {
  httpStatus: 401,
  status: 'UNAUTHENTICATED',
  reason: 'ACCESS_TOKEN_TYPE_UNSUPPORTED',
  message:
    'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
};
