// The embedded Google Cloud: one HTTP port for every Google surface keyless uses, plus one GCE
// metadata server port per attached service account. Start it in-process with `startEmulator`,
// or as a command with `runEmulatorCommand` (the `keyless emulator` CLI verb).

import { chmod, mkdir, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { RouteDef } from './core/contract';
import { EmulatorCore } from './core/core';
import { demoFixture } from './core/demo';
import { FixtureError, loadFixtureFile, parseFixture, type Fixture, type FixtureInput } from './core/fixture';
import { mountGenerativeSurfaces } from './core/generative-mount';
import { closeServer, listen, Router } from './core/http';
import { serviceAccountKeyFile } from './core/identity';
import { OidcIssuers, type GithubRunner, type GithubRunnerInput, type MintedToken, type MintOptions } from './core/oidc-issuers';
import type { GithubJob, GitlabJob } from './core/ci-claims';
import { adminRoutes } from './surfaces/admin';
import { apiKeysRoutes } from './surfaces/apikeys';
import { iamRoutes } from './surfaces/iam';
import { iamCredentialsRoutes } from './surfaces/iamcredentials';
import { metadataNotFound, metadataRoutes } from './surfaces/metadata';
import { oauth2Routes } from './surfaces/oauth2';
import { resourceManagerRoutes } from './surfaces/resourcemanager';
import { cloudRunRoutes } from './surfaces/cloudrun';
import { oidcAdminRoutes, oidcIssuerRoutes } from './surfaces/oidc-issuers';
import { stsRoutes } from './surfaces/sts';
import { workloadIdentityRoutes } from './surfaces/workload-identity';

export { demoFixture, demoFixtureInput, DEMO_OPERATOR, DEMO_ORCHESTRATOR, DEMO_PROJECT, DEMO_PROJECT_NUMBER, ORCHESTRATOR_ROLES, PIPELINE_ANNOTATION } from './core/demo';
export { GITHUB_ACTIONS_ISSUER, GITLAB_COM_ISSUER, githubSubject, gitlabSubject, type GithubJob, type GitlabJob } from './core/ci-claims';
export { ISSUER_PATH_PREFIX, emulatorUrlOf } from './core/oidc';
export type { GithubRunner, GithubRunnerInput, MintedToken, MintOptions } from './core/oidc-issuers';
export { defaultAllowedAudiences, poolNameOf, providerNameOf, stsAudienceOf } from './core/workload-identity';
export { FixtureError, loadFixtureFile, parseFixture, parseFixtureText, type Fixture, type FixtureInput } from './core/fixture';

export interface StartEmulatorOptions {
  /** 0 or absent: a free port. */
  port?: number;
  /** A fixture (validated here), or `demo` for the built-in estate. */
  fixture: Fixture | FixtureInput | 'demo';
  /** State file: loaded when it exists, written atomically after each change. */
  statePath?: string;
  /** Writes `<email>.json` service-account key files for every fixture account. */
  credentialsDir?: string;
  /** The emulator's start clock (tests); the admin clock endpoint moves it further. */
  now?: () => Date;
  /**
   * Fixed metadata-server ports by account email (each account is attached at start), for
   * deployments that must set `GCE_METADATA_HOST` before the emulator runs, e.g. containers.
   * A port that cannot be bound fails the start instead of moving elsewhere.
   */
  metadataPorts?: Record<string, number>;
  /** Honour `x-keyless-emulator-client-ip` (tests of IP-restricted keys only; `keyless emulator --trust-client-ip-header`). */
  trustClientIpHeader?: boolean;
}

/** The emulator could not bind an account's fixed metadata port. */
export class MetadataPortError extends Error {
  readonly code: string | undefined;
  constructor(
    readonly email: string,
    readonly port: number,
    cause: unknown,
  ) {
    const code = (cause as NodeJS.ErrnoException)?.code;
    super(`cannot serve metadata for ${email} on 127.0.0.1:${port}: ${code === 'EADDRINUSE' ? 'port already in use' : (cause as Error)?.message ?? String(cause)}`);
    this.name = 'MetadataPortError';
    this.code = code;
  }
}

/** A running emulator. */
export interface RunningEmulator {
  /** `http://127.0.0.1:<port>`: every Google surface, plus /admin/v1. */
  baseUrl: string;
  port: number;
  /** `127.0.0.1:<port>` of each attached account's metadata server, by email. */
  metadataHosts: Record<string, string>;
  core: EmulatorCore;
  /** Starts (or returns) an account's metadata server. */
  attach(email: string): Promise<string>;
  /** An opaque access token for an account (for token files and tests). */
  mintAccessToken(email: string, lifetimeSeconds?: number): string;
  /** A key file for an account, signed by a key the emulator verifies. */
  issueKey(email: string): Promise<ReturnType<typeof serviceAccountKeyFile>>;
  /** An `authorized_user` ADC file for a person (gcloud's ADC client id): its refresh answers carry the user's ID token. */
  issueUserCredentials(email: string): ReturnType<EmulatorCore['issueUserCredentials']>;
  /** A Google-signed ID token (for negative tests: `issuedSecondsAgo`, `emailVerified: false`). */
  mintGoogleIdToken(input: { email: string; audience: string; issuedSecondsAgo?: number; lifetimeSeconds?: number; emailVerified?: boolean }): Promise<string>;
  /** The environment a process sets to act as `email` through ADC. */
  envFor(email: string): Promise<Record<string, string>>;
  /** `token_url` of an external_account configuration: the emulator's STS. */
  stsTokenUrl: string;
  /** `service_account_impersonation_url` of an external_account configuration for `email`. */
  impersonationUrlFor(email: string): string;
  /**
   * A simulated GitHub Actions job: the ACTIONS_ID_TOKEN_REQUEST_URL / _TOKEN it sees (absent
   * with `idTokenWrite: false`), which answer signed tokens of its repository, ref, environment.
   */
  registerGithubRunner(input: GithubRunnerInput): GithubRunner;
  /** A GitHub Actions ID token for a job (options: audience, lifetime, expired, bad signature, claim overrides). */
  mintGithubToken(job: GithubJob, options?: MintOptions): Promise<MintedToken>;
  /** A GitLab CI/CD ID token for a job. */
  mintGitlabToken(job: GitlabJob, options?: MintOptions): Promise<MintedToken>;
  /** A token of any simulated issuer with exactly `options.claims` (plus jti, iss, aud and times). */
  mintOidcToken(issuer: string, options?: MintOptions): Promise<MintedToken>;
  /** Simulates one more issuer (https), e.g. a Kubernetes cluster's or a self-managed GitLab. */
  addOidcIssuer(issuer: string, kind?: 'github' | 'gitlab' | 'generic'): void;
  stop(): Promise<void>;
}

/** The fixture, validated (accepts an already-validated one). */
function resolveFixture(fixture: StartEmulatorOptions['fixture'], now?: () => Date): Fixture {
  if (fixture === 'demo') return demoFixture(now ? { now: now() } : {});
  return parseFixture(fixture, 'fixture');
}

function checkMetadataPorts(ports: Record<string, number>): void {
  for (const [email, port] of Object.entries(ports)) {
    if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new RangeError(`metadata port for ${email} must be an integer in 1..65535, got ${port}`);
  }
  const used = Object.values(ports);
  if (new Set(used).size !== used.length) throw new RangeError('two accounts cannot share one metadata port: the port is what tells the accounts apart');
}

export async function startEmulator(options: StartEmulatorOptions): Promise<RunningEmulator> {
  const fixedPorts = options.metadataPorts ?? {};
  checkMetadataPorts(fixedPorts);
  const fixture = resolveFixture(options.fixture, options.now);
  const core = await EmulatorCore.create({ fixture, ...(options.statePath ? { statePath: options.statePath } : {}), ...(options.now ? { now: options.now } : {}) });
  const metadataServers = new Map<string, { server: Server; host: string }>();
  const pendingAttach = new Map<string, Promise<string>>();

  const attach = (email: string): Promise<string> => {
    const existing = metadataServers.get(email);
    if (existing) return Promise.resolve(existing.host);
    let pending = pendingAttach.get(email);
    if (!pending) {
      pending = (async () => {
        if (!core.liveServiceAccount(email)) throw new Error(`unknown service account ${email}`);
        const router = new Router(metadataRoutes(core, email));
        const listener = { core, router, notFound: metadataNotFound };
        const fixed = fixedPorts[email];
        // Reuse the port from before a restart, so processes configured with it keep working.
        const previous = core.state.metadataPorts?.[email];
        const { server, port } =
          fixed !== undefined
            ? await listen(listener, fixed).catch((err: unknown) => {
                throw new MetadataPortError(email, fixed, err);
              })
            : previous
              ? await listen(listener, previous).catch(() => listen(listener, 0))
              : await listen(listener, 0);
        core.state.metadataPorts = { ...core.state.metadataPorts, [email]: port };
        core.markDirty();
        const host = `127.0.0.1:${port}`;
        metadataServers.set(email, { server, host });
        pendingAttach.delete(email);
        return host;
      })();
      // A failed attach may be retried (e.g. after the account is undeleted).
      pending.catch(() => pendingAttach.delete(email));
      pendingAttach.set(email, pending);
    }
    return pending;
  };
  const metadataHosts = () => Object.fromEntries([...metadataServers.entries()].map(([email, { host }]) => [email, host]));

  const router = new Router([]);
  const { server, port } = await listen({ core, router, ...(options.trustClientIpHeader ? { trustClientIpHeader: true } : {}) }, options.port ?? 0);
  const baseUrl = `http://127.0.0.1:${port}`;
  core.baseUrl = baseUrl;
  const issuers = new OidcIssuers(core);
  const routes: RouteDef[] = [
    ...adminRoutes(core, { attach, metadataHosts }),
    ...oidcAdminRoutes(issuers),
    ...oidcIssuerRoutes(issuers),
    ...stsRoutes(core),
    ...cloudRunRoutes(core),
    ...oauth2Routes(core),
    ...apiKeysRoutes(core),
    ...iamCredentialsRoutes(core),
    ...iamRoutes(core),
    ...workloadIdentityRoutes(core),
    ...resourceManagerRoutes(core),
    ...mountGenerativeSurfaces(core),
  ];
  router.add(routes);

  try {
    for (const email of Object.keys(fixedPorts)) await attach(email);
    for (const account of Object.values(core.state.serviceAccounts)) {
      if (account.attachable && !account.deleteTime) await attach(account.email);
    }
  } catch (err) {
    await Promise.all([closeServer(server), ...[...metadataServers.values()].map(({ server: s }) => closeServer(s))]);
    await core.close();
    throw err;
  }

  if (options.credentialsDir) {
    await mkdir(options.credentialsDir, { recursive: true });
    for (const account of fixture.serviceAccounts) {
      const record = core.liveServiceAccount(`${account.accountId}@${account.project}.iam.gserviceaccount.com`);
      if (!record) continue;
      const key = await core.ensureAccountKey(record);
      const file = join(options.credentialsDir, `${record.email}.json`);
      await writeFile(file, JSON.stringify(serviceAccountKeyFile(record, key, baseUrl), null, 2), { mode: 0o600 });
      await chmod(file, 0o600);
    }
  }

  let stopped: Promise<void> | undefined;
  return {
    baseUrl,
    port,
    get metadataHosts() {
      return metadataHosts();
    },
    core,
    attach,
    mintAccessToken: (email, lifetimeSeconds = 3600) => {
      if (!core.liveServiceAccount(email)) throw new Error(`unknown service account ${email}`);
      return core.mintAccessToken('serviceAccount', email, lifetimeSeconds).token;
    },
    issueKey: async (email) => {
      const account = core.liveServiceAccount(email);
      if (!account) throw new Error(`unknown service account ${email}`);
      return serviceAccountKeyFile(account, await core.ensureAccountKey(account), baseUrl);
    },
    issueUserCredentials: (email) => core.issueUserCredentials(email),
    mintGoogleIdToken: async (input) => {
      const response = await fetch(`${baseUrl}/admin/v1/idTokens:mint`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(input) });
      if (!response.ok) throw new Error(`minting an ID token failed: ${response.status} ${await response.text()}`);
      return ((await response.json()) as { token: string }).token;
    },
    envFor: async (email) => {
      const account = core.liveServiceAccount(email);
      if (!account) throw new Error(`unknown service account ${email}`);
      return { GCE_METADATA_HOST: await attach(email), GOOGLE_CLOUD_PROJECT: account.projectId, KEYLESS_EMULATOR: baseUrl };
    },
    stsTokenUrl: `${baseUrl}/v1/token`,
    impersonationUrlFor: (email) => `${baseUrl}/v1/projects/-/serviceAccounts/${email}:generateAccessToken`,
    registerGithubRunner: (input) => issuers.registerGithubRunner(input),
    mintGithubToken: (job, mintOptions) => issuers.mintGithub(job, mintOptions),
    mintGitlabToken: (job, mintOptions) => issuers.mintGitlab(job, mintOptions),
    mintOidcToken: (issuer, mintOptions = {}) => issuers.mint(issuer, {}, mintOptions, { audience: issuer, lifetimeSeconds: 3600 }),
    addOidcIssuer: (issuer, kind = 'generic') => {
      issuers.ensure(issuer, kind);
    },
    stop: () => {
      stopped ??= (async () => {
        await Promise.all([closeServer(server), ...[...metadataServers.values()].map(({ server: s }) => closeServer(s))]);
        await core.close();
      })();
      return stopped;
    },
  };
}

