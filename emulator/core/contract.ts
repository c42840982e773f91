// The seam between the emulator's core (HTTP server, state, identities, faults, audit) and
// its surfaces (one module per Google API). Surfaces only see these types; the core owns
// how they are implemented.

import type { IncomingHttpHeaders } from 'node:http';

/** The Google API a route belongs to: faults, latency and audit entries are keyed by it. */
export type SurfaceName =
  | 'apikeys'
  | 'iam'
  | 'resourcemanager'
  | 'iamcredentials'
  | 'oauth2'
  | 'metadata'
  | 'gemini'
  | 'vertex'
  | 'monitoring'
  | 'storage'
  | 'sts'
  | 'run'
  | 'oidc'
  | 'admin';

/** Who made a request, as the emulator resolved it from the request's credentials. */
export type Principal =
  | { kind: 'serviceAccount'; email: string; uniqueId: string; project: string }
  | { kind: 'user'; email: string }
  /** A workload identity pool principal (a token from STS); `member` is its `principal://…`. */
  | { kind: 'federated'; member: string; members: string[]; poolName: string; subject: string }
  | { kind: 'apiKey'; keyName: string; uid: string; project: string; projectNumber: string; serviceAccountEmail?: string };

/** A parsed request as a surface handler sees it. */
export interface EmuRequest {
  method: string;
  /** Path without the query string, exactly as it arrived (still percent-encoded). */
  rawPath: string;
  /** Path segments after percent-decoding once. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or undefined when the body was empty or not JSON. */
  body: unknown;
  rawBody: Buffer;
  /** The caller's address as the emulator sees it; tests may override it with `x-keyless-emulator-client-ip`. */
  clientIp: string;
  /** Captures of the route's pattern. */
  params: Record<string, string>;
  /** `performance.now()` when the request arrived: latencies are measured from here, added latency included. */
  receivedAt?: number;
}

/** What a handler returns; `body` is sent as JSON unless `raw` is given. */
export interface EmuResponse {
  status?: number;
  body?: unknown;
  raw?: Buffer | string;
  headers?: Record<string, string>;
}

export type Handler = (req: EmuRequest) => Promise<EmuResponse> | EmuResponse;

export interface RouteDef {
  method: string;
  /** Matched against `rawPath`; named groups become `params` (percent-decoded). */
  pattern: RegExp;
  surface: SurfaceName;
  handler: Handler;
  /**
   * Whether a call changes state and so goes to the audit log. Default: any method but GET/HEAD,
   * except on the gemini, vertex and monitoring surfaces whose POSTs only read.
   */
  mutates?: boolean;
  /**
   * Called when the core answers the call with an injected fault instead of running the handler,
   * so surfaces that meter traffic (Gemini, Vertex) still count the failure, as Google's own
   * accounting does for its 429s and 5xx.
   */
  onInjectedFault?: (req: EmuRequest, fault: { status: number; latencyMs: number }) => void;
}
