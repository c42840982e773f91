// The emulator's core: the estate in memory, its persistence, the clock, who a request comes
// from (bearer tokens and self-signed JWTs), permission checks with IAM propagation, faults
// and the audit log. Surfaces call into it; they never persist anything themselves.

import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { Principal, SurfaceName } from './contract';
import type { EmuRequest, EmuResponse } from './contract';
import { GoogleApiError, permissionDenied, unauthenticated, rpcStatusForHttp, googleErrorResponse } from './errors';
import type { Fixture, SurfaceFault } from './fixture';
import { decodeJwt, newAccessToken, newAccountKey, newFederatedAccessToken, newAuthKeyString, newStandardKeyString, newUniqueId, verifyAccountSignature } from './identity';
import { poolNameOf, providerNameOf } from './workload-identity';
import { GCLOUD_ADC_CLIENT_ID } from '../../contracts/identity';
import { newGoogleSigningKey, signGoogleIdToken, type GoogleSigningKey } from './google-id-tokens';
import { ROLE_PERMISSIONS, addBinding, membersOf, newPolicy, policyGrant, roleGrants, newPolicyEtag } from './iam';
import {
  emptyState,
  readStateFile,
  writeStateFile,
  writeStateFileSync,
  type ApiKeyRecord,
  type AuditEntry,
  type AccessTokenRecord,
  type EmulatorState,
  type FederatedIdentity,
  type PolicyRecord,
  type ServiceAccountRecord,
} from './state';

const AUDIT_LIMIT = 20_000;
const OPERATION_LIMIT = 5_000;
const EPOCH = '1970-01-01T00:00:00.000Z';
/** Google refuses JWT bearers and assertions living longer than an hour. */
const MAX_JWT_LIFETIME_S = 3600;
const CLOCK_SKEW_S = 300;
const API_KEYS_UNSUPPORTED_MESSAGE =
  'API keys are not supported by this API. Expected OAuth2 access token or other authentication credentials that assert a principal. See https://cloud.google.com/docs/authentication';

export interface CoreOptions {
  fixture: Fixture;
  statePath?: string;
  /** The start clock; the admin clock endpoint adds an offset to it. */
  now?: () => Date;
}

/** A weak etag in the API Keys format. */
export function newKeyEtag(): string {
  return `W/"${randomBytes(16).toString('base64')}"`;
}

export class EmulatorCore {
  readonly fixture: Fixture;
  state: EmulatorState;
  /** The emulator's own address, set once listening. */
  baseUrl = '';
  readonly faults = new Map<string, SurfaceFault>();
  private readonly statePath: string | undefined;
  private readonly clock: () => Date;
  private readonly keyStringIndex = new Map<string, string>();
  /** Names of soft-deleted keys, so purging expired ones does not scan every key on each request. */
  private readonly deletedKeyNames = new Set<string>();
  private readonly accountEmailByUniqueId = new Map<string, string>();
  private readonly jwtCache = new Map<string, { email: string; exp: number }>();
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private dirty = false;
  /** True when this run seeded the estate from the fixture (no state file yet). */
  freshlySeeded = false;
  private pendingGoogleKey: Promise<GoogleSigningKey> | undefined;

  private constructor(options: CoreOptions, state: EmulatorState) {
    this.fixture = options.fixture;
    this.statePath = options.statePath;
    this.clock = options.now ?? (() => new Date());
    this.state = state;
    for (const [surface, fault] of Object.entries(options.fixture.faults)) if (fault) this.faults.set(surface, structuredClone(fault));
    this.reindexKeys();
  }

  /** Loads the state file when it exists, else seeds the estate from the fixture. */
  static async create(options: CoreOptions): Promise<EmulatorCore> {
    const persisted = options.statePath ? await readStateFile(options.statePath) : undefined;
    const core = new EmulatorCore(options, persisted ?? emptyState());
    if (!persisted) {
      await core.seed();
      core.reindexKeys();
      core.freshlySeeded = true;
      core.markDirty();
    }
    return core;
  }

  now(): Date {
    return new Date(this.clock().getTime() + this.state.clockOffsetMs);
  }

  nowIso(): string {
    return this.now().toISOString();
  }


