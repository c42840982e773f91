// The Cloud Storage route store against the emulator's storage surface, with @google-cloud/storage
// authenticated the production way: Application Default Credentials through the metadata server.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorType, type KeylessError } from '../../contracts/errors';
import type { Route } from '../../contracts/route';
import { createGoogleClients, endpointConfigFromEnv, type GoogleClients } from '../../google/clients';
import { gcsRouteStore, publishRouteTo, readRouteObject, writeRouteObject } from '../../route-store';
import { DEMO_ORCHESTRATOR, DEMO_PROJECT } from '../../emulator';
import { demoBuckets } from '../../emulator/model/fixture';
import { startTestCloud, type TestCloud } from '../support/cloud';
import { libraryErrorOf as failureOf } from '../support/failures';

const STORE = `gs://${demoBuckets[0]!.name}/routes`;

let cloud: TestCloud;
let clients: GoogleClients;

beforeAll(async () => {
  cloud = await startTestCloud();
  Object.assign(process.env, await cloud.emulator.envFor(DEMO_ORCHESTRATOR));
  delete process.env.METADATA_SERVER_DETECTION;
  clients = createGoogleClients(endpointConfigFromEnv(process.env));
});
afterAll(async () => {
  await clients?.apiKeys.close();
  await clients?.monitoring.close();
  await cloud?.stop();
});

function route(pipeline: string, generation: number, vertexPercent = 0): Route {
  return {
    pipeline,
    generation,
    vertexPercent,
    project: DEMO_PROJECT,
    location: 'global',
    serviceAccount: `${pipeline}@${DEMO_PROJECT}.iam.gserviceaccount.com`,
    updatedAt: new Date().toISOString(),
  };
}

describe('gcsRouteStore', () => {
  it('publishes and reads a route; republishing the same generation is a no-op', async () => {
    const stores = { gs: gcsRouteStore(clients.storage) };
    const first = await publishRouteTo(stores, STORE, route('nightly-summarizer', 1, 10));
    const again = await publishRouteTo(stores, STORE, route('nightly-summarizer', 1, 10));
    expect(first).toEqual({ location: `${STORE}/nightly-summarizer.json`, generation: 1, written: true });
    expect(again.written).toBe(false);
    expect(await stores.gs.read(`${STORE}/nightly-summarizer.json`)).toMatchObject({ generation: 1, vertexPercent: 10 });
    const [files] = await clients.storage.bucket(demoBuckets[0]!.name).getFiles({ prefix: 'routes/nightly-summarizer' });
    expect(files.map((f) => f.name)).toEqual(['routes/nightly-summarizer.json']);
  });

  it('reads nothing where no route was published', async () => {
    expect(await gcsRouteStore(clients.storage).read(`${STORE}/never-published.json`)).toBeUndefined();
    expect(await readRouteObject(clients.storage, `${STORE}/never-published.json`)).toEqual({ route: undefined, objectGeneration: '0' });
  });

  it('loses a stale write: the object changed after it was read', async () => {
    const location = `${STORE}/ticket-triage.json`;
    const store = gcsRouteStore(clients.storage);
    await store.write(location, route('ticket-triage', 1));
    const seen = await readRouteObject(clients.storage, location);
    // Another worker publishes in between.
    await store.write(location, route('ticket-triage', 2, 50));
    const failure = await failureOf(writeRouteObject(clients.storage, location, route('ticket-triage', 3, 5), seen.objectGeneration));
    expect(failure.type).toBe(ErrorType.StaleRoute);
    expect(failure.nonRetryable).toBe(true);
    expect(await store.read(location)).toMatchObject({ generation: 2, vertexPercent: 50 });
  });

  it('will not create over an object that appeared meanwhile (ifGenerationMatch=0)', async () => {
    const location = `${STORE}/report-digest.json`;
    await gcsRouteStore(clients.storage).write(location, route('report-digest', 4));
    const failure = await failureOf(writeRouteObject(clients.storage, location, route('report-digest', 5), '0'));
    expect(failure.type).toBe(ErrorType.StaleRoute);
    expect((await readRouteObject(clients.storage, location)).route?.generation).toBe(4);
  });

  it('refuses an older route generation, and keeps the newest of concurrent writers', async () => {
    const location = `${STORE}/race-writers.json`;
    const writers = [2, 3, 4, 5].map((generation) => gcsRouteStore(clients.storage).write(location, route('race-writers', generation, generation * 10)));
    const outcomes = await Promise.allSettled(writers);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') expect((outcome.reason as KeylessError).type).toBe(ErrorType.StaleRoute);
    }
    expect(await gcsRouteStore(clients.storage).read(location)).toMatchObject({ generation: 5, vertexPercent: 50 });
    const older = await failureOf(gcsRouteStore(clients.storage).write(location, route('race-writers', 3)));
    expect(older.type).toBe(ErrorType.StaleRoute);
  });
});
