// Pieces the Gemini, Vertex, Monitoring and Storage surfaces share: bearer authentication with
// Google's 401s, the LocalizedMessage detail, per-endpoint latency and SSE framing.

import { setTimeout as sleep } from 'node:timers/promises';
import type { EmuRequest, EmuResponse, Principal } from '../core/contract';
import { GoogleApiError, unauthenticated } from '../core/errors';
import type { GenerativeContext } from './generative-context';
import type { GenerateResponse } from '../model/generate';

export const CREDENTIALS_MISSING_MESSAGE =
  'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';

export const API_KEYS_NOT_SUPPORTED_MESSAGE =
  'API keys are not supported by this API. Expected OAuth2 access token or other authentication credentials that assert a principal. See https://cloud.google.com/docs/authentication';

/** The API key a request carries, from `x-goog-api-key` or `?key=`. */
export function apiKeyOf(req: EmuRequest): string | undefined {
  const header = req.headers['x-goog-api-key'];
  const value = Array.isArray(header) ? header[0] : header;
  return value || req.query.get('key') || undefined;
}

/** The principal behind the request's bearer token, or Google's 401 for the way it is missing. */
export function bearerPrincipal(ctx: GenerativeContext, req: EmuRequest, service: string, method: string): Principal {
  const authorization = req.headers.authorization;
  if (!authorization) {
    const metadata = { service, method };
    if (apiKeyOf(req)) {
      throw new GoogleApiError('UNAUTHENTICATED', API_KEYS_NOT_SUPPORTED_MESSAGE, { reason: 'CREDENTIALS_MISSING', domain: 'googleapis.com', metadata });
    }
    throw new GoogleApiError('UNAUTHENTICATED', CREDENTIALS_MISSING_MESSAGE, { reason: 'CREDENTIALS_MISSING', domain: 'googleapis.com', metadata });
  }
  const principal = ctx.resolveBearer(authorization);
  if (!principal) throw unauthenticated('ACCESS_TOKEN_TYPE_UNSUPPORTED', { service, method });
  return principal;
}

/** The IAM member string of a principal, e.g. `serviceAccount:x@p.iam.gserviceaccount.com`. */
export function memberOf(principal: Principal): string {
  if (principal.kind === 'serviceAccount') return `serviceAccount:${principal.email}`;
  if (principal.kind === 'user') return `user:${principal.email}`;
  if (principal.kind === 'federated') return principal.member;
  return principal.serviceAccountEmail ? `serviceAccount:${principal.serviceAccountEmail}` : `apikey:${principal.uid}`;
}

/** The members a principal matches in a policy: a federated principal matches its principalSets too. */
export function policyMembersOf(principal: Principal): string | readonly string[] {
  return principal.kind === 'federated' ? principal.members : memberOf(principal);
}

/** The `details` entry Google adds to Gemini API errors. */
export function localizedMessage(message: string): unknown {
  return { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message };
}

/** Waits the endpoint's configured latency, if any. */
export async function endpointLatency(latency: { fixedMs: number; jitterMs: number }): Promise<void> {
  const ms = latency.fixedMs + (latency.jitterMs > 0 ? Math.random() * latency.jitterMs : 0);
  if (ms > 0) await sleep(ms);
}

/** An error thrown by a handler as the response it stands for. */
export function responseOfError(err: unknown): EmuResponse {
  if (err instanceof GoogleApiError) return err.toResponse();
  throw err;
}

/** Server-sent events the way `alt=sse` frames them: one `data:` line per chunk. */
export function sseResponse(chunks: unknown[]): EmuResponse {
  let raw = '';
  for (const chunk of chunks) raw += `data: ${JSON.stringify(chunk)}\r\n\r\n`;
  return { status: 200, raw, headers: { 'content-type': 'text/event-stream' } };
}

/** A generateContent response cut into stream chunks: text pieces first, finish reason and usage last. */
export function streamChunks(response: GenerateResponse): unknown[] {
  const only = response.candidates.length === 1 ? response.candidates[0] : undefined;
  if (!only) return [response];
  const text = only.content.parts[0]?.text ?? '';
  const words = text.split(' ');
  const size = Math.max(1, Math.ceil(words.length / 3));
  const pieces: string[] = [];
  for (let i = 0; i < words.length; i += size) pieces.push(words.slice(i, i + size).join(' ') + (i + size < words.length ? ' ' : ''));
  const partial = { promptTokenCount: response.usageMetadata.promptTokenCount, totalTokenCount: response.usageMetadata.promptTokenCount };
  return pieces.map((piece, i) => {
    const last = i === pieces.length - 1;
    return {
      candidates: [{ content: { role: 'model', parts: [{ text: piece }] }, ...(last ? { finishReason: only.finishReason } : {}), index: 0 }],
      usageMetadata: last ? response.usageMetadata : partial,
      modelVersion: response.modelVersion,
      responseId: response.responseId,
      ...(response.createTime ? { createTime: response.createTime } : {}),
    };
  });
}

/** A generated answer as the endpoint sends it, after its latency: whole, or streamed (SSE or a JSON array). */
export async function generatedResponse(req: EmuRequest, action: string, response: GenerateResponse, latency: { fixedMs: number; jitterMs: number }): Promise<EmuResponse> {
  await endpointLatency(latency);
  if (action !== 'streamGenerateContent') return { body: response };
  const chunks = streamChunks(response);
  return req.query.get('alt') === 'sse' ? sseResponse(chunks) : { body: chunks };
}
