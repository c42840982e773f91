// Probe: one live generateContent per model through Vertex, as the pipeline's service account,
// before any traffic moves. It tells apart the ways a fresh setup fails: the model is not served
// in that location (404, permanent), the role has not propagated yet (403 shortly after the grant,
// retried) or is really missing (403 after the window), an API key answered instead of an
// identity (kept distinct), quota and transient errors.

import { ApplicationFailure } from '@temporalio/common';
import type { AuthClient } from 'google-auth-library';
import type { KeylessActivities, ProbeVertexInput } from '../contracts/activities';
import { ErrorType } from '../contracts/errors';
import type { ModelProbe } from '../contracts/reports';
import type { GoogleClients } from '../google/clients';
import { describeGoogleError, googleError, isApiKeyRejection, type GoogleErrorInfo } from '../google/errors';
import { impersonate } from '../google/impersonation';
import { firstAttemptAt } from './context';

/** Google documents "a few minutes, up to seven" for a new binding; ten covers the tail. */
export const DEFAULT_PROPAGATION_WINDOW_MS = 10 * 60_000;

/** Locations worth naming in a hint when a model is not served where the spec asked. */
export const DEFAULT_HINT_LOCATIONS = ['global', 'us-central1', 'us-east5', 'europe-west1', 'europe-west4', 'asia-northeast1'];

const PROBE_PROMPT = 'Reply with the single word: ready';

export interface ProbeDeps {
  clients: GoogleClients;
  /** Where to look for a model that is not served in the spec's location. */
  hintLocations?: string[];
}

export function createProbeActivities(deps: ProbeDeps): Pick<KeylessActivities, 'probeVertex'> {
  const { clients } = deps;
  const hintLocations = deps.hintLocations ?? DEFAULT_HINT_LOCATIONS;

  return {
    /** One live generateContent per model as the service account; throws the first failure, classified. */
    async probeVertex(input) {
      const asAccount = await impersonate(clients, input.serviceAccountEmail);
      const ai = clients.genai({ kind: 'vertex', project: input.project, location: input.location }, { authClient: asAccount });
      const results: ModelProbe[] = [];
      for (const model of input.models) {
        const started = performance.now();
        try {
          const response = await ai.models.generateContent({ model, contents: PROBE_PROMPT, config: { temperature: 0 } });
          results.push({
            model,
            ok: true,
            modelVersion: response.modelVersion ?? model,
            latencyMs: Math.round(performance.now() - started),
            finishReason: String(response.candidates?.[0]?.finishReason ?? 'FINISH_REASON_UNSPECIFIED'),
          });
        } catch (err) {
          throw await probeFailure(err, { ...input, model, hintLocations, clients, asAccount, probed: results });
        }
      }
      return { results };
    },
  };
}

interface FailureContext extends ProbeVertexInput {
  model: string;
  hintLocations: string[];
  clients: GoogleClients;
  asAccount: AuthClient;
  probed: ModelProbe[];
}

async function probeFailure(err: unknown, ctx: FailureContext): Promise<Error> {
  const info = describeGoogleError(err);
  const where = `${ctx.model} on Vertex in ${ctx.location} (project ${ctx.project}) as ${ctx.serviceAccountEmail}`;
  if (info.httpStatus === 404) {
    const servedIn = await locationsServing(ctx);
    const hint = servedIn.length
      ? `it is served in ${servedIn.join(', ')}: set vertex.location to one of them`
      : 'try vertex.location: global, where Google serves most Gemini models';
    return ApplicationFailure.create({
      type: ErrorType.ModelNotServed,
      nonRetryable: true,
      message: `${where}: model not served there (404); ${hint}`,
      details: [{ model: ctx.model, location: ctx.location, servedIn, probed: ctx.probed, error: info }],
    });
  }
  if (isApiKeyRejection(info)) {
    // Vertex should never see a key; if it does, the request did not carry the account's token.
    return ApplicationFailure.create({
      type: ErrorType.ApiKeyRejected,
      nonRetryable: true,
      message: `${where}: refused as an API key (${info.reason}), not as the service account: ${info.message}`,
      details: [info],
    });
  }
  if (info.httpStatus === 403) return permissionFailure(info, ctx, where);
  return googleError(err, { context: `probe ${where}` });
}

/** 403 inside the propagation window is the grant still spreading; after it, a missing role. */
function permissionFailure(info: GoogleErrorInfo, ctx: FailureContext, where: string): ApplicationFailure {
  const windowMs = ctx.propagationWindowMs ?? DEFAULT_PROPAGATION_WINDOW_MS;
  const grantedAtMs = ctx.roleGrantedAt ? Date.parse(ctx.roleGrantedAt) : firstAttemptAt();
  const elapsedMs = Date.now() - grantedAtMs;
  const permission = info.metadata?.permission ?? 'aiplatform.endpoints.predict';
  // Minting the account's token is refused when the orchestrator's token-creator grant is missing.
  const missing = permission === 'iam.serviceAccounts.getAccessToken'
    ? `the orchestrator lacks roles/iam.serviceAccountTokenCreator on ${ctx.serviceAccountEmail}`
    : `${ctx.serviceAccountEmail} lacks roles/aiplatform.user on ${ctx.project}`;
  const details = [{ permission, elapsedMs, windowMs, error: info }];
  if (elapsedMs < windowMs) {
    return ApplicationFailure.create({
      type: ErrorType.Transient,
      message: `${where}: permission ${permission} denied ${Math.round(elapsedMs / 1000)}s after the grant; IAM may still be propagating (window ${Math.round(windowMs / 1000)}s)`,
      details,
    });
  }
  return ApplicationFailure.create({
    type: ErrorType.MissingRole,
    nonRetryable: true,
    message: `${where}: permission ${permission} still denied ${Math.round(elapsedMs / 1000)}s after the grant: ${missing}`,
    details,
  });
}

/**
 * Other locations that serve the model, found with countTokens (no generation, no charge). Only
 * a 200 counts; a 403 or anything else in a location says nothing, so it is left out.
 */
async function locationsServing(ctx: FailureContext): Promise<string[]> {
  const candidates = ctx.hintLocations.filter((l) => l !== ctx.location);
  const answers = await Promise.all(
    candidates.map(async (location) => {
      try {
        const ai = ctx.clients.genai({ kind: 'vertex', project: ctx.project, location }, { authClient: ctx.asAccount });
        await ai.models.countTokens({ model: ctx.model, contents: PROBE_PROMPT });
        return location;
      } catch {
        return undefined;
      }
    }),
  );
  return answers.filter((l): l is string => l !== undefined);
}
