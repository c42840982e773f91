// Reading API keys with the taxonomy's failures, waiting for an API Keys operation, and the
// helpers the key functions share.

import { ErrorType, KeylessError } from '../../contracts/errors';
import type { GoogleClients } from '../clients';
import { googleError } from '../errors';
import { getApiKey, keyFromClient } from './rest';
import type { ApiKeyResource } from './model';

/** Told of progress during long calls; an activity passes its heartbeat, plain callers nothing. */
export type Progress = (details: unknown) => void;

const noProgress: Progress = () => undefined;

const HEARTBEAT_WHILE_WAITING_MS = 5_000;

interface KeyOperation {
  name?: string | null;
  promise(): Promise<[unknown, ...unknown[]]>;
}

/** Waits for an API Keys LRO (the client polls), telling `progress` meanwhile; returns the key it produced. */
export async function waitForKeyOperation(operation: KeyOperation, context: string, progress: Progress = noProgress, notFound: ErrorType = ErrorType.KeyNotFound): Promise<ApiKeyResource> {
  const timer = setInterval(() => progress({ waitingFor: operation.name ?? context }), HEARTBEAT_WHILE_WAITING_MS);
  try {
    const [key] = await operation.promise();
    return keyFromClient(key as Parameters<typeof keyFromClient>[0]);
  } catch (err) {
    throw googleError(err, { context: `${context} (operation ${operation.name ?? '?'})`, notFound });
  } finally {
    clearInterval(timer);
  }
}

/** Reads a key (soft-deleted ones too); 404 is KeyNotFound, non-retryable. */
export async function readKey(clients: GoogleClients, name: string, context: string): Promise<ApiKeyResource> {
  try {
    return await getApiKey(clients, name);
  } catch (err) {
    throw googleError(err, { context: `${context}: reading ${name}`, notFound: ErrorType.KeyNotFound });
  }
}

/** Runs one API Keys call, mapping its errors onto the taxonomy. */
export async function callApiKeys<T>(context: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw googleError(err, { context, notFound: ErrorType.KeyNotFound });
  }
}

/** A mutation on a soft-deleted key: Google answers 400 FAILED_PRECONDITION; say so plainly. */
export function keyIsDeleted(name: string, context: string, deleteTime?: string): KeylessError {
  return new KeylessError({
    type: ErrorType.KeyNotFound,
    nonRetryable: true,
    message: `${context}: key ${name} is deleted (since ${deleteTime ?? 'unknown'}); undelete it first`,
    details: [{ name, deleteTime }],
  });
}
