// Records every key activity call of a test file (input, output, failure) so the file can prove
// that no key string the emulator issued ever crossed an activity boundary.

import { ApplicationFailure } from '@temporalio/common';
import type { KeylessActivities as KeyActivities } from '../../activities';
import type { GoogleClients } from '../../google/clients';

export interface RecordedCall {
  activity: string;
  input: unknown;
  output?: unknown;
  failure?: { type?: string | null; nonRetryable: boolean; message: string; details?: unknown };
}

/** Wraps each activity so calls are recorded; failures are recorded and rethrown. */
export function recordActivities(activities: KeyActivities, calls: RecordedCall[]): KeyActivities {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities) as [string, (input: unknown) => Promise<unknown>][]) {
    wrapped[name] = async (input: unknown) => {
      const call: RecordedCall = { activity: name, input };
      calls.push(call);
      try {
        call.output = await fn(input);
        return call.output;
      } catch (err) {
        call.failure =
          err instanceof ApplicationFailure
            ? { type: err.type, nonRetryable: err.nonRetryable === true, message: err.message, details: err.details }
            : { nonRetryable: false, message: String(err) };
        throw err;
      }
    };
  }
  return wrapped as unknown as KeyActivities;
}

/** Every key string of the project, deleted keys included, read the way an operator would. */
export async function issuedKeyStrings(clients: GoogleClients, project: string): Promise<string[]> {
  const strings: string[] = [];
  const [all] = await clients.apiKeys.listKeys({ parent: `projects/${project}/locations/global`, showDeleted: true });
  for (const key of all) {
    const [{ keyString }] = await clients.apiKeys.getKeyString({ name: key.name! });
    if (keyString) strings.push(keyString);
  }
  return strings;
}

/** Key strings found in the serialised calls (should be none). */
export function leakedKeyStrings(calls: RecordedCall[], keyStrings: string[]): string[] {
  const serialised = JSON.stringify(calls);
  return keyStrings.filter((s) => serialised.includes(s));
}
