// The Gemini client a pipeline calls instead of @google/genai directly. Per run (or per call) it
// follows the route keyless publishes: the API key on the Gemini API, or Vertex AI with
// Application Default Credentials. Each backend gets its own GoogleGenAI, so no client ever holds
// both an API key and Vertex settings; where requests go (Google or the emulator) is decided by
// google/endpoints.ts alone. It depends on @google/genai, google-auth-library and
// @google-cloud/storage only: never on Temporal or the orchestrator's admin clients.

import { randomUUID } from 'node:crypto';
import type { Storage } from '@google-cloud/storage';
import type { GenerateContentParameters, GenerateContentResponse, GoogleGenAI } from '@google/genai';
import { GoogleAuth, type AuthClient, type OAuth2Client } from 'google-auth-library';
import { emulatorCredentials } from '../google/emulator-credentials';
import { CLOUD_PLATFORM, endpointConfigFromEnv, type EndpointConfig } from '../google/endpoints';
import { createGenAi, type GenAiTarget } from '../google/genai';
import { impersonatedClient } from '../google/impersonation';
import { createStorage } from '../google/storage';
import { apiKeyFromEnv, assertNoConflictingCredentials } from './environment';
import { RouteCache, routeSourceFromStore, type RouteSource, type RouteView } from './route-cache';
import { choosesVertex } from './split';

/** Which credential a call used. */
export type AuthMode = 'api-key' | 'vertex';

/** What one generateContent did, for the pipeline's own logs (never holds a key string). */
export interface CallOutcome {
  pipeline: string;
  runId: string;
  authMode: AuthMode;
  model: string;
  /** HTTP status: 200 on success, the error's status otherwise (0: no response). */
  status: number;
  latencyMs: number;
  /** The route generation the decision used; undefined when no route was seen (key). */
  routeGeneration?: number;
  /** The route store could not be read and the last route seen (or the key) was used. */
  routeStale: boolean;
}

export interface GeminiClientOptions {
  pipeline: string;
  /**
   * The pipeline's project, as in its spec: its route is read at `<store>/<project>/<pipeline>.json`
   * (then once at the old `<store>/<pipeline>.json`) and must name this project.
   */
  project: string;
  /**
   * The route's store (`file://dir` or `gs://bucket/prefix`, as in the spec's route.store), whose
   * documents are held to the route rules; or a RouteSource of the pipeline's own code, trusted as it is.
   */
  route: { store: string } | RouteSource;
  /** Pins beyond the project: `serviceAccount` refuses a route naming another account (and allows one of another project). */
  expect?: { serviceAccount?: string };
  /** The API key, as the pipeline reads it from its secret store; default GEMINI_API_KEY / GOOGLE_API_KEY. Asked for only when the key path is taken. */
  apiKey?: () => Promise<string>;
  /** 'per-run' (default): every call of a run uses one auth; 'per-call': each call decides. */
  mode?: 'per-run' | 'per-call';
  /** The default run's id (e.g. the scheduler's execution id); random when absent. */
  runId?: string;
  /**
   * How Vertex calls authenticate: 'adc' (default) as the pipeline's own ADC principal, which
   * should be the route's service account; 'impersonate': ADC mints short-lived tokens of the
   * route's serviceAccount (needs roles/iam.serviceAccountTokenCreator on it).
   */
  vertexAuth?: 'adc' | 'impersonate';
  /** Credentials instead of ADC (e.g. a token the pipeline already holds). */
  authClient?: OAuth2Client;
  onCall?: (outcome: CallOutcome) => void;
  /** How long a route read is reused; default 10 s, so a published change is followed within it. */
  ttlMs?: number;
  /** A route read slower than this counts as failed; default 2 s. */
  routeReadTimeoutMs?: number;
  /** Variables read once at start (conflicts, KEYLESS_EMULATOR, GEMINI_API_KEY); default process.env. */
  env?: Record<string, string | undefined>;
}

/** The part of @google/genai's Models a pipeline calls, with the same types. */
export interface GeminiModels {
  generateContent(params: GenerateContentParameters): Promise<GenerateContentResponse>;
}

/** One run: in per-run mode all its calls use the auth chosen at its first call. */
export interface GeminiRun {
  readonly runId: string;
  readonly models: GeminiModels;
}

export interface GeminiClient extends GeminiRun {
  /** A new run (e.g. one tick of a scheduled job) with its own auth decision. */
  run(runId?: string): GeminiRun;
  /** The route as the client currently sees it. */
  route(): Promise<RouteView>;
}

export const DEFAULT_ROUTE_TTL_MS = 10_000;
export const DEFAULT_ROUTE_READ_TIMEOUT_MS = 2_000;

