// The emulator's mutable estate and its persistence. Everything a restart must keep (keys,
// accounts, policies, tokens, operations, audit, traffic) lives in one JSON document written
// atomically (temp file + rename), so a crash mid-write never leaves a torn state file.

import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { writeFileSync, renameSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { emptyGenerativeState, type GenerativeState } from '../surfaces/generative-context';
import type { Restrictions } from './fixture';
import type { GoogleSigningKey } from './google-id-tokens';

export interface Binding {
  role: string;
  members: string[];
  condition?: { title: string; description?: string; expression: string; location?: string };
}

/** An IAM policy plus when each member was bound to each role (for propagation). */
export interface PolicyRecord {
  version: number;
  bindings: Binding[];
  auditConfigs?: unknown[];
  etag: string;
  /** `role member` → ISO time the member was first bound to the role. */
  grantedAt: Record<string, string>;
}

export interface ProjectRecord {
  projectId: string;
  projectNumber: string;
  policy: PolicyRecord;
}

export interface ApiKeyRecord {
  name: string;
  uid: string;
  keyId: string;
  projectId: string;
  projectNumber: string;
  displayName?: string;
  keyString: string;
  createTime: string;
  updateTime: string;
  deleteTime?: string;
  annotations: Record<string, string>;
  restrictions?: Restrictions;
  etag: string;
  serviceAccountEmail?: string;
}

/** A key pair the emulator issued for an account; it verifies JWTs signed with it. */
export interface AccountKeyRecord {
  keyId: string;
  publicKeyPem: string;
  privateKeyPem: string;
  validAfterTime: string;
}

export interface ServiceAccountRecord {
  projectId: string;
  accountId: string;
  email: string;
  uniqueId: string;
  displayName?: string;
  description?: string;
  disabled: boolean;
  deleteTime?: string;
  etag: string;
  policy: PolicyRecord;
  keys: AccountKeyRecord[];
  attachable: boolean;
  downloadableKey: boolean;
}

export interface AccessTokenRecord {
  /**
   * `serviceAccount` tokens act as the account; `user` tokens as a human principal; `federated`
   * tokens (from STS) as a workload identity pool principal, `email` then holding its
   * `principal://…` member.
   */
  kind: 'serviceAccount' | 'user' | 'federated';
  email: string;
  expiresAt: number;
  scopes: string[];
  federated?: FederatedIdentity;
}

/** Who a federated token stands for: the pool principal and every member matching it. */
export interface FederatedIdentity {
  poolName: string;
  providerName: string;
  subject: string;
  /** `principal://…/subject/…`, `principalSet://…/attribute.x/v`, `…/group/g`, `…/*`. */
  members: string[];
}

/** IAM v1 WorkloadIdentityPool (names use the project number). */
export interface WorkloadIdentityPoolRecord {
  name: string;
  projectId: string;
  projectNumber: string;
  poolId: string;
  displayName?: string;
  description?: string;
  disabled: boolean;
  createTime: string;
  updateTime: string;
  deleteTime?: string;
}

/** IAM v1 WorkloadIdentityPoolProvider of the OIDC kind. */
export interface WorkloadIdentityPoolProviderRecord {
  name: string;
  poolName: string;
  providerId: string;
  displayName?: string;
  description?: string;
  disabled: boolean;
  attributeMapping: Record<string, string>;
  attributeCondition?: string;
  oidc: { issuerUri: string; allowedAudiences: string[]; jwksJson?: string };
  createTime: string;
  updateTime: string;
  deleteTime?: string;
}

/** An OIDC issuer the emulator simulates, with the keys it signs tokens with. */
export interface OidcIssuerRecord {
  issuer: string;
  /** Decides the discovery layout and which claims its tokens carry. */
  kind: 'github' | 'gitlab' | 'generic';
  keys: Array<{ kid: string; publicKeyPem: string; privateKeyPem: string }>;
}

/** A simulated GitHub Actions job that may request ID tokens. */
export interface GithubRunnerRecord {
  runnerId: string;
  requestToken: string;
  issuer: string;
  /** Claims every token carries, before times, `jti` and `aud` are added. */
  claims: Record<string, unknown>;
  defaultAudience: string;
  lifetimeSeconds: number;
}

/** A Cloud Run job or service as the Admin API v2 describes it. */
export interface CloudRunResourceRecord {
  kind: 'job' | 'service';
  projectId: string;
  projectNumber: string;
  location: string;
  resourceId: string;
  uid: string;
  image: string;
  serviceAccount?: string;
  labels: Record<string, string>;
  createTime: string;
}

export interface OperationRecord {
  name: string;
  done: boolean;
  /** operations.get calls left before the operation reports done. */
  pendingPolls: number;
  response?: unknown;
  error?: { code: number; message: string };
  createdAt: number;
}

/** One mutating request, with who made it. */
export interface AuditEntry {
  time: string;
  surface: string;
  method: string;
  path: string;
  /** `serviceAccount:…`, `user:…`, `apiKey:<key name>` or `anonymous`. */
  principal: string;
  status: number;
}

export interface EmulatorState {
  version: 1;
  projects: Record<string, ProjectRecord>;
  keys: Record<string, ApiKeyRecord>;
  serviceAccounts: Record<string, ServiceAccountRecord>;
  tokens: Record<string, AccessTokenRecord>;
  operations: Record<string, OperationRecord>;
  audit: AuditEntry[];
  generative: GenerativeState;
  /** Added to the start clock; moved through the admin endpoint. */
  clockOffsetMs: number;
  /** Metadata server port per attached account, reused after a restart when free. */
  metadataPorts?: Record<string, number>;
  workloadIdentityPools: Record<string, WorkloadIdentityPoolRecord>;
  workloadIdentityPoolProviders: Record<string, WorkloadIdentityPoolProviderRecord>;
  oidcIssuers: Record<string, OidcIssuerRecord>;
  githubRunners: Record<string, GithubRunnerRecord>;
  /** By `projects/{id}/locations/{l}/{jobs|services}/{name}`. */
  cloudRun: Record<string, CloudRunResourceRecord>;
  /** The keys "Google" signs ID tokens with (served at /oauth2/v3/certs); made on first use. */
  googleSigningKeys?: GoogleSigningKey[];
  /** Refresh tokens of `authorized_user` credentials the emulator issued, by token. */
  userRefreshTokens?: Record<string, UserRefreshTokenRecord>;
}

/** A user's refresh token, as `gcloud auth application-default login` leaves one in an ADC file. */
export interface UserRefreshTokenRecord {
  email: string;
  clientId: string;
  clientSecret: string;
}

export function emptyState(): EmulatorState {
  return {
    version: 1,
    projects: {},
    keys: {},
    serviceAccounts: {},
    tokens: {},
    operations: {},
    audit: [],
    generative: emptyGenerativeState(),
    clockOffsetMs: 0,
    workloadIdentityPools: {},
    workloadIdentityPoolProviders: {},
    oidcIssuers: {},
    githubRunners: {},
    cloudRun: {},
  };
}

/** Reads a state file; undefined when it does not exist yet. */
export async function readStateFile(path: string): Promise<EmulatorState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`state file ${path} is not valid JSON; move it away to start from the fixture`);
  }
  const state = parsed as Partial<EmulatorState>;
  if (state.version !== 1 || typeof state.keys !== 'object' || typeof state.projects !== 'object') {
    throw new Error(`state file ${path} is not a keyless emulator state (version 1)`);
  }
  return { ...emptyState(), ...state, generative: { ...emptyGenerativeState(), ...(state.generative ?? {}) } } as EmulatorState;
}

/** Writes the state atomically. */
export async function writeStateFile(path: string, state: EmulatorState): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  // Private: the state holds key strings and the signing keys of every account.
  await writeFile(tmp, JSON.stringify(state), { mode: 0o600, flag: 'wx' });
  await rename(tmp, path);
}

/** The synchronous variant, for the last write at shutdown. */
export function writeStateFileSync(path: string, state: EmulatorState): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  writeFileSync(tmp, JSON.stringify(state), { mode: 0o600, flag: 'wx' });
  renameSync(tmp, path);
}
