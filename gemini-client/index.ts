// The route-aware Gemini client a pipeline uses instead of constructing @google/genai itself.

export { createGeminiClient, DEFAULT_ROUTE_READ_TIMEOUT_MS, DEFAULT_ROUTE_TTL_MS } from './client';
export type { AuthMode, CallOutcome, GeminiClient, GeminiClientOptions, GeminiModels, GeminiRun } from './client';
export { apiKeyFromEnv, assertNoConflictingCredentials, ConflictingCredentialsError, environmentConflicts, type EnvironmentConflict } from './environment';
export { RouteCache, routeSourceFromStore, type RouteSource, type RouteView } from './route-cache';
export { choosesVertex, splitBucket } from './split';
