// The Gemini Developer API (generativelanguage.googleapis.com): generateContent, streaming,
// countTokens and the model catalog, authenticated by API key the way Google judges keys,
// including the phased retirement of standard keys. Every request whose key resolves, injected
// faults included, is counted for Cloud Monitoring under `apikey:<uid>`.

import type { EmuRequest, EmuResponse, RouteDef } from '../core/contract';
import { GoogleApiError, type RpcStatus, unauthenticated } from '../core/errors';
import { isServed, resolveModelVersion } from '../model/fixture';
import { generate, ModelInputError, readPrompt } from '../model/generate';
import { apiKeyOf, generatedResponse, localizedMessage, responseOfError } from './generative-common';
import type { GenerativeContext } from './generative-context';
import { apiTargetsAllow, checkApplication, isUnrestricted } from './key-restrictions';
import { recordTraffic } from './monitoring';

export const GEMINI_SERVICE = 'generativelanguage.googleapis.com';

const UNREGISTERED_MESSAGE =
  "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.";

type Action = 'generateContent' | 'streamGenerateContent' | 'countTokens' | 'getModel' | 'listModels';

const RPC_OF: Record<Action, string> = {
  generateContent: 'GenerativeService.GenerateContent',
  streamGenerateContent: 'GenerativeService.StreamGenerateContent',
  countTokens: 'GenerativeService.CountTokens',
  getModel: 'ModelService.GetModel',
  listModels: 'ModelService.ListModels',
};

/** The Gemini Developer API routes, on `v1beta` and `v1`. */
export function geminiRoutes(ctx: GenerativeContext): RouteDef[] {
  const route = (method: string, pattern: RegExp, action: Action | ((req: EmuRequest) => Action)): RouteDef => {
    const actionOf = (req: EmuRequest) => (typeof action === 'function' ? action(req) : action);
    return {
      method,
      pattern,
      surface: 'gemini',
      handler: (req) => serveGemini(ctx, req, actionOf(req)),
      onInjectedFault: (req, fault) => recordGeminiFault(ctx, req, actionOf(req), fault),
    };
  };
  return [
    route('POST', /^\/(?<version>v1|v1beta)\/models\/(?<model>[^/:]+):(?<action>generateContent|streamGenerateContent|countTokens)$/, (req) => req.params.action as Action),
    route('GET', /^\/(?<version>v1|v1beta)\/models$/, 'listModels'),
    route('GET', /^\/(?<version>v1|v1beta)\/models\/(?<model>[^/:]+)$/, 'getModel'),
  ];
}

/** Who a request counts as, once its credential resolved. */
interface Caller {
  project: string;
  credentialId: string;
}

async function serveGemini(ctx: GenerativeContext, req: EmuRequest, action: Action): Promise<EmuResponse> {
  // Google measures from arrival: latency the emulator adds before the handler counts too.
  const started = req.receivedAt ?? performance.now();
  const version = req.params.version!;
  const method = `google.ai.generativelanguage.${version}.${RPC_OF[action]}`;
  const caller: Caller = { project: '', credentialId: '' };
  let response: EmuResponse;
  try {
    authenticate(ctx, req, method, caller);
    response = await answer(ctx, req, action, version);
  } catch (err) {
    response = responseOfError(err);
  }
  if (caller.project) {
    recordTraffic(ctx, {
      time: ctx.now(),
      project: caller.project,
      service: GEMINI_SERVICE,
      method,
      version,
      location: 'global',
      credentialId: caller.credentialId,
      responseCode: response.status ?? 200,
      latencyMs: performance.now() - started,
    });
  }
  return response;
}

/**
 * Counts an injected fault under the caller's credential: the key when it resolves (deleted keys
 * never reach Google's quota system), or a service account's bearer token. Anything else is not
 * attributable to a consumer and is not counted.
 */
function recordGeminiFault(ctx: GenerativeContext, req: EmuRequest, action: Action, fault: { status: number; latencyMs: number }): void {
  const caller = faultCaller(ctx, req);
  if (!caller) return;
  const version = req.params.version!;
  recordTraffic(ctx, {
    time: ctx.now(),
    project: caller.project,
    service: GEMINI_SERVICE,
    method: `google.ai.generativelanguage.${version}.${RPC_OF[action]}`,
    version,
    location: 'global',
    credentialId: caller.credentialId,
    responseCode: fault.status,
    latencyMs: fault.latencyMs,
  });
}

