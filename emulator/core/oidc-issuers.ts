// The OIDC issuers the emulator simulates (GitHub Actions', gitlab.com, and any the fixture or an
// admin call adds): their signing keys (kept in the state file, so tokens outlive a restart),
// discovery documents, JWKS, minted tokens (also deliberately broken ones, for negative tests) and
// GitHub Actions runners that request tokens the way `ACTIONS_ID_TOKEN_REQUEST_URL` works.

import { generateKeyPair, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { z } from 'zod';
import { GITHUB_ACTIONS_ISSUER, GITHUB_TOKEN_LIFETIME_S, GITLAB_COM_ISSUER, GITLAB_TOKEN_LIFETIME_S, githubClaims, githubDefaultAudience, gitlabClaims, GithubJobSchema, type GithubJob, type GitlabJob } from './ci-claims';
import type { EmulatorCore } from './core';
import { signJwt } from './identity';
import { emulatorUrlOf, publicJwk, type Jwk } from './oidc';
import type { GithubRunnerRecord, OidcIssuerRecord } from './state';
import { issuerUriProblem } from './workload-identity';

const generateKeyPairAsync = promisify(generateKeyPair);
/** Beyond the 60 s of clock skew STS tolerates. */
const EXPIRED_BY_S = 300;

/** How to mint a token, including the ways to break it on purpose. */
export const MintOptionsSchema = z.object({
  /** `aud`; default: the issuer's default (GitHub: the owner's URL; GitLab and others: the issuer). */
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  lifetimeSeconds: z.number().int().min(1).max(86_400).optional(),
  /** `exp` already past (beyond STS's clock skew). */
  expired: z.boolean().default(false),
  /** `wrong-key`: same kid, another key; `unknown-kid`: the issuer's key under a kid its JWKS lacks. */
  signature: z.enum(['valid', 'wrong-key', 'unknown-kid']).default('valid'),
  /** Claims to set last; `null` removes one. */
  claims: z.record(z.string(), z.unknown()).default({}),
});
export type MintOptions = z.input<typeof MintOptionsSchema>;

export const GithubRunnerInputSchema = GithubJobSchema.extend({
  /** The `aud` a token request without `&audience=` gets; default GitHub's. */
  defaultAudience: z.string().min(1).optional(),
  lifetimeSeconds: z.number().int().min(1).max(86_400).default(GITHUB_TOKEN_LIFETIME_S),
  /** false: the workflow lacks `permissions: id-token: write`, so GitHub sets neither variable. */
  idTokenWrite: z.boolean().default(true),
});
export type GithubRunnerInput = z.input<typeof GithubRunnerInputSchema>;

/** What a registered runner's job sees (absent without `id-token: write`). */
export interface GithubRunner {
  runnerId: string;
  ACTIONS_ID_TOKEN_REQUEST_URL?: string;
  ACTIONS_ID_TOKEN_REQUEST_TOKEN?: string;
  /** The claims its tokens carry, before `aud`, `jti` and the times. */
  claims: Record<string, unknown>;
}

export interface MintedToken {
  token: string;
  claims: Record<string, unknown>;
}

/** A request for a runner's token that cannot be answered. */
export class RunnerTokenRefusal extends Error {}

let throwawayKey: Promise<string> | undefined;
/** A key no issuer publishes, for tokens with a wrong signature. */
function throwawayPrivateKey(): Promise<string> {
  throwawayKey ??= generateKeyPairAsync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } }).then((k) => k.privateKey);
  return throwawayKey;
}

export class OidcIssuers {
  private readonly pendingKeys = new Map<string, Promise<OidcIssuerRecord['keys'][number]>>();

  constructor(private readonly core: EmulatorCore) {
    const builtIn: Array<Pick<OidcIssuerRecord, 'issuer' | 'kind'>> = [
      { issuer: GITHUB_ACTIONS_ISSUER, kind: 'github' },
      { issuer: GITLAB_COM_ISSUER, kind: 'gitlab' },
      ...core.fixture.oidcIssuers,
    ];
    for (const { issuer, kind } of builtIn) this.ensure(issuer, kind);
  }

