// The HTTP front of the emulator: body parsing with a size limit, routing on the raw path,
// latency and fault injection, Google-style errors for everything that goes wrong, and the
// audit log. Each request is handled inside its own try/catch and a deadline, so a bad request
// or a bug answers 4xx/5xx instead of crashing the process or hanging the client.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ZodError } from 'zod';
import type { EmuRequest, EmuResponse, RouteDef, SurfaceName } from './contract';
import type { EmulatorCore } from './core';
import { GoogleApiError, googleErrorResponse } from './errors';
import { formatIssues } from './fixture';
import { describePrincipal } from './iam';

/** Largest request body accepted (Cloud Storage uploads of route documents are tiny). */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;
/** No handler may keep a client waiting longer than this. */
const HANDLER_DEADLINE_MS = 120_000;

const READ_ONLY_SURFACES: ReadonlySet<SurfaceName> = new Set(['gemini', 'vertex', 'monitoring']);

/** The routes of one listener, matched in order. */
export class Router {
  constructor(private readonly routes: RouteDef[]) {}

  add(routes: RouteDef[]): void {
    this.routes.push(...routes);
  }

  match(method: string, path: string): { route: RouteDef; params: Record<string, string> } | undefined {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const m = route.pattern.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      for (const [name, value] of Object.entries(m.groups ?? {})) {
        if (value === undefined) continue;
        try {
          params[name] = decodeURIComponent(value);
        } catch {
          params[name] = value;
        }
      }
      return { route, params };
    }
    return undefined;
  }
}

/**
 * gax sends resource names with `%2F` double-encoded as `%252F`; undo one level so patterns
 * see one form.
 */
export function normalizeRawPath(rawPath: string): string {
  return rawPath.replace(/%25([0-9A-Fa-f]{2})/g, '%$1');
}

function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      if (!tooLarge) chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, response: EmuResponse): void {
  if (res.headersSent || res.destroyed) return;
  const status = response.status ?? 200;
  const headers: Record<string, string> = { ...(response.headers ?? {}) };
  let payload: Buffer | string;
  if (response.raw !== undefined) {
    payload = response.raw;
  } else if (response.body === undefined) {
    payload = '';
  } else {
    payload = JSON.stringify(response.body);
    headers['content-type'] ??= 'application/json; charset=UTF-8';
  }
  headers['content-length'] = String(Buffer.byteLength(payload));
  res.writeHead(status, headers);
  res.end(payload);
}

export interface ListenerOptions {
  core: EmulatorCore;
  router: Router;
  /** Answer for paths no route matches; defaults to Google's JSON 404. */
  notFound?: (req: EmuRequest) => EmuResponse;
  /**
   * Take the caller's address from `x-keyless-emulator-client-ip` (the test suite's way to call
   * from a fixed egress IP). Off unless the emulator was started for tests: otherwise any local
   * process could pass an IP-restricted key's check by naming an allowed address.
   */
  trustClientIpHeader?: boolean;
}

/**
 * Whether a Host header names this machine: localhost, 127.0.0.0/8 or [::1], any port. A page in a
 * browser can reach a loopback port through a name it controls (DNS rebinding), but its requests
 * then carry that name, so they are refused before any route sees them.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return true;
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  const lower = name.toLowerCase().replace(/\.$/, '');
  if (lower === 'localhost' || lower.endsWith('.localhost') || lower === '::1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(lower) && lower.split('.').every((n) => Number(n) <= 255);
}

function isJsonContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && /\bjson\b/i.test(contentType);
}

/** Decides whether a matched call goes to the audit log. */
function mutates(route: RouteDef, method: string): boolean {
  if (route.mutates !== undefined) return route.mutates;
  return method !== 'GET' && method !== 'HEAD' && !READ_ONLY_SURFACES.has(route.surface);
}