function faultCaller(ctx: GenerativeContext, req: EmuRequest): Caller | undefined {
  const keyString = apiKeyOf(req);
  if (keyString) {
    const key = ctx.resolveApiKey(keyString);
    return key && !key.deleted ? { project: key.project, credentialId: `apikey:${key.uid}` } : undefined;
  }
  const principal = req.headers.authorization ? ctx.resolveBearer(req.headers.authorization) : undefined;
  return principal?.kind === 'serviceAccount' ? { project: principal.project, credentialId: `serviceaccount:${principal.uniqueId}` } : undefined;
}

/** Judges the request's credential; fills `caller` as soon as the consumer project is known. */
function authenticate(ctx: GenerativeContext, req: EmuRequest, method: string, caller: Caller): void {
  const keyString = apiKeyOf(req);
  if (!keyString) {
    if (req.headers.authorization) {
      // OAuth tokens with the right scope are accepted by the Gemini API too.
      const principal = ctx.resolveBearer(req.headers.authorization);
      if (!principal) throw unauthenticated('ACCESS_TOKEN_TYPE_UNSUPPORTED', { service: GEMINI_SERVICE, method });
      if (principal.kind === 'serviceAccount') {
        caller.project = principal.project;
        caller.credentialId = `serviceaccount:${principal.uniqueId}`;
      }
      return;
    }
    throw new GoogleApiError('PERMISSION_DENIED', UNREGISTERED_MESSAGE);
  }
  const key = ctx.resolveApiKey(keyString);
  if (!key || key.deleted) {
    const message = 'API key not valid. Please pass a valid API key.';
    throw new GoogleApiError('INVALID_ARGUMENT', message, {
      reason: 'API_KEY_INVALID',
      metadata: { service: GEMINI_SERVICE },
      details: [localizedMessage(message)],
    });
  }
  caller.project = key.project;
  caller.credentialId = `apikey:${key.uid}`;
  const consumer = `projects/${key.projectNumber}`;

  if (key.serviceAccountEmail) {
    // An auth key acts as its service account; a deleted or disabled account leaves it nothing to act as.
    if (!key.serviceAccount || key.serviceAccount.disabled) throw unauthenticated(undefined, { service: GEMINI_SERVICE, method });
  } else {
    const now = ctx.now().getTime();
    const { unrestrictedKeysRejectedFrom, allStandardKeysRejectedFrom, rejection } = ctx.keyRetirement;
    const retired =
      (allStandardKeysRejectedFrom !== undefined && now >= allStandardKeysRejectedFrom.getTime()) ||
      (unrestrictedKeysRejectedFrom !== undefined && now >= unrestrictedKeysRejectedFrom.getTime() && isUnrestricted(key.restrictions));
    if (retired) {
      throw new GoogleApiError(rejection.status as RpcStatus, rejection.message, {
        httpStatus: rejection.httpStatus,
        reason: rejection.reason,
        metadata: { service: GEMINI_SERVICE, method, consumer },
      });
    }
  }

  if (!apiTargetsAllow(key.restrictions, GEMINI_SERVICE, method)) {
    const message = `Requests to this API ${GEMINI_SERVICE} method ${method} are blocked.`;
    throw new GoogleApiError('PERMISSION_DENIED', message, {
      reason: 'API_KEY_SERVICE_BLOCKED',
      metadata: { consumer, service: GEMINI_SERVICE, apiName: GEMINI_SERVICE, methodName: method },
      details: [localizedMessage(message)],
    });
  }

  const verdict = checkApplication(key.restrictions, req);
  if (!verdict.allowed) {
    let message: string;
    let reason: string;
    const metadata: Record<string, string> = { consumer, service: GEMINI_SERVICE };
    switch (verdict.restriction) {
      case 'referrer':
        message = `Requests from referer ${verdict.callerValue} are blocked.`;
        reason = 'API_KEY_HTTP_REFERRER_BLOCKED';
        metadata.httpReferrer = verdict.callerValue;
        break;
      case 'ip':
        message = `The provided API key has an IP address restriction. The originating IP address of the call (${verdict.callerValue}) violates this restriction.`;
        reason = 'API_KEY_IP_ADDRESS_BLOCKED';
        metadata.callerIp = verdict.callerValue;
        break;
      case 'android':
        message = `Requests from this Android client application ${verdict.callerValue} are blocked.`;
        reason = 'API_KEY_ANDROID_APP_BLOCKED';
        break;
      case 'ios':
        message = `Requests from this iOS client application ${verdict.callerValue} are blocked.`;
        reason = 'API_KEY_IOS_APP_BLOCKED';
        break;
    }
    throw new GoogleApiError('PERMISSION_DENIED', message, { reason, metadata, details: [localizedMessage(message)] });
  }
}

