// The embedded Google Cloud: one HTTP port for every Google surface keyless uses, plus one GCE
// metadata server port per attached service account. Start it in-process with `startEmulator`,
// or as a command with `runEmulatorCommand` (the `keyless emulator` CLI verb).

import { chmod, mkdir, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { RouteDef } from './core/contract';
import { EmulatorCore } from './core/core';
import { demoFixture } from './core/demo';
import { loadFixtureFile, parseFixture, type Fixture, type FixtureInput } from './core/fixture';
import { mountGenerativeSurfaces } from './core/generative-mount';
import { closeServer, listen, Router } from './core/http';
import { serviceAccountKeyFile } from './core/identity';
import { adminRoutes } from './surfaces/admin';
import { apiKeysRoutes } from './surfaces/apikeys';
import { iamRoutes } from './surfaces/iam';
import { iamCredentialsRoutes } from './surfaces/iamcredentials';
import { metadataNotFound, metadataRoutes } from './surfaces/metadata';
import { oauth2Routes } from './surfaces/oauth2';
import { resourceManagerRoutes } from './surfaces/resourcemanager';

export { demoFixture, demoFixtureInput, DEMO_ORCHESTRATOR, DEMO_PROJECT, DEMO_PROJECT_NUMBER, ORCHESTRATOR_ROLES, PIPELINE_ANNOTATION } from './core/demo';
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
  /** The environment a process sets to act as `email` through ADC. */
  envFor(email: string): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

/** The fixture, validated (accepts an already-validated one). */
function resolveFixture(fixture: StartEmulatorOptions['fixture'], now?: () => Date): Fixture {
  if (fixture === 'demo') return demoFixture(now ? { now: now() } : {});
  return parseFixture(fixture, 'fixture');
}

export async function startEmulator(options: StartEmulatorOptions): Promise<RunningEmulator> {
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
        // Reuse the port from before a restart, so processes configured with it keep working.
        const previous = core.state.metadataPorts?.[email];
        const { server, port } = previous ? await listen(listener, previous).catch(() => listen(listener, 0)) : await listen(listener, 0);
        core.state.metadataPorts = { ...core.state.metadataPorts, [email]: port };
        core.markDirty();
        const host = `127.0.0.1:${port}`;
        metadataServers.set(email, { server, host });
        pendingAttach.delete(email);
        return host;
      })();
      pendingAttach.set(email, pending);
    }
    return pending;
  };
  const metadataHosts = () => Object.fromEntries([...metadataServers.entries()].map(([email, { host }]) => [email, host]));

  const router = new Router([]);
  const { server, port } = await listen({ core, router }, options.port ?? 0);
  const baseUrl = `http://127.0.0.1:${port}`;
  core.baseUrl = baseUrl;
  const routes: RouteDef[] = [
    ...adminRoutes(core, { attach, metadataHosts }),
    ...oauth2Routes(core),
    ...apiKeysRoutes(core),
    ...iamCredentialsRoutes(core),
    ...iamRoutes(core),
    ...resourceManagerRoutes(core),
    ...mountGenerativeSurfaces(core),
  ];
  router.add(routes);

  for (const account of Object.values(core.state.serviceAccounts)) {
    if (account.attachable && !account.deleteTime) await attach(account.email);
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
    envFor: async (email) => {
      const account = core.liveServiceAccount(email);
      if (!account) throw new Error(`unknown service account ${email}`);
      return { GCE_METADATA_HOST: await attach(email), GOOGLE_CLOUD_PROJECT: account.projectId, KEYLESS_EMULATOR: baseUrl };
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
  /** Where the ready line goes (default stdout). */
  out?: (line: string) => void;
}

/** The line `keyless emulator` prints once it is ready. */
export interface EmulatorReadyLine {
  baseUrl: string;
  metadataHosts: Record<string, string>;
  /** The first attachable account: the one keyless runs as in the embedded default. */
  orchestrator?: { email: string; env: Record<string, string> };
  credentialsDir?: string;
  stateFile?: string;
}

/**
 * Runs the emulator until SIGTERM or SIGINT: prints one JSON line when ready, then stops
 * cleanly (servers closed, state flushed). Resolves once stopped.
 */
export async function runEmulatorCommand(args: EmulatorCommandArgs): Promise<void> {
  const fixture = args.fixture === 'demo' ? demoFixture() : await loadFixtureFile(args.fixture);
  const emulator = await startEmulator({
    port: args.port,
    fixture,
    ...(args.state ? { statePath: args.state } : {}),
    ...(args.credentialsDir ? { credentialsDir: args.credentialsDir } : {}),
  });
  const attachable = Object.values(emulator.core.state.serviceAccounts).find((a) => a.attachable && !a.deleteTime);
  const ready: EmulatorReadyLine = {
    baseUrl: emulator.baseUrl,
    metadataHosts: emulator.metadataHosts,
    ...(attachable ? { orchestrator: { email: attachable.email, env: await emulator.envFor(attachable.email) } } : {}),
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
