// Starts the real emulator (startEmulator) with a small estate for the generative and data
// surface tests: one project, the accounts and keys a test names, the demo models, and a clock
// the test can move.

import { startEmulator, type FixtureInput, type RunningEmulator } from '../../emulator/index';
import { demoModels } from '../../emulator/model/fixture';

export const PROJECT = 'demo-project';
export const PROJECT_NUMBER = '480213697513';

/** The email of an account of the test project. */
export const sa = (accountId: string) => `${accountId}@${PROJECT}.iam.gserviceaccount.com`;

export interface Harness {
  emulator: RunningEmulator;
  baseUrl: string;
  port: number;
  /** Moves the emulator's clock relative to the wall clock. */
  clock: { offsetMs: number };
  /** An access token for an account of the fixture. */
  token(email: string): string;
  /** The uid of the key with this key string (Monitoring's `apikey:<uid>`). */
  keyUid(keyString: string): string;
  close(): Promise<void>;
}

export type KeyFixture = NonNullable<FixtureInput['keys']>[number];
export type AccountFixture = NonNullable<FixtureInput['serviceAccounts']>[number];

export async function startHarness(options: Partial<FixtureInput> = {}): Promise<Harness> {
  const clock = { offsetMs: 0 };
  const emulator = await startEmulator({
    fixture: {
      projects: [{ id: PROJECT, number: PROJECT_NUMBER }],
      models: demoModels,
      ...options,
    },
    now: () => new Date(Date.now() + clock.offsetMs),
    // The IP-restricted keys' tests call from chosen egress addresses.
    trustClientIpHeader: true,
  });
  return {
    emulator,
    baseUrl: emulator.baseUrl,
    port: emulator.port,
    clock,
    token: (email) => emulator.mintAccessToken(email),
    keyUid: (keyString) => {
      const key = emulator.core.keyByString(keyString);
      if (!key) throw new Error(`no key ${keyString}`);
      return key.uid;
    },
    close: () => emulator.stop(),
  };
}

/** A key of the test project with a fixed key string. */
export function key(keyId: string, keyString: string, extra: Partial<KeyFixture> = {}): KeyFixture {
  return { project: PROJECT, keyId, keyString, ...extra };
}

/** An account of the test project. */
export function account(accountId: string, roles: string[] = [], extra: Partial<AccountFixture> = {}): AccountFixture {
  return { project: PROJECT, accountId, roles, ...extra };
}
