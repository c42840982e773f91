// Cloud Run Admin API v2 (run.googleapis.com), read side only: jobs and services from the fixture,
// each with the account it runs as (`template.template.serviceAccount` for a job,
// `template.serviceAccount` for a service), which is the Compute Engine default account when the
// fixture names none, as on Google.

import { createHash } from 'node:crypto';
import type { EmuRequest, EmuResponse, RouteDef } from '../core/contract';
import type { EmulatorCore } from '../core/core';
import { GoogleApiError } from '../core/errors';
import type { CloudRunResourceRecord } from '../core/state';

const BASE = '^/v2/projects/(?<project>[^/]+)/locations/(?<location>[^/]+)/(?<collection>jobs|services)';

/** The account a Cloud Run workload runs as when none is set. */
export function computeDefaultAccount(projectNumber: string): string {
  return `${projectNumber}-compute@developer.gserviceaccount.com`;
}

function etagOf(record: CloudRunResourceRecord): string {
  return `"${createHash('sha256').update(JSON.stringify(record)).digest('base64url').slice(0, 27)}"`;
}

function common(record: CloudRunResourceRecord, name: string): Record<string, unknown> {
  return {
    name,
    uid: record.uid,
    generation: '1',
    ...(Object.keys(record.labels).length > 0 ? { labels: record.labels } : {}),
    createTime: record.createTime,
    updateTime: record.createTime,
    creator: 'operator@example.com',
    lastModifier: 'operator@example.com',
    launchStage: 'GA',
    observedGeneration: '1',
    terminalCondition: { type: 'Ready', state: 'CONDITION_SUCCEEDED', lastTransitionTime: record.createTime },
    etag: etagOf(record),
  };
}

const container = (record: CloudRunResourceRecord) => ({ image: record.image, resources: { limits: { cpu: '1000m', memory: '512Mi' } } });

/** The Job or Service JSON of the v2 API. */
export function cloudRunView(record: CloudRunResourceRecord): Record<string, unknown> {
  const name = `projects/${record.projectId}/locations/${record.location}/${record.kind === 'job' ? 'jobs' : 'services'}/${record.resourceId}`;
  const serviceAccount = record.serviceAccount ?? computeDefaultAccount(record.projectNumber);
  if (record.kind === 'job') {
    return {
      ...common(record, name),
      template: { taskCount: 1, template: { containers: [container(record)], maxRetries: 3, timeout: '600s', serviceAccount, executionEnvironment: 'EXECUTION_ENVIRONMENT_GEN2' } },
      executionCount: 0,
    };
  }
  return {
    ...common(record, name),
    ingress: 'INGRESS_TRAFFIC_ALL',
    template: { containers: [container(record)], timeout: '300s', serviceAccount, maxInstanceRequestConcurrency: 80, scaling: { maxInstanceCount: 100 } },
    traffic: [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 100 }],
    uri: `https://${record.resourceId}-${record.projectNumber}.${record.location}.run.app`,
  };
}

export function cloudRunRoutes(core: EmulatorCore): RouteDef[] {
  function permission(req: EmuRequest, verb: 'get' | 'list', resource: string) {
    const principal = core.requireCaller(req);
    const project = core.resolveProject(req.params.project!);
    const perm = `run.${req.params.collection}.${verb}`;
    if (!project || !core.hasPermission(principal, project.projectId, perm)) {
      // Cloud Run words its denial slightly differently from IAM's.
      throw new GoogleApiError('PERMISSION_DENIED', `Permission '${perm}' denied on resource '${resource}' (or resource may not exist).`, {
        reason: 'IAM_PERMISSION_DENIED',
        domain: 'run.googleapis.com',
        metadata: { permission: perm, resource },
      });
    }
    return project;
  }

  const get = (req: EmuRequest): EmuResponse => {
    const { location, collection, name } = req.params as { location: string; collection: string; name: string };
    const resource = `projects/${req.params.project}/locations/${location}/${collection}/${name}`;
    const project = permission(req, 'get', resource);
    const record = core.state.cloudRun[`projects/${project.projectId}/locations/${location}/${collection}/${name}`];
    if (!record) throw new GoogleApiError('NOT_FOUND', `Resource '${resource}' was not found`, { details: [{ '@type': 'type.googleapis.com/google.rpc.ResourceInfo', resourceName: resource }] });
    return { body: cloudRunView(record) };
  };

  const list = (req: EmuRequest): EmuResponse => {
    const { location, collection } = req.params as { location: string; collection: string };
    const project = permission(req, 'list', `projects/${req.params.project}/locations/${location}`);
    const prefix = `projects/${project.projectId}/locations/${location}/${collection}/`;
    const items = Object.entries(core.state.cloudRun)
      .filter(([key]) => location === '-' || key.startsWith(prefix))
      .filter(([, record]) => record.projectId === project.projectId && `${record.kind}s` === collection)
      .map(([, record]) => cloudRunView(record));
    return { body: items.length > 0 ? { [collection]: items } : {} };
  };

  return [
    { method: 'GET', pattern: new RegExp(`${BASE}/(?<name>[^/:]+)$`), surface: 'run', handler: get },
    { method: 'GET', pattern: new RegExp(`${BASE}$`), surface: 'run', handler: list },
  ];
}
