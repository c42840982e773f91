// Route documents as JSON files; relative paths resolve against the process's working directory.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { RouteSchema } from '../contracts/route';
import type { RouteStore } from './store';

export const fileRouteStore: RouteStore = {
  async read(location) {
    const path = filePath(location);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return RouteSchema.parse(JSON.parse(text));
  },
  async write(location, route) {
    const path = filePath(location);
    await mkdir(dirname(path), { recursive: true });
    // Write then rename, so a reader never sees half a document.
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(route, null, 2)}\n`);
    await rename(tmp, path);
  },
};

function filePath(location: string): string {
  return resolve(location.replace(/^file:\/\//, ''));
}