  /** Schedules an atomic write of the state file (coalesced). */
  markDirty(): void {
    if (!this.statePath) return;
    this.dirty = true;
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush();
    }, 100);
    this.flushTimer.unref();
  }

  /** Writes the state now if anything changed. */
  async flush(): Promise<void> {
    if (!this.statePath) return;
    const path = this.statePath;
    this.flushing = this.flushing.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      this.pruneTokens();
      try {
        await writeStateFile(path, this.state);
      } catch (err) {
        this.dirty = true;
        process.stderr.write(`keyless emulator: cannot write state ${path}: ${(err as Error).message}\n`);
      }
    });
    return this.flushing;
  }

  /** The last write at shutdown. */
  async close(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    await this.flushing;
    if (this.statePath && this.dirty) {
      this.dirty = false;
      this.pruneTokens();
      writeStateFileSync(this.statePath, this.state);
    }
  }

  private pruneTokens(): void {
    const now = Date.now();
    for (const [token, record] of Object.entries(this.state.tokens)) if (record.expiresAt < now) delete this.state.tokens[token];
  }


  private async seed(): Promise<void> {
    const fixture = this.fixture;
    for (const project of fixture.projects) {
      this.state.projects[project.id] = { projectId: project.id, projectNumber: project.number, policy: newPolicy(project.iamPolicy.bindings, EPOCH) };
    }
    for (const account of fixture.serviceAccounts) {
      const email = `${account.accountId}@${account.project}.iam.gserviceaccount.com`;
      const record: ServiceAccountRecord = {
        projectId: account.project,
        accountId: account.accountId,
        email,
        uniqueId: account.uniqueId ?? newUniqueId(),
        ...(account.displayName !== undefined ? { displayName: account.displayName } : {}),
        ...(account.description !== undefined ? { description: account.description } : {}),
        disabled: account.disabled,
        etag: newPolicyEtag(),
        policy: newPolicy(account.iamPolicy?.bindings ?? [], EPOCH),
        keys: account.downloadableKey ? [await newAccountKey(this.now())] : [],
        attachable: account.attachable,
        downloadableKey: account.downloadableKey,
      };
      this.state.serviceAccounts[email] = record;
      const policy = this.state.projects[account.project]!.policy;
      for (const role of account.roles) addBinding(policy, role, [`serviceAccount:${email}`], EPOCH);
    }
    for (const key of fixture.keys) {
      const project = this.state.projects[key.project]!;
      const uid = randomUUID();
      const createTime = (key.createTime ?? this.now()).toISOString();
      const record: ApiKeyRecord = {
        name: `projects/${project.projectNumber}/locations/global/keys/${key.keyId}`,
        uid,
        keyId: key.keyId,
        projectId: project.projectId,
        projectNumber: project.projectNumber,
        ...(key.displayName !== undefined ? { displayName: key.displayName } : {}),
        keyString: key.keyString ?? (key.serviceAccountEmail ? newAuthKeyString() : newStandardKeyString()),
        createTime,
        updateTime: createTime,
        ...(key.deleteTime ? { deleteTime: key.deleteTime.toISOString() } : {}),
        annotations: key.annotations,
        ...(key.restrictions ? { restrictions: key.restrictions } : {}),
        etag: newKeyEtag(),
        ...(key.serviceAccountEmail ? { serviceAccountEmail: key.serviceAccountEmail } : {}),
      };
      this.state.keys[record.name] = record;
    }
    this.seedWorkloadIdentity();
    this.seedCloudRun();
  }

  private seedWorkloadIdentity(): void {
    const now = this.nowIso();
    for (const pool of this.fixture.workloadIdentityPools) {
      const project = this.state.projects[pool.project]!;
      const name = poolNameOf(project.projectNumber, pool.poolId);
      this.state.workloadIdentityPools[name] = {
        name,
        projectId: project.projectId,
        projectNumber: project.projectNumber,
        poolId: pool.poolId,
        ...(pool.displayName !== undefined ? { displayName: pool.displayName } : {}),
        ...(pool.description !== undefined ? { description: pool.description } : {}),
        disabled: pool.disabled,
        createTime: now,
        updateTime: now,
        ...(pool.deleteTime ? { deleteTime: pool.deleteTime.toISOString() } : {}),
      };
      for (const provider of pool.providers) {
        const providerName = providerNameOf(name, provider.providerId);
        this.state.workloadIdentityPoolProviders[providerName] = {
          name: providerName,
          poolName: name,
          providerId: provider.providerId,
          ...(provider.displayName !== undefined ? { displayName: provider.displayName } : {}),
          ...(provider.description !== undefined ? { description: provider.description } : {}),
          disabled: provider.disabled,
          attributeMapping: provider.attributeMapping,
          ...(provider.attributeCondition !== undefined ? { attributeCondition: provider.attributeCondition } : {}),
          oidc: provider.oidc,
          createTime: now,
          updateTime: now,
          ...(provider.deleteTime ? { deleteTime: provider.deleteTime.toISOString() } : {}),
        };
      }
    }
  }

  private seedCloudRun(): void {
    for (const kind of ['jobs', 'services'] as const) {
      for (const resource of this.fixture.cloudRun[kind]) {
        const project = this.state.projects[resource.project]!;
        this.state.cloudRun[`projects/${project.projectId}/locations/${resource.location}/${kind}/${resource.name}`] = {
          kind: kind === 'jobs' ? 'job' : 'service',
          projectId: project.projectId,
          projectNumber: project.projectNumber,
          location: resource.location,
          resourceId: resource.name,
          uid: randomUUID(),
          image: resource.image,
          ...(resource.serviceAccount ? { serviceAccount: resource.serviceAccount } : {}),
          labels: resource.labels,
          createTime: this.nowIso(),
        };
      }
    }
  }


  private reindexKeys(): void {
    this.keyStringIndex.clear();
    this.deletedKeyNames.clear();
    for (const key of Object.values(this.state.keys)) {
      this.keyStringIndex.set(key.keyString, key.name);
      if (key.deleteTime) this.deletedKeyNames.add(key.name);
    }
  }

  putKey(key: ApiKeyRecord): void {
    this.state.keys[key.name] = key;
    this.keyStringIndex.set(key.keyString, key.name);
    if (key.deleteTime) this.deletedKeyNames.add(key.name);
    else this.deletedKeyNames.delete(key.name);
    this.markDirty();
  }

  removeKey(name: string): void {
    const key = this.state.keys[name];
    if (!key) return;
    delete this.state.keys[name];
    this.keyStringIndex.delete(key.keyString);
    this.deletedKeyNames.delete(name);
    this.markDirty();
  }

  /** Keys soft-deleted (through putKey) and not yet purged. */
  softDeletedKeys(): ApiKeyRecord[] {
    const keys: ApiKeyRecord[] = [];
    for (const name of this.deletedKeyNames) {
      const key = this.state.keys[name];
      if (key?.deleteTime) keys.push(key);
    }
    return keys;
  }

  keyByString(keyString: string): ApiKeyRecord | undefined {
    const name = this.keyStringIndex.get(keyString);
    return name ? this.state.keys[name] : undefined;
  }


  resolveProject(idOrNumber: string): { projectId: string; projectNumber: string; policy: PolicyRecord } | undefined {
    const byId = this.state.projects[idOrNumber];
    if (byId) return byId;
    return Object.values(this.state.projects).find((p) => p.projectNumber === idOrNumber);
  }

  /** An account by email or unique id, deleted ones included. */
  findServiceAccount(emailOrUniqueId: string): ServiceAccountRecord | undefined {
    const byEmail = this.state.serviceAccounts[emailOrUniqueId];
    if (byEmail) return byEmail;
    // Accounts are added in several places; the cache is checked on use instead of kept in step.
    const cached = this.accountEmailByUniqueId.get(emailOrUniqueId);
    const hit = cached === undefined ? undefined : this.state.serviceAccounts[cached];
    if (hit?.uniqueId === emailOrUniqueId) return hit;
    const found = Object.values(this.state.serviceAccounts).find((a) => a.uniqueId === emailOrUniqueId);
    if (found) this.accountEmailByUniqueId.set(emailOrUniqueId, found.email);
    return found;
  }

  /** Active (not deleted) account. */
  liveServiceAccount(emailOrUniqueId: string): ServiceAccountRecord | undefined {
    const account = this.findServiceAccount(emailOrUniqueId);
    return account && !account.deleteTime ? account : undefined;
  }

  /** Ensures an account has a key the emulator can sign with and returns it. */
  async ensureAccountKey(account: ServiceAccountRecord) {
    if (account.keys.length === 0) {
      account.keys.push(await newAccountKey(this.now()));
      this.markDirty();
    }
    return account.keys[0]!;
  }


  /** The key "Google" signs ID tokens with, made on first use and kept in the state file. */
  async googleSigningKey(): Promise<GoogleSigningKey> {
    const existing = this.state.googleSigningKeys?.[0];
    if (existing) return existing;
    this.pendingGoogleKey ??= newGoogleSigningKey(this.now()).then((key) => {
      this.state.googleSigningKeys = [...(this.state.googleSigningKeys ?? []), key];
      this.markDirty();
      return key;
    });
    return this.pendingGoogleKey;
  }

  /** An ID token signed as Google signs them (`iss` https://accounts.google.com). */
  async signGoogleIdToken(claims: Record<string, unknown>): Promise<string> {
    return signGoogleIdToken(await this.googleSigningKey(), claims);
  }

  /**
   * An `authorized_user` ADC file for a person, as `gcloud auth application-default login` writes
   * one: its refresh token, sent to the token endpoint, answers an access token and the user's ID token.
   */
  issueUserCredentials(email: string): { type: 'authorized_user'; account: string; client_id: string; client_secret: string; refresh_token: string; universe_domain: string } {
    const refreshToken = `1//${randomBytes(48).toString('base64url')}`;
    const record = { email, clientId: GCLOUD_ADC_CLIENT_ID, clientSecret: randomBytes(18).toString('base64url') };
    this.state.userRefreshTokens = { ...this.state.userRefreshTokens, [refreshToken]: record };
    this.markDirty();
    return { type: 'authorized_user', account: email, client_id: record.clientId, client_secret: record.clientSecret, refresh_token: refreshToken, universe_domain: 'googleapis.com' };
  }

  /** Mints an opaque access token for an account or user; lifetime in seconds of real time. */
  mintAccessToken(kind: 'serviceAccount' | 'user', email: string, lifetimeSeconds = 3600, scopes: string[] = ['https://www.googleapis.com/auth/cloud-platform']) {
    const token = newAccessToken();
    const expiresAt = Date.now() + lifetimeSeconds * 1000;
    this.state.tokens[token] = { kind, email, expiresAt, scopes };
    this.markDirty();
    return { token, expiresAt, expireTime: new Date(expiresAt).toISOString() };
  }

  /** Stores a token STS issued for a workload identity pool principal. */
  mintFederatedToken(identity: FederatedIdentity, lifetimeSeconds: number, scopes: string[]) {
    const token = newFederatedAccessToken();
    const expiresAt = Date.now() + lifetimeSeconds * 1000;
    this.state.tokens[token] = { kind: 'federated', email: identity.members[0]!, expiresAt, scopes, federated: identity };
    this.markDirty();
    return { token, expiresAt };
  }

  /**
   * A federated token grants access while its pool is active and enabled (IAM docs: a deleted
   * or disabled pool's tokens stop working and work again after undelete); its provider's
   * state does not matter once the token is issued.
   */
  private federatedPrincipal(record: AccessTokenRecord): { principal: Principal } | { error: GoogleApiError } {
    const identity = record.federated;
    const pool = identity ? this.state.workloadIdentityPools[identity.poolName] : undefined;
    if (!identity || !pool || pool.deleteTime || pool.disabled) return { error: unauthenticated(undefined) };
    return { principal: { kind: 'federated', member: identity.members[0]!, members: identity.members, poolName: identity.poolName, subject: identity.subject } };
  }

  private principalOfAccount(account: ServiceAccountRecord): Principal {
    return { kind: 'serviceAccount', email: account.email, uniqueId: account.uniqueId, project: account.projectId };
  }

  /**
   * Resolves an Authorization header. Token lifetimes follow the real clock (clients cache
   * tokens by it), while the emulator clock only moves domain time (retirement, propagation).
   */
  authenticate(authorization: string | undefined): { principal: Principal } | { error: GoogleApiError } {
    if (!authorization) {
      return {
        error: new GoogleApiError(
          'UNAUTHENTICATED',
          'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
          { reason: 'CREDENTIALS_MISSING', domain: 'googleapis.com' },
        ),
      };
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) return { error: unauthenticated(undefined) };
    const token = match[1]!;
    const record = this.state.tokens[token];
    if (record) {
      if (record.expiresAt <= Date.now()) return { error: unauthenticated('ACCESS_TOKEN_EXPIRED') };
      if (record.kind === 'user') return { principal: { kind: 'user', email: record.email } };
      if (record.kind === 'federated') return this.federatedPrincipal(record);
      const account = this.liveServiceAccount(record.email);
      // A disabled account's tokens stop working at once (IAM docs).
      if (!account || account.disabled) return { error: unauthenticated(undefined) };
      return { principal: this.principalOfAccount(account) };
    }
    const cached = this.jwtCache.get(token);
    if (cached) {
      if (cached.exp * 1000 <= Date.now()) return { error: unauthenticated('ACCESS_TOKEN_EXPIRED') };
      const account = this.liveServiceAccount(cached.email);
      if (!account || account.disabled) return { error: unauthenticated(undefined) };
      return { principal: this.principalOfAccount(account) };
    }
    const jwt = decodeJwt(token);
    if (!jwt) return { error: unauthenticated(undefined) };
    const iss = jwt.claims.iss;
    const exp = Number(jwt.claims.exp);
    const iat = Number(jwt.claims.iat);
    if (typeof iss !== 'string' || !Number.isFinite(exp) || !Number.isFinite(iat)) return { error: unauthenticated(undefined) };
    const account = this.liveServiceAccount(iss);
    if (!account || account.disabled || !verifyAccountSignature(jwt, account)) return { error: unauthenticated(undefined) };
    const nowS = Date.now() / 1000;
    if (exp <= nowS) return { error: unauthenticated('ACCESS_TOKEN_EXPIRED') };
    if (iat > nowS + CLOCK_SKEW_S || exp - iat > MAX_JWT_LIFETIME_S + CLOCK_SKEW_S) return { error: unauthenticated(undefined) };
    if (this.jwtCache.size > 10_000) this.jwtCache.clear();
    this.jwtCache.set(token, { email: account.email, exp });
    return { principal: this.principalOfAccount(account) };
  }

  /** The principal behind a header, or undefined. */
  resolveBearer(authorization: string | undefined): Principal | undefined {
    const result = this.authenticate(authorization);
    return 'principal' in result ? result.principal : undefined;
  }

  /** The principal or the 401 Google sends. */
  requirePrincipal(authorization: string | undefined): Principal {
    const result = this.authenticate(authorization);
    if ('error' in result) throw result.error;
    return result.principal;
  }


  /**
   * The principal of a request to an API that needs one (every admin API). An API key alone is
   * refused the way Google refuses it on such APIs.
   */
  requireCaller(req: EmuRequest): Principal {
    const authorization = req.headers.authorization;
    if (!authorization && (req.headers['x-goog-api-key'] || req.query.get('key'))) {
      throw new GoogleApiError('UNAUTHENTICATED', API_KEYS_UNSUPPORTED_MESSAGE, { reason: 'CREDENTIALS_MISSING', domain: 'googleapis.com' });
    }
    return this.requirePrincipal(authorization);
  }

  /**
   * Whether the principal has `permission` through the project's policy or, when given, the
   * resource's own policy. Propagation applies only when asked (Vertex models it; admin
   * surfaces take effect at once so the orchestrator's own read-modify-writes stay simple).
   */
  hasPermission(principal: Principal, projectId: string, permission: string, options: { resourcePolicy?: PolicyRecord; honourPropagation?: boolean; modifiedRoles?: readonly string[] } = {}): boolean {
    const members = membersOf(principal);
    const test = (role: string) => roleGrants(role, permission);
    const policies = [this.state.projects[projectId]?.policy, options.resourcePolicy].filter((p): p is PolicyRecord => p !== undefined);
    return policies.some((policy) => {
      const grant = policyGrant(policy, members, test, options.modifiedRoles ? { modifiedRoles: options.modifiedRoles } : {});
      return grant.granted && (!options.honourPropagation || this.propagated(grant.since!));
    });
  }

  /** Throws Google's 403 unless the principal has the permission. */
  requirePermission(principal: Principal, projectId: string, permission: string, resource?: string, options: { resourcePolicy?: PolicyRecord; domain?: string; legacy?: boolean } = {}): void {
    const opts = options.resourcePolicy ? { resourcePolicy: options.resourcePolicy } : {};
    if (!this.hasPermission(principal, projectId, permission, opts)) {
      throw permissionDenied(permission, resource, options.domain, options.legacy);
    }
  }

  private propagated(since: string): boolean {
    return this.now().getTime() - Date.parse(since) >= this.fixture.iamPropagationDelaySeconds * 1000;
  }

  /** Whether `member` holds any of `roles` on the project, and whether the binding has propagated. */
  hasProjectRole(projectId: string, member: string | readonly string[], roles: readonly string[]): { granted: boolean; effective: boolean } {
    const project = this.resolveProject(projectId);
    if (!project) return { granted: false, effective: false };
    const grant = policyGrant(project.policy, [...(typeof member === 'string' ? [member] : member), 'allAuthenticatedUsers', 'allUsers'], (role) => roles.includes(role) || role === 'roles/owner');
    return { granted: grant.granted, effective: grant.granted && this.propagated(grant.since!) };
  }

  knownRoles(): string[] {
    return Object.keys(ROLE_PERMISSIONS);
  }


  /** Stores an LRO; `pending` is how many operations.get polls it stays `done:false` (default: the API Keys setting). */
  recordOperation(name: string, result: { response?: unknown; error?: { code: number; message: string } }, pending = this.fixture.apiKeys.pendingOperationPolls): void {
    this.state.operations[name] = { name, done: pending === 0, pendingPolls: pending, ...result, createdAt: Date.now() };
    const names = Object.keys(this.state.operations);
    if (names.length > OPERATION_LIMIT) for (const old of names.slice(0, names.length - OPERATION_LIMIT)) delete this.state.operations[old];
    this.markDirty();
  }


  audit(entry: AuditEntry): void {
    this.state.audit.push(entry);
    if (this.state.audit.length > AUDIT_LIMIT) this.state.audit.splice(0, this.state.audit.length - AUDIT_LIMIT);
    this.markDirty();
  }


  /** The Google-shaped failure to inject for this call, if the dice or a `failNext` say so. */
  injectedFault(surface: SurfaceName): EmuResponse | undefined {
    const fault = this.faults.get(surface);
    if (!fault) return undefined;
    let status: number | undefined;
    if (fault.failNext && fault.failNext.count > 0) {
      fault.failNext.count -= 1;
      status = fault.failNext.status;
    } else {
      const roll = randomInt(1_000_000) / 1_000_000;
      let acc = 0;
      for (const code of ['429', '500', '503'] as const) {
        acc += fault.errorRates[code] ?? 0;
        if (roll < acc) {
          status = Number(code);
          break;
        }
      }
    }
    return status === undefined ? undefined : faultResponse(surface, status);
  }

  /** Latency to add to a call: fixture latency plus fault latency. */
  addedLatencyMs(surface: SurfaceName): number {
    const latency = this.fixture.latencies[surface as keyof Fixture['latencies']];
    const fault = this.faults.get(surface);
    let ms = fault?.latencyMs ?? 0;
    if (latency) ms += latency.fixedMs + (latency.jitterMs > 0 ? Math.random() * latency.jitterMs : 0);
    return ms;
  }
}

/** What Google sends when it is overloaded or broken, per status. */
export function faultResponse(surface: SurfaceName, status: number): EmuResponse {
  const service = `${surface === 'gemini' ? 'generativelanguage' : surface === 'vertex' ? 'aiplatform' : surface === 'resourcemanager' ? 'cloudresourcemanager' : surface}.googleapis.com`;
  if (status === 429) {
    return googleErrorResponse('RESOURCE_EXHAUSTED', 'Quota exceeded for quota metric \'Requests\' and limit \'Requests per minute\' of service \'' + service + '\'.', {
      reason: 'RATE_LIMIT_EXCEEDED',
      domain: 'googleapis.com',
      metadata: { service, quota_limit_value: '60' },
      details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2s' }],
    });
  }
  if (status === 503) return googleErrorResponse('UNAVAILABLE', 'The service is currently unavailable.', {});
  return googleErrorResponse(rpcStatusForHttp(status), 'Internal error encountered.', {});
}
