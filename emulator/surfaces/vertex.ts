// Vertex AI generateContent (aiplatform.googleapis.com) on the global and regional paths, v1 and
// v1beta1: bearer tokens only, `aiplatform.endpoints.predict` through a role on the project that has
// outlived the IAM propagation delay, and models served per location. Requests, injected faults
// included, are counted for Cloud Monitoring under `serviceaccount:<uniqueId>`.

import type { EmuRequest, EmuResponse, Principal, RouteDef } from '../core/contract';
import { GoogleApiError, permissionDenied } from '../core/errors';
import { isServed, resolveModelVersion } from '../model/fixture';
import { generate, ModelInputError, readPrompt } from '../model/generate';
import { requireJsonBody } from './gemini';
import { bearerPrincipal, generatedResponse, policyMembersOf, responseOfError } from './generative-common';
import type { GenerativeContext } from './generative-context';
import { recordTraffic } from './monitoring';

export const VERTEX_SERVICE = 'aiplatform.googleapis.com';

/** Roles that carry `aiplatform.endpoints.predict`. */
export const VERTEX_PREDICT_ROLES = ['roles/aiplatform.user', 'roles/aiplatform.admin', 'roles/editor', 'roles/owner'] as const;

type Action = 'generateContent' | 'streamGenerateContent' | 'countTokens';

const RPC_OF: Record<Action, string> = {
  generateContent: 'PredictionService.GenerateContent',
  streamGenerateContent: 'PredictionService.StreamGenerateContent',
  countTokens: 'LlmUtilityService.CountTokens',
};

/** The Vertex AI publisher-model routes. */
export function vertexRoutes(ctx: GenerativeContext): RouteDef[] {
  return [
    {
      method: 'POST',
      pattern:
        /^\/(?<version>v1|v1beta1)\/projects\/(?<project>[^/]+)\/locations\/(?<location>[^/]+)\/publishers\/google\/models\/(?<model>[^/:]+):(?<action>generateContent|streamGenerateContent|countTokens)$/,
      surface: 'vertex',
      handler: (req) => serveVertex(ctx, req),
      onInjectedFault: (req, fault) => recordVertexFault(ctx, req, fault),
    },
  ];
}

async function serveVertex(ctx: GenerativeContext, req: EmuRequest): Promise<EmuResponse> {
  // Google measures from arrival: latency the emulator adds before the handler counts too.
  const started = req.receivedAt ?? performance.now();
  const { version, location, model } = req.params as { version: string; location: string; model: string };
  const action = req.params.action as Action;
  const method = `google.cloud.aiplatform.${version}.${RPC_OF[action]}`;
  let projectId: string | undefined;
  let principal: Principal | undefined;
  let response: EmuResponse;
  try {
    principal = bearerPrincipal(ctx, req, VERTEX_SERVICE, method);
    const project = ctx.resolveProject(req.params.project!);
    projectId = project?.projectId;
    const resource = `projects/${req.params.project}/locations/${location}/publishers/google/models/${model}`;
    // An unknown project is indistinguishable from a missing permission, as on Google.
    if (!project || !ctx.hasProjectRole(project.projectId, policyMembersOf(principal), VERTEX_PREDICT_ROLES).effective) {
      throw permissionDenied('aiplatform.endpoints.predict', `//${VERTEX_SERVICE}/${resource}`, VERTEX_SERVICE);
    }
    if (!isServed(ctx.models, { kind: 'vertex', location }, model)) {
      throw new GoogleApiError(
        'NOT_FOUND',
        `Publisher Model \`${resource}\` was not found or your project does not have access to it. Please ensure you are using a valid model version. For more information, see: https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions`,
      );
    }
    response = await answer(ctx, req, action, location, model);
  } catch (err) {
    response = responseOfError(err);
  }
  if (projectId && principal) {
    recordTraffic(ctx, {
      time: ctx.now(),
      project: projectId,
      service: VERTEX_SERVICE,
      method,
      version,
      location,
      credentialId: credentialIdOf(principal),
      responseCode: response.status ?? 200,
      latencyMs: performance.now() - started,
    });
  }
  return response;
}

/**
 * Counts an injected fault against the project in the path, under the bearer's account, the way
 * the served requests above are counted; an unresolvable token or project is not counted.
 */
function recordVertexFault(ctx: GenerativeContext, req: EmuRequest, fault: { status: number; latencyMs: number }): void {
  const principal = req.headers.authorization ? ctx.resolveBearer(req.headers.authorization) : undefined;
  const project = ctx.resolveProject(req.params.project!);
  if (!principal || !project) return;
  const credentialId = credentialIdOf(principal);
  if (!credentialId) return;
  const { version, location } = req.params as { version: string; location: string };
  recordTraffic(ctx, {
    time: ctx.now(),
    project: project.projectId,
    service: VERTEX_SERVICE,
    method: `google.cloud.aiplatform.${version}.${RPC_OF[req.params.action as Action]}`,
    version,
    location,
    credentialId,
    responseCode: fault.status,
    latencyMs: fault.latencyMs,
  });
}

function credentialIdOf(principal: Principal): string {
  if (principal.kind === 'serviceAccount') return `serviceaccount:${principal.uniqueId}`;
  if (principal.kind === 'apiKey') return `apikey:${principal.uid}`;
  return '';
}

async function answer(ctx: GenerativeContext, req: EmuRequest, action: Action, location: string, model: string): Promise<EmuResponse> {
  requireJsonBody(req);
  try {
    if (action === 'countTokens') {
      const prompt = readPrompt(req.body);
      return {
        body: {
          totalTokens: prompt.tokens,
          totalBillableCharacters: (prompt.text + prompt.system).replace(/\s/g, '').length,
          promptTokensDetails: [{ modality: 'TEXT', tokenCount: prompt.tokens }],
        },
      };
    }
    const response = generate({
      body: req.body,
      modelVersion: resolveModelVersion(ctx.models, { kind: 'vertex', location }, model),
      endpoint: 'vertex',
      divergence: ctx.models.divergence,
    });
    response.createTime = ctx.now().toISOString();
    return generatedResponse(req, action, response, ctx.models.vertex.latency);
  } catch (err) {
    if (err instanceof ModelInputError) throw new GoogleApiError('INVALID_ARGUMENT', err.message);
    throw err;
  }
}
