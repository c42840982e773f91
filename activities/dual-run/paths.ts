// The two paths' plumbing for the dual-run: a Vertex client acting as the pipeline's service
// account, and what a failed call becomes (a sample result when the API answered, an
// failure the activity throws when it did not). Every message that leaves here is redacted.

import { ApiError, type GoogleGenAI } from '@google/genai';
import type { AuthClient } from 'google-auth-library';
import type { SideOutcome } from '../../contracts/reports';
import type { GoogleClients } from '../../google/clients';
import { describeGoogleError, redactSecrets } from '../../google/errors';
import { impersonate } from '../../google/impersonation';

const MESSAGE_CHARS = 200;

/** Builds credentials that act as a service account (short-lived tokens; no key file). */
export type VertexAuthFactory = (serviceAccountEmail: string) => Promise<AuthClient>;

/** Impersonation from the orchestrator's own credentials (the emulator's IAM Credentials in emulator mode); the client refreshes its short-lived token itself. */
export function defaultVertexAuth(clients: GoogleClients): VertexAuthFactory {
  return (serviceAccountEmail) => impersonate(clients, serviceAccountEmail);
}

/** A Vertex client authenticated as `auth`, pointed where every client points. */
export function vertexGenAI(clients: GoogleClients, auth: AuthClient, project: string, location: string): GoogleGenAI {
  return clients.genai({ kind: 'vertex', project, location }, { authClient: auth });
}

/** Removes the run's own key string, whatever its shape, and anything shaped like an API key. */
export function redactKeyStrings(text: string, keyString?: string): string {
  return redactSecrets(keyString ? text.split(keyString).join('<redacted-key>') : text);
}

/** A Google API's answer to a failed generateContent. */
export interface CallFailure {
  httpStatus: number;
  status?: string;
  reason?: string;
  message: string;
}

/** The API's answer inside a genai `ApiError`; undefined when the error is not an API answer (network, token, abort). */
export function describeCallError(err: unknown): CallFailure | undefined {
  if (!(err instanceof ApiError)) return undefined;
  const info = describeGoogleError(err);
  return { httpStatus: info.httpStatus || err.status, status: info.status, ...(info.reason ? { reason: info.reason } : {}), message: info.message };
}

/** A failed call as a sample's side result: short, redacted, no key. */
export function callFailure(failure: CallFailure, latencyMs: number, keyString?: string): SideOutcome {
  const message = redactKeyStrings(failure.message, keyString);
  return {
    success: false,
    httpStatus: failure.httpStatus,
    ...(failure.status ? { status: failure.status } : {}),
    ...(failure.reason ? { reason: failure.reason } : {}),
    message: message.length > MESSAGE_CHARS ? `${message.slice(0, MESSAGE_CHARS - 1)}…` : message,
    latencyMs,
  };
}
