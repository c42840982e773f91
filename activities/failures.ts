// Where the libraries' plain failures become Temporal's: a KeylessError (google/, route-store/)
// turns into an ApplicationFailure of the same taxonomy type, retryability, message and details;
// any other error from a Google client is classified first. Every activity passes through this,
// so the libraries below never import Temporal.

import { ApplicationFailure, TemporalFailure } from '@temporalio/common';
import { isKeylessError, type KeylessError } from '../contracts/errors';
import { googleError } from '../google/errors';

/** The ApplicationFailure an activity throws for `err`; Temporal's own failures (an ApplicationFailure, a cancellation) pass through. */
export function toFailure(err: unknown, context: string): unknown {
  if (err instanceof TemporalFailure) return err;
  const typed: KeylessError = isKeylessError(err) ? err : googleError(err, { context });
  return ApplicationFailure.create({ type: typed.type, nonRetryable: typed.nonRetryable, message: typed.message, details: typed.details });
}

/** The same activities, each turning what it throws into an ApplicationFailure (toFailure). */
export function withFailures<T extends object>(activities: T): T {
  const wrapped: Record<string, (...args: never[]) => Promise<unknown>> = {};
  for (const [name, fn] of Object.entries(activities) as [string, (...args: never[]) => Promise<unknown>][]) {
    wrapped[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw toFailure(err, name);
      }
    };
  }
  return wrapped as T;
}
