// The embedded Google Cloud for a test file: the emulator on a free port, and the official
// clients acting as the orchestrator account with a token the emulator issued.

import { OAuth2Client } from 'google-auth-library';
import { createGoogleClients, type GoogleClients } from '../../google/clients';
import { DEMO_ORCHESTRATOR, demoFixtureInput, startEmulator, type RunningEmulator } from '../../emulator';
import type { DemoOptions } from '../../emulator/core/demo';

export interface TestCloud {
  emulator: RunningEmulator;
  /** Clients acting as the orchestrator (keyless@demo-project). */
  clients: GoogleClients;
  /** Clients acting as any account of the estate. */
  clientsAs(email: string): GoogleClients;
  stop(): Promise<void>;
}

/** Starts the demo estate (IAM changes effective at once unless asked otherwise). */
export async function startTestCloud(options: DemoOptions & { tweak?: (fixture: ReturnType<typeof demoFixtureInput>) => void } = {}): Promise<TestCloud> {
  const fixture = demoFixtureInput({ iamPropagationDelaySeconds: 0, ...options });
  options.tweak?.(fixture);
  const emulator = await startEmulator({ fixture });
  const clientsAs = (email: string) => {
    const authClient = new OAuth2Client();
    authClient.setCredentials({ access_token: emulator.mintAccessToken(email, 12 * 3600) });
    return createGoogleClients({ mode: 'emulator', baseUrl: emulator.baseUrl }, { authClient });
  };
  return { emulator, clients: clientsAs(DEMO_ORCHESTRATOR), clientsAs, stop: () => emulator.stop() };
}