export interface EmulatorCommandArgs {
  port: number;
  /** A fixture file (YAML or JSON) or `demo`. */
  fixture: string;
  state?: string;
  credentialsDir?: string;
  /** A fixed metadata port for the orchestrator (the fixture's first attachable account). */
  metadataPort?: number;
  /** Where the ready line goes (default stdout). */
  out?: (line: string) => void;
}

/** The line `keyless emulator` prints once it is ready. */
export interface EmulatorReadyLine {
  baseUrl: string;
  metadataHosts: Record<string, string>;
  /** The first attachable account (the one given `metadataPort`): keyless runs as it in the embedded default. */
  orchestrator?: { email: string; env: Record<string, string> };
  credentialsDir?: string;
  stateFile?: string;
}

/** The account `keyless emulator` reports as the orchestrator: the fixture's first attachable one. */
function orchestratorOf(fixture: Fixture, origin: string): string {
  const account = fixture.serviceAccounts.find((a) => a.attachable);
  if (!account) throw new FixtureError(origin, ['serviceAccounts: --metadata-port needs an account with attachable: true']);
  return `${account.accountId}@${account.project}.iam.gserviceaccount.com`;
}

/**
 * Runs the emulator until SIGTERM or SIGINT: prints one JSON line when ready, then stops
 * cleanly (servers closed, state flushed). Resolves once stopped.
 */