/** Builds the client; throws ConflictingCredentialsError when the environment would confuse the SDK. */
export function createGeminiClient(options: GeminiClientOptions): GeminiClient {
  const env = options.env ?? process.env;
  assertNoConflictingCredentials(env);
  let google: PipelineGoogle | undefined;
  const lazyGoogle = () => (google ??= pipelineGoogle(endpointConfigFromEnv(env), options.authClient, env));
  const reader = { pipeline: options.pipeline, project: options.project, ...(options.expect ? { expect: options.expect } : {}) };
  const fromStore = !('read' in options.route);
  const source = 'read' in options.route ? options.route : routeSourceFromStore(options.route.store, reader, () => lazyGoogle().storage());
  const routes = new RouteCache({
    ...(fromStore ? { reader } : {}),
    pipeline: options.pipeline,
    source,
    ttlMs: options.ttlMs ?? DEFAULT_ROUTE_TTL_MS,
    readTimeoutMs: options.routeReadTimeoutMs ?? DEFAULT_ROUTE_READ_TIMEOUT_MS,
  });
  const backends = new Backends(lazyGoogle, options.apiKey ?? envApiKey(env), options.vertexAuth ?? 'adc');
  const perCall = options.mode === 'per-call';

  const run = (runId: string = randomUUID()): GeminiRun => {
    let calls = 0;
    let fixed: Promise<Decision> | undefined;
    const decide = async (): Promise<Decision> => {
      const view = await routes.current();
      const unit = perCall ? `${runId}#${calls++}` : runId;
      const vertex = view.route !== undefined && choosesVertex(view.route.vertexPercent, options.pipeline, unit);
      return { view, authMode: vertex ? 'vertex' : 'api-key' };
    };
    const models: GeminiModels = {
      async generateContent(params) {
        const decision = await (perCall ? decide() : (fixed ??= decide()));
        const ai = await backends.for(decision);
        const started = performance.now();
        let status = 200;
        try {
          return await ai.models.generateContent(params);
        } catch (err) {
          status = httpStatusOf(err);
          throw err;
        } finally {
          options.onCall?.({
            pipeline: options.pipeline,
            runId,
            authMode: decision.authMode,
            model: params.model,
            status,
            latencyMs: performance.now() - started,
            routeGeneration: decision.view.route?.generation,
            routeStale: decision.view.stale,
          });
        }
      },
    };
    return { runId, models };
  };

  const first = run(options.runId);
  return { runId: first.runId, models: first.models, run, route: async () => routes.current() };
}

interface Decision {
  view: RouteView;
  authMode: AuthMode;
}

/** The Google pieces a pipeline needs, pointed where the one endpoint configuration says. */
interface PipelineGoogle {
  genai(target: GenAiTarget, authClient?: AuthClient): GoogleGenAI;
  storage(): Storage;
  impersonate(serviceAccount: string): Promise<AuthClient>;
}

function pipelineGoogle(config: EndpointConfig, authClient: OAuth2Client | undefined, env: Record<string, string | undefined>): PipelineGoogle {
  let storage: Storage | undefined;
  let auth: GoogleAuth | OAuth2Client | undefined;
  let emulator: OAuth2Client | undefined;
  // With the emulator every client gets explicit emulator credentials, never ADC's search (which
  // finds the user's own gcloud login first): see google/emulator-credentials.ts for the order.
  const own = (): OAuth2Client | undefined => authClient ?? (config.mode === 'emulator' ? (emulator ??= emulatorCredentials(config, env)) : undefined);
  return {
    // A caller's own credentials (authClient) act for Vertex too, as with the orchestrator's clients.
    genai: (target, asAccount) => createGenAi(config, target, target.kind === 'vertex' ? (asAccount ?? own()) : undefined),
    storage: () => (storage ??= createStorage(config, own())),
    impersonate: (serviceAccount) => impersonatedClient(config, (auth ??= own() ?? new GoogleAuth({ scopes: [CLOUD_PLATFORM] })), serviceAccount, { lifetimeSeconds: 3600 }),
  };
}

/** One GoogleGenAI per backend (and per Vertex project/location/account), made on first use. */
class Backends {
  private gemini: Promise<GoogleGenAI> | undefined;
  private readonly vertex = new Map<string, Promise<GoogleGenAI>>();

  constructor(
    private readonly google: () => PipelineGoogle,
    private readonly apiKey: () => Promise<string>,
    private readonly vertexAuth: 'adc' | 'impersonate',
  ) {}

  for(decision: Decision): Promise<GoogleGenAI> {
    const route = decision.view.route;
    if (decision.authMode === 'api-key' || !route) {
      // A failed key read is not cached: the next run asks the secret store again.
      return (this.gemini ??= this.apiKey().then((apiKey) => this.google().genai({ kind: 'gemini', apiKey }), (err) => {
        this.gemini = undefined;
        throw err;
      }));
    }
    const id = `${route.project}/${route.location}/${this.vertexAuth === 'impersonate' ? route.serviceAccount : 'adc'}`;
    let ai = this.vertex.get(id);
    if (!ai) {
      ai = this.vertexClient(route.project, route.location, route.serviceAccount);
      this.vertex.set(id, ai);
      ai.catch(() => this.vertex.delete(id));
    }
    return ai;
  }

  private async vertexClient(project: string, location: string, serviceAccount: string): Promise<GoogleGenAI> {
    const target = { kind: 'vertex' as const, project, location };
    if (this.vertexAuth === 'adc') return this.google().genai(target);
    return this.google().genai(target, await this.google().impersonate(serviceAccount));
  }
}

function envApiKey(env: Record<string, string | undefined>): () => Promise<string> {
  return async () => {
    const key = apiKeyFromEnv(env);
    if (!key) throw new Error('the route selects the API key but none is configured: set GEMINI_API_KEY or pass apiKey to createGeminiClient');
    return key;
  };
}

/** @google/genai's ApiError carries `status`; anything without a response is 0. */
function httpStatusOf(err: unknown): number {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : 0;
}
