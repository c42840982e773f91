// Small helpers the key activities share: heartbeats that also work outside a worker (tests, the
// CLI), waiting for an API Keys operation, and reading a key with the taxonomy's failures.

import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../contracts/errors';
import type { GoogleClients } from '../google-clients';
import { toApplicationFailure } from '../google-errors';
import { getApiKey, keyFromClient } from './api-keys-rest';
import type { ApiKeyResource } from './model';

/** The Temporal activity context, or undefined when called as a plain function. */
export function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

export function heartbeat(details: unknown): void {
  activityContext()?.heartbeat(details);
}

/** Details of the last heartbeat of a previous attempt, if any. */
export function lastHeartbeat<T>(): T | undefined {
  return activityContext()?.info.heartbeatDetails as T | undefined;
}

const HEARTBEAT_WHILE_WAITING_MS = 5_000;

interface KeyOperation {
  name?: string | null;
  promise(): Promise<[unknown, ...unknown[]]>;
}

/** Waits for an API Keys LRO (the client polls), heartbeating meanwhile; returns the key it produced. */
export async function waitForKeyOperation(operation: KeyOperation, context: string, notFound: ErrorType = ErrorType.KeyNotFound): Promise<ApiKeyResource> {
  const timer = setInterval(() => heartbeat({ waitingFor: operation.name ?? context }), HEARTBEAT_WHILE_WAITING_MS);
  try {
    const [key] = await operation.promise();
    return keyFromClient(key as Parameters<typeof keyFromClient>[0]);
  } catch (err) {
    throw toApplicationFailure(err, { context: `${context} (operation ${operation.name ?? '?'})`, notFound });
  } finally {
    clearInterval(timer);
  }
}

/** Reads a key (soft-deleted ones too); 404 is KeyNotFound, non-retryable. */
export async function readKey(clients: GoogleClients, name: string, context: string): Promise<ApiKeyResource> {
  try {
    return await getApiKey(clients, name);
  } catch (err) {
    throw toApplicationFailure(err, { context: `${context}: reading ${name}`, notFound: ErrorType.KeyNotFound });
  }
}

/** Runs one API Keys call, mapping its errors onto the taxonomy. */
export async function callApiKeys<T>(context: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toApplicationFailure(err, { context, notFound: ErrorType.KeyNotFound });
  }
}

/** A mutation on a soft-deleted key: Google answers 400 FAILED_PRECONDITION; say so plainly. */
export function keyIsDeleted(name: string, context: string, deleteTime?: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: ErrorType.KeyNotFound,
    nonRetryable: true,
    message: `${context}: key ${name} is deleted (since ${deleteTime ?? 'unknown'}); undelete it first`,
    details: [{ name, deleteTime }],
  });
}