async function answer(ctx: GenerativeContext, req: EmuRequest, action: Action, version: string): Promise<EmuResponse> {
  const models = ctx.models;
  if (action === 'listModels') return listModels(ctx, req);
  const model = req.params.model!;
  if (action === 'getModel') {
    if (!isServed(models, { kind: 'gemini' }, model)) {
      throw new GoogleApiError('NOT_FOUND', `models/${model} is not found for API version ${version}`);
    }
    return { body: modelResource(ctx, model) };
  }
  if (!isServed(models, { kind: 'gemini' }, model)) {
    throw new GoogleApiError(
      'NOT_FOUND',
      `models/${model} is not found for API version ${version}, or is not supported for ${action}. Call ListModels to see the list of available models and their supported methods.`,
    );
  }
  requireJsonBody(req);
  try {
    if (action === 'countTokens') {
      const { tokens } = readPrompt(req.body);
      return { body: { totalTokens: tokens, promptTokensDetails: [{ modality: 'TEXT', tokenCount: tokens }] } };
    }
    const response = generate({
      body: req.body,
      modelVersion: resolveModelVersion(models, { kind: 'gemini' }, model),
      endpoint: 'gemini',
      divergence: models.divergence,
    });
    return generatedResponse(req, action, response, models.gemini.latency);
  } catch (err) {
    if (err instanceof ModelInputError) throw new GoogleApiError('INVALID_ARGUMENT', err.message);
    throw err;
  }
}

/** A body that is present but not JSON gets Google's parse error. */
export function requireJsonBody(req: EmuRequest): void {
  if (req.body === undefined && req.rawBody.length > 0) {
    throw new GoogleApiError('INVALID_ARGUMENT', `Invalid JSON payload received. Unexpected token.\n${req.rawBody.toString('utf8', 0, 40)}\n^`);
  }
}

function modelResource(ctx: GenerativeContext, model: string): Record<string, unknown> {
  const info = ctx.models.catalog[model];
  return {
    name: `models/${model}`,
    version: info?.version ?? '001',
    displayName: info?.displayName ?? model,
    description: info?.description ?? '',
    inputTokenLimit: info?.inputTokenLimit ?? 1_048_576,
    outputTokenLimit: info?.outputTokenLimit ?? 65_536,
    supportedGenerationMethods: ['generateContent', 'countTokens', 'createCachedContent', 'batchGenerateContent'],
    temperature: 1,
    topP: 0.95,
    topK: 64,
    maxTemperature: 2,
    thinking: true,
  };
}

function listModels(ctx: GenerativeContext, req: EmuRequest): EmuResponse {
  const requested = Number(req.query.get('pageSize') ?? '50');
  const pageSize = Math.min(Math.max(Number.isFinite(requested) && requested > 0 ? Math.floor(requested) : 50, 1), 1000);
  const token = req.query.get('pageToken');
  const offset = token ? Number(Buffer.from(token, 'base64url').toString()) : 0;
  if (!Number.isInteger(offset) || offset < 0) throw new GoogleApiError('INVALID_ARGUMENT', 'Invalid page token.');
  const served = ctx.models.gemini.served;
  const page = served.slice(offset, offset + pageSize).map((m) => modelResource(ctx, m));
  const body: Record<string, unknown> = { models: page };
  if (offset + pageSize < served.length) body.nextPageToken = Buffer.from(String(offset + pageSize)).toString('base64url');
  return { body };
}