  /** Adds an issuer to simulate (idempotent); the issuer URL must be https. */
  ensure(issuer: string, kind: OidcIssuerRecord['kind']): OidcIssuerRecord {
    const problem = issuerUriProblem(issuer);
    if (problem) throw new RangeError(problem);
    const issuers = this.core.state.oidcIssuers;
    if (!issuers[issuer]) {
      issuers[issuer] = { issuer, kind, keys: [] };
      this.core.markDirty();
    }
    return issuers[issuer]!;
  }

  get(issuer: string): OidcIssuerRecord | undefined {
    return this.core.state.oidcIssuers[issuer];
  }

  list(): OidcIssuerRecord[] {
    return Object.values(this.core.state.oidcIssuers);
  }

  discoveryUrlOf(issuer: string): string {
    return `${issuer}/.well-known/openid-configuration`;
  }

  jwksUrlOf(record: OidcIssuerRecord): string {
    return record.kind === 'gitlab' ? `${record.issuer}/oauth/discovery/keys` : `${record.issuer}/.well-known/jwks`;
  }

  /** Where the emulator serves a simulated URL (see ./oidc). */
  emulatorUrl(url: string): string {
    return emulatorUrlOf(this.core.baseUrl, url)!;
  }

  /** The issuer whose discovery document or JWKS lives at this URL. */
  documentAt(url: string): { kind: 'discovery' | 'jwks'; record: OidcIssuerRecord } | undefined {
    for (const record of this.list()) {
      if (this.discoveryUrlOf(record.issuer) === url) return { kind: 'discovery', record };
      if (this.jwksUrlOf(record) === url) return { kind: 'jwks', record };
    }
    return undefined;
  }

