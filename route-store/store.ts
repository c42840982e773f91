// What a route store is: a place route documents are read from and written to. Every read holds
// the document to the route rules (contracts/route-rules.ts): at most 16 KiB, read no further
// than that, within a timeout, the pipeline its location names, a generation at most a day ahead.

import { ErrorType, KeylessError } from '../contracts/errors';
import { parseRouteDocument, RouteRefused, type Route, type RouteExpectation } from '../contracts/route';

/** How long a store read may take by default before it is abandoned (the pipeline client passes its own, shorter one). */
export const DEFAULT_ROUTE_READ_TIMEOUT_MS = 10_000;

/** What a read checks the document against, beyond the rules. */
export interface RouteReadOptions {
  /** The pipeline asked for; default the location's file name (`…/<pipeline>.json`). */
  pipeline?: string;
  expect?: RouteExpectation;
  /** The reader's clock (for the generation rule); default Date.now(). */
  nowMs?: number;
  /** Aborts the read (the caller's timeout). */
  signal?: AbortSignal;
  /** Default DEFAULT_ROUTE_READ_TIMEOUT_MS. */
  timeoutMs?: number;
}

/** A place route documents are kept. */
export interface RouteStore {
  /** The route at `location`, or undefined when none was published there; a document that breaks a rule fails with RouteRefused. */
  read(location: string, options?: RouteReadOptions): Promise<Route | undefined>;
  /** `overwrite`: write even over a newer or refused document (rollback's way back to the key). */
  write(location: string, route: Route, options?: { overwrite?: boolean }): Promise<void>;
}

/** StaleRoute: the store holds a newer generation than the one being written. */
export function staleRoute(location: string, stored: number, attempted: number): KeylessError {
  return new KeylessError({
    type: ErrorType.StaleRoute,
    message: `route ${location} is at generation ${stored}, newer than ${attempted}: someone else published it`,
  });
}

/** The pipeline a location names: its file name without `.json`. */
export function pipelineOfLocation(location: string): string {
  return (location.split('/').pop() ?? '').replace(/\.json$/, '');
}

/** Checks a document's bytes as every reader does; a refusal becomes a RouteRefused KeylessError naming the location and the field, never the value. */
export function checkDocument(location: string, bytes: Uint8Array, options: RouteReadOptions): Route {
  try {
    return parseRouteDocument(bytes, { pipeline: options.pipeline ?? pipelineOfLocation(location), nowMs: options.nowMs ?? Date.now(), ...(options.expect ? { expect: options.expect } : {}) });
  } catch (err) {
    if (err instanceof RouteRefused) throw routeRefused(location, err);
    throw err;
  }
}

/** The KeylessError for a refused document. */
export function routeRefused(location: string, refusal: RouteRefused): KeylessError {
  return new KeylessError({ type: ErrorType.RouteRefused, message: `${location}: ${refusal.message}`, details: [{ field: refusal.field }] });
}

/** A signal that fires on the caller's signal or after the timeout, and its cleanup. */
export function readDeadline(options: RouteReadOptions, location: string): { signal: AbortSignal; done: () => void } {
  const ms = options.timeoutMs ?? DEFAULT_ROUTE_READ_TIMEOUT_MS;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new KeylessError({ type: ErrorType.Transient, message: `reading ${location} took longer than ${ms} ms` })), ms);
  timer.unref?.();
  const onAbort = () => controller.abort(options.signal?.reason);
  if (options.signal?.aborted) controller.abort(options.signal.reason);
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    done: () => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    },
  };
}

/** Rejects with the signal's reason once it fires. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}
