// Loading a fleet: a folder of specs or one file, every pipeline validated with its place in the path.

import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadFleet } from '../../client/fleets';
import { UserError } from '../../client/errors';

const fixture = (path: string) => fileURLToPath(new URL(`../fixtures/${path}`, import.meta.url));

async function loadError(path: string, options = {}): Promise<string> {
  const err = await loadFleet(path, options).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(UserError);
  return (err as UserError).message;
}

describe('loadFleet', () => {
  it('names the broken pipeline of a folder by its index and field', async () => {
    expect(await loadError(fixture('fleet'))).toMatch(/pipelines\[1\]\.canary\.steps\[1\]\.percent: canary step percents must rise strictly/);
  });

  it('takes a single spec file as a fleet of one, with the command line settings', async () => {
    const fleet = await loadFleet(fixture('fleet/a-nightly.yaml'), { name: 'night', waveSize: 3, approvalPerWave: true });
    expect(fleet).toMatchObject({ fleet: 'night', waveSize: 3, approvalPerWave: true, concurrency: 10, onHalt: 'continue' });
    expect(fleet.pipelines.map((p) => p.pipeline)).toEqual(['nightly-summarizer']);
  });

  it('refuses a halt ratio above 1 and a pipeline listed twice', async () => {
    expect(await loadError(fixture('fleet/a-nightly.yaml'), { haltAtFailureRatio: 2 })).toMatch(/haltAtFailureRatio/);
    expect(await loadError(fixture('fleet-twice.yaml'))).toMatch(/pipelines\[1\]\.pipeline: demo-project\/nightly-summarizer appears twice in the fleet/);
  });
});
