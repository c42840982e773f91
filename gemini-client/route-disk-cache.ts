// The last route seen, kept on disk so the next process starts from it: `keyless exec` runs once
// per job, and a job whose store is down still follows the route its previous run saw. The file
// is the Python client's (keyless_route/cache.py): same folder, name and format, so a runner that
// uses both `keyless exec` and `python -m keyless_route exec` shares one entry per route.

import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, openSync, readSync, closeSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Route } from '../contracts/route';

/** What a reader keeps per (store, project, pipeline). */
export interface RouteDiskEntry {
  /** The route last read; undefined when the store held none. */
  route: Route | undefined;
  /** When it was read (epoch ms): an entry younger than the TTL is used without reading the store. */
  readAtMs: number;
}

/** `$KEYLESS_CACHE_DIR`, else `$XDG_CACHE_HOME/keyless`, else the platform's user cache folder + `keyless`. */
export function defaultCacheDir(env: Record<string, string | undefined>): string {
  if (env.KEYLESS_CACHE_DIR) return env.KEYLESS_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'keyless');
  if (process.platform === 'win32' && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, 'keyless', 'cache');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'keyless');
  return join(env.HOME || homedir(), '.cache', 'keyless');
}

/** One small file per (store, project, pipeline) under defaultCacheDir. */
export function defaultRouteCacheFile(store: string, pipeline: string, project: string | undefined, env: Record<string, string | undefined>): string {
  const digest = createHash('sha256').update(`${store}\u0000${project ?? ''}`).digest('hex').slice(0, 12);
  return join(defaultCacheDir(env), 'routes', `${pipeline}-${digest}.json`);
}

export interface RouteDiskKey {
  store: string;
  pipeline: string;
  project: string | undefined;
}

/**
 * The entry at `file` for this key, or undefined (missing, another key's, unreadable). `check`
 * holds its route to the same rules as a store's document: the file is outside this process too.
 */
export function readRouteDiskEntry(file: string, key: RouteDiskKey, check: (document: string) => Route): RouteDiskEntry | undefined {
  let text: string;
  try {
    text = readCapped(file, 64 * 1024);
  } catch {
    return undefined;
  }
  try {
    const entry = JSON.parse(text) as Record<string, unknown> | null;
    if (typeof entry !== 'object' || entry === null || entry.v !== 1) return undefined;
    // Python writes a missing project as null.
    if (entry.store !== key.store || entry.pipeline !== key.pipeline || (entry.project ?? undefined) !== key.project) return undefined;
    if (typeof entry.readAtMs !== 'number' || !Number.isSafeInteger(entry.readAtMs)) return undefined;
    const route = entry.route === null || entry.route === undefined ? undefined : check(JSON.stringify(entry.route));
    return { route, readAtMs: entry.readAtMs };
  } catch {
    return undefined;
  }
}

/** Writes the entry privately under a random name, then renames it over the old one; failures are ignored (the cache is a help, not a need). */
export function writeRouteDiskEntry(file: string, key: RouteDiskKey, entry: RouteDiskEntry): void {
  const body = { v: 1, store: key.store, pipeline: key.pipeline, project: key.project ?? null, readAtMs: entry.readAtMs, route: entry.route ?? null };
  const tmp = `${file}.${randomBytes(8).toString('hex')}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(tmp, JSON.stringify(body), { mode: 0o600, flag: 'wx' });
    renameSync(tmp, file);
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing was written
    }
  }
}

function readCapped(file: string, max: number): string {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(max);
    const n = readSync(fd, buffer, 0, max, 0);
    return buffer.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
