// Route documents as JSON files; relative paths resolve against the process's working directory.
// A read stops one byte past the size cap; a write goes to a temporary file with a random name,
// created exclusively (never following a link someone planted there), then renamed over the
// document, so a reader never sees half a document.

import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { MAX_ROUTE_BYTES } from '../contracts/route';
import { checkDocument, readDeadline, type RouteStore } from './store';

export const fileRouteStore: RouteStore = {
  async read(location, options = {}) {
    const path = filePath(location);
    const deadline = readDeadline(options, location);
    let bytes: Buffer;
    try {
      bytes = await readAtMost(path, MAX_ROUTE_BYTES + 1, deadline.signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    } finally {
      deadline.done();
    }
    return checkDocument(location, bytes, options);
  },
  async write(location, route) {
    const path = filePath(location);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${randomBytes(8).toString('hex')}.tmp`;
    const handle = await open(tmp, 'wx', 0o644);
    try {
      await handle.writeFile(`${JSON.stringify(route, null, 2)}\n`);
    } catch (err) {
      await handle.close();
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    await handle.close();
    await rename(tmp, path);
  },
};

function filePath(location: string): string {
  return resolve(location.replace(/^file:\/\//, ''));
}

/** Up to `max` bytes of a file, checking the signal between chunks (a hung file system is not waited on past it). */
async function readAtMost(path: string, max: number, signal: AbortSignal): Promise<Buffer> {
  if (signal.aborted) throw signal.reason as Error;
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(max);
    let filled = 0;
    while (filled < max) {
      const { bytesRead } = await handle.read(buffer, filled, Math.min(4096, max - filled), filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
      if (signal.aborted) throw signal.reason as Error;
    }
    return buffer.subarray(0, filled);
  } finally {
    await handle.close();
  }
}