/** Handles one request end to end; never throws. */
export async function handleRequest(options: ListenerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { core, router } = options;
  let response: EmuResponse;
  let route: RouteDef | undefined;
  let emuReq: EmuRequest | undefined;
  try {
    const receivedAt = performance.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = normalizeRawPath(q >= 0 ? url.slice(0, q) : url);
    const query = new URLSearchParams(q >= 0 ? url.slice(q + 1) : '');
    const method = (req.method ?? 'GET').toUpperCase();
    const body = await readBody(req);
    let decodedPath = rawPath;
    try {
      decodedPath = decodeURIComponent(rawPath);
    } catch {
      // A malformed escape stays as sent; routes match the raw form anyway.
    }
    const overrideIp = options.trustClientIpHeader ? req.headers['x-keyless-emulator-client-ip'] : undefined;
    emuReq = {
      method,
      rawPath,
      path: decodedPath,
      query,
      headers: req.headers,
      body: undefined,
      rawBody: body === 'too-large' ? Buffer.alloc(0) : body,
      clientIp: typeof overrideIp === 'string' && overrideIp !== '' ? overrideIp : (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
      params: {},
      receivedAt,
    };
    if (!isLoopbackHost(req.headers.host)) {
      // The name is not repeated: the answer goes to whatever page sent it.
      response = googleErrorResponse('PERMISSION_DENIED', 'The emulator answers only requests addressed to a loopback name (localhost, 127.0.0.1, [::1]).', {});
    } else if (body === 'too-large') {
      response = googleErrorResponse('INVALID_ARGUMENT', `Request payload size exceeds the limit: ${MAX_BODY_BYTES} bytes.`, {});
    } else {
      const matched = router.match(method, rawPath);
      if (!matched) {
        response = options.notFound
          ? options.notFound(emuReq)
          : googleErrorResponse('NOT_FOUND', `The requested URL ${rawPath} was not found on this server.`, {});
      } else {
        route = matched.route;
        emuReq.params = matched.params;
        response = await runRoute(core, route, emuReq, body);
      }
    }
  } catch (err) {
    response = renderError(err);
  }
  if (route && emuReq && mutates(route, emuReq.method)) {
    core.audit({
      time: core.nowIso(),
      surface: route.surface,
      method: emuReq.method,
      path: emuReq.rawPath,
      principal: describeCaller(core, emuReq),
      status: response.status ?? 200,
    });
    // The change is made and on record; a caller that dies while its answer waits never learns it landed.
    const delay = route.surface === 'admin' ? 0 : (core.faults.get(route.surface)?.mutationResponseDelayMs ?? 0);
    if (delay > 0) await sleep(delay);
  }
  send(res, response);
}

async function runRoute(core: EmulatorCore, route: RouteDef, req: EmuRequest, body: Buffer): Promise<EmuResponse> {
  if (body.length > 0) {
    const contentType = req.headers['content-type'];
    if (isJsonContentType(contentType)) {
      try {
        req.body = JSON.parse(body.toString('utf8'));
      } catch (err) {
        return googleErrorResponse('INVALID_ARGUMENT', `Invalid JSON payload received. ${(err as Error).message}`, {});
      }
    } else if (contentType === undefined) {
      try {
        req.body = JSON.parse(body.toString('utf8'));
      } catch {
        // Not JSON and not declared as such: the handler reads rawBody.
      }
    }
  }
  if (route.surface !== 'admin') {
    const latency = core.addedLatencyMs(route.surface);
    if (latency > 0) await sleep(latency);
    const fault = core.injectedFault(route.surface);
    if (fault) {
      route.onInjectedFault?.(req, { status: fault.status ?? 500, latencyMs: latency });
      return fault;
    }
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<EmuResponse>((resolve) => {
    timer = setTimeout(() => resolve(googleErrorResponse('DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.', {})), HANDLER_DEADLINE_MS);
    timer.unref();
  });
  try {
    return await Promise.race([Promise.resolve().then(() => route.handler(req)), deadline]);
  } catch (err) {
    return renderError(err);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** Any thrown value as a Google error response. */
export function renderError(err: unknown): EmuResponse {
  if (err instanceof GoogleApiError) return err.toResponse();
  if (err instanceof ZodError) {
    return googleErrorResponse('INVALID_ARGUMENT', `Invalid request: ${formatIssues(err).join('; ')}`, { reason: 'BAD_REQUEST', domain: 'googleapis.com' });
  }
  process.stderr.write(`keyless emulator: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
  return googleErrorResponse('INTERNAL', 'Internal error encountered.', {});
}

function describeCaller(core: EmulatorCore, req: EmuRequest): string {
  const authorization = req.headers.authorization;
  if (authorization) return describePrincipal(core.resolveBearer(authorization));
  const apiKey = (req.headers['x-goog-api-key'] as string | undefined) ?? req.query.get('key') ?? undefined;
  if (apiKey) {
    const key = core.keyByString(apiKey);
    return key ? `apiKey:${key.name}` : 'apiKey:unknown';
  }
  return 'anonymous';
}

/** Starts a node:http server on 127.0.0.1 with the pipeline above. */
export async function listen(options: ListenerOptions, port = 0): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    handleRequest(options, req, res).catch((err: unknown) => {
      send(res, renderError(err));
    });
  });
  server.keepAliveTimeout = 5_000;
  // A client that stops sending mid-request must not hold a socket forever.
  server.requestTimeout = 60_000;
  server.headersTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}

/** Closes a server, dropping idle keep-alive sockets so stop() does not wait on them. */
export async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 1_000).unref();
  });
}