export async function runEmulatorCommand(args: EmulatorCommandArgs): Promise<void> {
  const fixture = args.fixture === 'demo' ? demoFixture() : await loadFixtureFile(args.fixture);
  const pinned = args.metadataPort !== undefined ? orchestratorOf(fixture, args.fixture) : undefined;
  const emulator = await startEmulator({
    port: args.port,
    fixture,
    ...(pinned ? { metadataPorts: { [pinned]: args.metadataPort! } } : {}),
    ...(args.state ? { statePath: args.state } : {}),
    ...(args.credentialsDir ? { credentialsDir: args.credentialsDir } : {}),
  });
  const orchestrator = pinned ?? Object.values(emulator.core.state.serviceAccounts).find((a) => a.attachable && !a.deleteTime)?.email;
  const ready: EmulatorReadyLine = {
    baseUrl: emulator.baseUrl,
    metadataHosts: emulator.metadataHosts,
    ...(orchestrator ? { orchestrator: { email: orchestrator, env: await emulator.envFor(orchestrator) } } : {}),
    ...(args.credentialsDir ? { credentialsDir: args.credentialsDir } : {}),
    ...(args.state ? { stateFile: args.state } : {}),
  };
  (args.out ?? ((line: string) => process.stdout.write(`${line}\n`)))(JSON.stringify(ready));
  await new Promise<void>((resolve) => {
    const onSignal = () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  await emulator.stop();
}
