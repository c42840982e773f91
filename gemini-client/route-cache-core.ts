// The route cache's rules, with no schema library in it: read at most once per TTL, a read slower
// than the timeout counts as failed, a failed read keeps the last route seen (with none, the key),
// a lower generation than the one held is ignored. route-cache.ts is the client's cache over it
// (with the route schema); `keyless exec` uses it directly with the full route rules
// (route-rules.ts), so a process that starts before every job does not load zod.

import type { Route } from '../contracts/route';

/** Where a pipeline's route document comes from. */
export interface RouteSource {
  /** For messages: the document's location. */
  readonly location: string;
  /** The route, or undefined when none was published yet; throws when the store cannot be read. `signal` fires when the reader gives up (its timeout). */
  read(signal?: AbortSignal): Promise<Route | undefined>;
}

/** The route a decision uses, and how fresh it is. */
export interface RouteView {
  /** Undefined: no route seen yet, so the key is used. */
  route: Route | undefined;
  /** The last read failed; `route` is the last one seen (or none). */
  stale: boolean;
  /** Why the last read failed, when it did. */
  error?: string;
}

export interface RouteCacheOptions {
  pipeline: string;
  source: RouteSource;
  ttlMs: number;
  /** A read slower than this counts as failed, so a hung store cannot stall a run. */
  readTimeoutMs: number;
  /** Checks a route read from the source (throws to refuse it); default: as the source returned it. */
  check?: (route: Route) => Route;
  now?: () => number;
  /**
   * The last route an earlier process saw (a disk cache) and how long ago it read it: held as the
   * last route seen, and used without a read while younger than the TTL.
   */
  seed?: { route: Route | undefined; ageMs: number };
  /** Called with the route kept after each successful read (to persist it for the next process). */
  onRead?: (route: Route | undefined) => void;
}

/** The cached route; `current()` never rejects. */
export class RouteCache {
  private view: RouteView = { route: undefined, stale: false };
  private expiresAt = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<RouteView> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: RouteCacheOptions) {
    this.now = options.now ?? Date.now;
    if (options.seed) {
      this.view = { route: options.seed.route, stale: false };
      const { ageMs } = options.seed;
      if (ageMs >= 0 && ageMs < options.ttlMs) this.expiresAt = this.now() + options.ttlMs - ageMs;
    }
  }

  /** The route to decide with: the cached one within the TTL, else a fresh read (shared by concurrent callers). */
  current(): RouteView | Promise<RouteView> {
    // The hot path stays synchronous: a pipeline pays for a read once per TTL, not per call.
    if (this.now() < this.expiresAt) return this.view;
    return (this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined)));
  }

  private async refresh(): Promise<RouteView> {
    try {
      const route = await withTimeout((signal) => this.options.source.read(signal), this.options.readTimeoutMs, this.options.source.location);
      if (route && route.pipeline !== this.options.pipeline) {
        throw new Error(`${this.options.source.location} holds the route of ${route.pipeline}, not ${this.options.pipeline}`);
      }
      const checked = route ? (this.options.check ? this.options.check(route) : route) : undefined;
      // A lower generation is an older publication read from a lagging replica: keep the newer one.
      const keep = this.view.route && checked && checked.generation < this.view.route.generation ? this.view.route : checked;
      this.view = { route: keep, stale: false };
      this.options.onRead?.(keep);
    } catch (err) {
      this.view = { route: this.view.route, stale: true, error: err instanceof Error ? err.message : String(err) };
    }
    this.expiresAt = this.now() + this.options.ttlMs;
    return this.view;
  }
}

/** Races the read against the timeout, and aborts the read (its request or file read) when the timeout wins. */
function withTimeout<T>(start: (signal: AbortSignal) => Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const controller = new AbortController();
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new Error(`reading ${what} took longer than ${ms} ms`);
      controller.abort(err);
      reject(err);
    }, ms);
    timer.unref();
  });
  return Promise.race([start(controller.signal), timeout]).finally(() => clearTimeout(timer));
}
