// Cloud Run Admin API v2, read side: the account a job or service runs as, the Compute Engine
// default when none is set, and Google's 404/403.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../emulator/index';

const PROJECT = 'demo-project';
const NUMBER = '480213697513';
const sa = (id: string) => `${id}@${PROJECT}.iam.gserviceaccount.com`;
let emu: RunningEmulator;

beforeAll(async () => {
  emu = await startEmulator({
    fixture: {
      projects: [{ id: PROJECT, number: NUMBER }],
      serviceAccounts: [
        { project: PROJECT, accountId: 'run-reader', roles: ['roles/run.viewer'] },
        { project: PROJECT, accountId: 'metrics-only', roles: ['roles/monitoring.viewer'] },
        { project: PROJECT, accountId: 'nightly-job' },
      ],
      cloudRun: {
        jobs: [
          { project: PROJECT, location: 'us-central1', name: 'nightly-summarizer', serviceAccount: sa('nightly-job'), image: 'us-docker.pkg.dev/demo/nightly:1' },
          { project: PROJECT, location: 'us-central1', name: 'legacy-exporter' },
        ],
        services: [{ project: PROJECT, location: 'europe-west4', name: 'ticket-triage' }],
      },
    },
  });
});
afterAll(() => emu.stop());

async function get(path: string, as = sa('run-reader')): Promise<{ status: number; body: any }> {
  const res = await fetch(`${emu.baseUrl}${path}`, { headers: { authorization: `Bearer ${emu.mintAccessToken(as)}` } });
  return { status: res.status, body: await res.json() };
}

describe('Cloud Run Admin API v2', () => {
  it('returns a job with the account it runs as under template.template.serviceAccount', async () => {
    const { status, body } = await get(`/v2/projects/${PROJECT}/locations/us-central1/jobs/nightly-summarizer`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      name: `projects/${PROJECT}/locations/us-central1/jobs/nightly-summarizer`,
      uid: expect.any(String),
      template: { taskCount: 1, template: { serviceAccount: sa('nightly-job'), containers: [{ image: 'us-docker.pkg.dev/demo/nightly:1' }] } },
    });
  });

  it('names the Compute Engine default account for a job that sets none, also when addressed by project number', async () => {
    const { body } = await get(`/v2/projects/${NUMBER}/locations/us-central1/jobs/legacy-exporter`);
    expect(body.template.template.serviceAccount).toBe(`${NUMBER}-compute@developer.gserviceaccount.com`);
  });

  it('returns a service with its account under template.serviceAccount, and lists jobs', async () => {
    const { body } = await get(`/v2/projects/${PROJECT}/locations/europe-west4/services/ticket-triage`);
    expect(body.template.serviceAccount).toBe(`${NUMBER}-compute@developer.gserviceaccount.com`);
    const listed = await get(`/v2/projects/${PROJECT}/locations/us-central1/jobs`);
    expect(listed.body.jobs.map((j: { name: string }) => j.name.split('/').pop()).sort()).toEqual(['legacy-exporter', 'nightly-summarizer']);
  });

  it('answers 404 NOT_FOUND for a job that does not exist', async () => {
    const { status, body } = await get(`/v2/projects/${PROJECT}/locations/us-central1/jobs/missing`);
    expect(status).toBe(404);
    expect(body.error).toMatchObject({ code: 404, status: 'NOT_FOUND', message: `Resource 'projects/${PROJECT}/locations/us-central1/jobs/missing' was not found` });
  });

  it('answers 403 PERMISSION_DENIED run.jobs.get to a caller without a Cloud Run role, and for an unknown project', async () => {
    const denied = await get(`/v2/projects/${PROJECT}/locations/us-central1/jobs/nightly-summarizer`, sa('metrics-only'));
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({
      status: 'PERMISSION_DENIED',
      message: `Permission 'run.jobs.get' denied on resource 'projects/${PROJECT}/locations/us-central1/jobs/nightly-summarizer' (or resource may not exist).`,
    });
    expect((await get('/v2/projects/other-project/locations/us-central1/jobs/x')).status).toBe(403);
  });
});