  discoveryDocument(record: OidcIssuerRecord): Record<string, unknown> {
    const common = { issuer: record.issuer, jwks_uri: this.jwksUrlOf(record), id_token_signing_alg_values_supported: ['RS256'] };
    if (record.kind === 'github') {
      return {
        ...common,
        subject_types_supported: ['public', 'pairwise'],
        response_types_supported: ['id_token'],
        claims_supported: ['sub', 'aud', 'exp', 'iat', 'iss', 'jti', 'nbf', 'ref', 'sha', 'repository', 'repository_id', 'repository_owner', 'repository_owner_id', 'run_id', 'run_number', 'run_attempt', 'actor', 'actor_id', 'workflow', 'workflow_ref', 'workflow_sha', 'head_ref', 'base_ref', 'event_name', 'ref_type', 'ref_protected', 'environment', 'job_workflow_ref', 'job_workflow_sha', 'repository_visibility', 'runner_environment'],
        scopes_supported: ['openid'],
      };
    }
    if (record.kind === 'gitlab') {
      return {
        ...common,
        authorization_endpoint: `${record.issuer}/oauth/authorize`,
        token_endpoint: `${record.issuer}/oauth/token`,
        userinfo_endpoint: `${record.issuer}/oauth/userinfo`,
        scopes_supported: ['openid', 'profile', 'email'],
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'sub_legacy', 'name', 'nickname', 'email', 'email_verified', 'website', 'profile', 'picture', 'groups', 'groups_direct'],
      };
    }
    return { ...common, response_types_supported: ['id_token'], subject_types_supported: ['public'] };
  }

  async jwks(record: OidcIssuerRecord): Promise<{ keys: Jwk[] }> {
    const key = await this.signingKey(record);
    return { keys: [publicJwk(key.publicKeyPem, key.kid)] };
  }

  private signingKey(record: OidcIssuerRecord): Promise<OidcIssuerRecord['keys'][number]> {
    const existing = record.keys[0];
    if (existing) return Promise.resolve(existing);
    let pending = this.pendingKeys.get(record.issuer);
    if (!pending) {
      pending = generateKeyPairAsync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } }).then(({ publicKey, privateKey }) => {
        const key = { kid: randomBytes(20).toString('hex'), publicKeyPem: publicKey, privateKeyPem: privateKey };
        record.keys.push(key);
        this.core.markDirty();
        return key;
      });
      this.pendingKeys.set(record.issuer, pending);
    }
    return pending;
  }

  /** Signs `base` plus `aud`, `jti` and times, as the issuer would, or broken as asked. */
  async mint(issuer: string, base: Record<string, unknown>, options: MintOptions, defaults: { audience: string | string[]; lifetimeSeconds: number }): Promise<MintedToken> {
    const record = this.get(issuer);
    if (!record) throw new RangeError(`the emulator does not simulate the issuer ${issuer}; add it to the fixture's oidcIssuers or POST /admin/v1/oidc/issuers`);
    const opts = MintOptionsSchema.parse(options);
    const lifetime = opts.lifetimeSeconds ?? defaults.lifetimeSeconds;
    const now = Math.floor(Date.now() / 1000);
    const iat = opts.expired ? now - lifetime - EXPIRED_BY_S : now;
    const claims: Record<string, unknown> = { jti: randomUUID(), ...base, iss: base.iss ?? issuer, aud: opts.audience ?? defaults.audience, nbf: iat - 5, iat, exp: iat + lifetime };
    for (const [name, value] of Object.entries(opts.claims)) {
      if (value === null) delete claims[name];
      else claims[name] = value;
    }
    const key = await this.signingKey(record);
    const kid = opts.signature === 'unknown-kid' ? randomBytes(20).toString('hex') : key.kid;
    const privateKey = opts.signature === 'wrong-key' ? await throwawayPrivateKey() : key.privateKeyPem;
    return { token: signJwt({ typ: 'JWT', kid }, claims, privateKey), claims };
  }

  mintGithub(job: GithubJob, options: MintOptions = {}): Promise<MintedToken> {
    const claims = githubClaims(job);
    return this.mint(claims.iss as string, claims, options, { audience: githubDefaultAudience(job.repository), lifetimeSeconds: GITHUB_TOKEN_LIFETIME_S });
  }

  mintGitlab(job: GitlabJob, options: MintOptions = {}): Promise<MintedToken> {
    const claims = gitlabClaims(job);
    return this.mint(claims.iss as string, claims, options, { audience: claims.iss as string, lifetimeSeconds: GITLAB_TOKEN_LIFETIME_S });
  }

  registerGithubRunner(input: GithubRunnerInput): GithubRunner {
    const runner = GithubRunnerInputSchema.parse(input);
    if (!this.get(runner.issuer)) throw new RangeError(`the emulator does not simulate the issuer ${runner.issuer}`);
    const claims = githubClaims(runner);
    const runnerId = randomUUID();
    const record: GithubRunnerRecord = {
      runnerId,
      requestToken: randomBytes(32).toString('base64url'),
      issuer: runner.issuer,
      claims,
      defaultAudience: runner.defaultAudience ?? githubDefaultAudience(runner.repository),
      lifetimeSeconds: runner.lifetimeSeconds,
    };
    if (!runner.idTokenWrite) return { runnerId, claims };
    this.core.state.githubRunners[runnerId] = record;
    this.core.markDirty();
    return {
      runnerId,
      ACTIONS_ID_TOKEN_REQUEST_URL: `${this.core.baseUrl}/github-actions/runners/${runnerId}/idtoken?api-version=2.0`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: record.requestToken,
      claims,
    };
  }

  /** What a runner's token request gets; refuses a missing or wrong `Authorization: bearer <request token>`. */
  async runnerToken(runnerId: string, authorization: string | undefined, audience: string | undefined): Promise<string> {
    const runner = this.core.state.githubRunners[runnerId];
    const presented = /^bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1] ?? '';
    const expected = runner?.requestToken ?? '';
    const matches = runner !== undefined && presented.length === expected.length && timingSafeEqual(Buffer.from(presented), Buffer.from(expected));
    if (!matches) throw new RunnerTokenRefusal('the request token is missing or wrong');
    const minted = await this.mint(runner.issuer, runner.claims, { audience: audience || runner.defaultAudience }, { audience: runner.defaultAudience, lifetimeSeconds: runner.lifetimeSeconds });
    return minted.token;
  }
}
