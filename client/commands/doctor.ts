// `keyless doctor`: run inside a pipeline's own environment before its schedule is switched, the
// seed article's "one live call from the same environment". Each check becomes a finding with a
// fix; any blocking finding makes the exit code non-zero.

import { GoogleAuth } from 'google-auth-library';
import { VERTEX_ROLE } from '../../contracts/roles';
import type { Route } from '../../contracts/route';
import { pipelineAccount, type PipelineSpec } from '../../contracts/spec';
import { apiKeyFromEnv, createGeminiClient, environmentConflicts, routeSourceFromStore, type RouteSource } from '../../gemini-client';
import { CLOUD_PLATFORM, endpointConfigFromEnv } from '../../google/endpoints';
import { describeGoogleError, isApiKeyRejection } from '../../google/errors';
import type { FederationStep } from '../../google/federation';
import { createStorage } from '../../google/storage';
import type { Runtime } from '../../contracts/runtime';
import { stringFlag, type Command } from '../command';
import { ExitCode, UserError } from '../errors';
import { resolveFederation, walkFederation } from '../federation-doctor';
import { loadSpec } from '../spec-file';

export const doctor: Command = {
  summary: "Check a pipeline's own environment before its switch: variable conflicts, ADC principal, project/location, route, one live call per model",
  usage: 'keyless doctor [--spec <file> [--project-number <n>]] [--pipeline <name> --store <file://dir|gs://bucket/prefix>] [--model <id>]... [--project <p>] [--location <l>] [--impersonate] [--json]',
  example: 'keyless doctor --spec examples/specs/nightly-summarizer.yaml',
  options: {
    spec: { type: 'string' },
    pipeline: { type: 'string' },
    store: { type: 'string' },
    model: { type: 'string', multiple: true },
    project: { type: 'string', short: 'p' },
    location: { type: 'string' },
    'project-number': { type: 'string' },
    impersonate: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  positionals: [0, 0],
  async run(args, io) {
    const specPath = stringFlag(args, 'spec');
    const fromSpec = specPath ? doctorOptionsFromSpec(await loadSpec(specPath), io.env) : undefined;
    const models = (args.values.model as string[] | undefined) ?? fromSpec?.models ?? [];
    if (models.length === 0) throw new UserError('keyless doctor needs the models to call', ExitCode.Usage, 'pass --spec <file> or --model <id>');
    const projectNumber = stringFlag(args, 'project-number');
    if (projectNumber !== undefined && !/^[1-9][0-9]{0,19}$/.test(projectNumber)) throw new UserError("--project-number must be the project's number (digits)", ExitCode.Usage);
    const report = await runDoctor({
      ...fromSpec,
      env: io.env,
      models,
      pipeline: stringFlag(args, 'pipeline') ?? fromSpec?.pipeline,
      routeStore: stringFlag(args, 'store') ?? fromSpec?.routeStore,
      project: stringFlag(args, 'project') ?? fromSpec?.project,
      location: stringFlag(args, 'location') ?? fromSpec?.location,
      ...(projectNumber ? { projectNumber } : {}),
      vertexAuth: args.values.impersonate ? 'impersonate' : 'adc',
    });
    if (args.values.json) io.json(report.findings);
    else for (const line of renderFindings(report.findings)) io.print(line);
    return report.exitCode;
  },
};

/** One check's result. */
export interface Finding {
  check:
    | 'environment'
    | 'adc'
    /** A federated job: its configuration, before the chain is walked. */
    | 'workload-identity'
    /** The job's own OIDC token, from its runner or file. */
    | 'runtime-token'
    /** The exchange of that token at Security Token Service. */
    | 'sts'
    /** The federated principal acting as the pipeline's account. */
    | 'impersonation'
    | 'project'
    | 'location'
    | 'route'
    | 'api-key'
    | 'vertex-call'
    | 'key-call';
  ok: boolean;
  /** The pipeline would fail (or switch blindly) if it went ahead. */
  blocking: boolean;
  message: string;
  /** What to do; empty when ok. */
  fix: string;
}

export interface DoctorOptions {
  pipeline?: string;
  /** The spec's route.store (`file://dir` or `gs://bucket/prefix`). */
  routeStore?: string;
  models: string[];
  /** The pipeline's environment; ADC itself reads process.env, as it would in the pipeline. */
  env: Record<string, string | undefined>;
  /** Used when no route is published yet; else GOOGLE_CLOUD_PROJECT / ADC and GOOGLE_CLOUD_LOCATION. */
  project?: string;
  location?: string;
  /** The account the pipeline should act as on Vertex, when no route names it yet (the spec's). */
  serviceAccount?: string;
  /** As in createGeminiClient: call Vertex as ADC itself, or as the route's account by impersonation. */
  vertexAuth?: 'adc' | 'impersonate';
  /** Where the job runs (the spec's runtime): a federated one has its chain walked even without a configuration. */
  runtime?: Runtime;
  /** The project's number, to name the provider when the job has no configuration yet (nobody in the job may read it). */
  projectNumber?: string;
}

export interface DoctorReport {
  findings: Finding[];
  exitCode: number;
}

const PROMPT = 'Reply with the single word: ready';

/** The doctor's inputs from a pipeline spec. */
export function doctorOptionsFromSpec(spec: PipelineSpec, env: Record<string, string | undefined>): DoctorOptions {
  return {
    pipeline: spec.pipeline,
    routeStore: spec.route.store,
    models: spec.vertex.models,
    env,
    project: spec.project,
    location: spec.vertex.location,
    serviceAccount: pipelineAccount(spec).email,
    runtime: spec.runtime,
  };
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const findings: Finding[] = [];
  const add = (f: Omit<Finding, 'fix'> & { fix?: string }) => findings.push({ ...f, fix: f.ok ? '' : (f.fix ?? '') });

  const conflicts = environmentConflicts(options.env);
  for (const c of conflicts) add({ check: 'environment', ok: false, blocking: true, message: c.message, fix: `unset ${c.remove} in the pipeline's environment` });
  if (conflicts.length === 0) add({ check: 'environment', ok: true, blocking: false, message: 'no conflicting Gemini or Vertex variables' });

  // A federated job's ADC is its external_account configuration: its chain is walked link by link
  // below, so one broken link is named once instead of as an ADC failure too.
  const federation = await resolveFederation(options.env, { pipeline: options.pipeline, project: options.project, runtime: options.runtime, serviceAccount: options.serviceAccount, projectNumber: options.projectNumber });
  if (federation.kind !== 'none') for (const f of federation.findings) add(f);
  const adc: { principal?: string; project?: string; error?: string } = federation.kind === 'none' ? await resolveAdc() : {};
  if (federation.kind === 'none' && adc.principal) add({ check: 'adc', ok: true, blocking: false, message: `Application Default Credentials resolve to ${adc.principal}` });
  else if (federation.kind === 'none') {
    add({
      check: 'adc',
      ok: false,
      blocking: true,
      message: `Application Default Credentials do not resolve: ${adc.error}`,
      fix: 'run the pipeline as its service account (attached to the VM, Cloud Run job or CI runner), or set GOOGLE_APPLICATION_CREDENTIALS; on a laptop, gcloud auth application-default login',
    });
  }

  const route = await checkRoute(options, add);
  const project = route?.project ?? options.project ?? options.env.GOOGLE_CLOUD_PROJECT ?? adc.project;
  const location = route?.location ?? options.location ?? options.env.GOOGLE_CLOUD_LOCATION;
  if (project) add({ check: 'project', ok: true, blocking: false, message: `project ${project}${route ? ' (from the route)' : ''}` });
  else add({ check: 'project', ok: false, blocking: true, message: 'no Google Cloud project: no route, no GOOGLE_CLOUD_PROJECT, and ADC names none', fix: 'set GOOGLE_CLOUD_PROJECT in the pipeline\'s environment' });
  if (location) add({ check: 'location', ok: true, blocking: false, message: `Vertex location ${location}${route ? ' (from the route)' : ''}` });
  else add({ check: 'location', ok: false, blocking: true, message: 'no Vertex location: no route and no GOOGLE_CLOUD_LOCATION', fix: 'set GOOGLE_CLOUD_LOCATION (e.g. global) or give the spec' });

  const expected = route?.serviceAccount ?? options.serviceAccount;
  let vertexSteps: FederationStep[] | undefined;
  if (federation.kind === 'configuration' && conflicts.length === 0) {
    const walk = await walkFederation(federation, options.env, { pipeline: options.pipeline, project: options.project, runtime: options.runtime, serviceAccount: expected }, { project, location, models: options.models });
    for (const f of walk.findings) add(f);
    adc.principal = walk.principal;
    // The walk's Vertex calls are the job's own (Google's library through the configuration); doctor does not repeat them.
    vertexSteps = walk.findings.some((f) => !f.ok) ? [] : walk.vertexSteps;
  }
  const principal = (options.vertexAuth === 'impersonate' ? expected : undefined) ?? adc.principal ?? (federation.kind === 'configuration' ? federation.serviceAccount : undefined);
  if (expected && options.vertexAuth !== 'impersonate' && adc.principal && adc.principal !== expected) {
    add({
      check: 'adc',
      ok: false,
      blocking: false,
      message: `the ${route ? 'route' : 'spec'} names ${expected} but this environment's ADC is ${adc.principal}; Vertex calls would be made (and billed, and watched by the canary) as ${adc.principal}`,
      fix: `run the pipeline as ${expected}, or create the client with vertexAuth: 'impersonate'`,
    });
  }

  if (vertexSteps) {
    const vertexRoute = { project: project ?? '', location: location ?? '' } as Route;
    for (const step of vertexSteps) {
      if (step.ok) add({ check: 'vertex-call', ok: true, blocking: false, message: `${step.detail} as ${principal}` });
      else add({ check: 'vertex-call', ok: false, blocking: true, message: step.detail, fix: fixFor('vertex', step.error ?? { httpStatus: 0, status: 'UNKNOWN', message: step.detail }, step.detail.split(' ')[0]!, vertexRoute, principal) });
    }
  } else if (conflicts.length > 0) {
    add({ check: 'vertex-call', ok: false, blocking: true, message: 'live calls skipped: the Gemini client refuses to start in this environment', fix: 'fix the environment findings above, then run keyless doctor again' });
  } else if (project && location && (adc.principal || options.vertexAuth === 'impersonate')) {
    const vertexRoute: Route = route ?? {
      pipeline: options.pipeline ?? 'doctor',
      generation: 0,
      vertexPercent: 100,
      project,
      location,
      serviceAccount: expected ?? principal ?? '',
      updatedAt: new Date().toISOString(),
    };
    for (const model of options.models) await liveCall('vertex', model, { ...vertexRoute, vertexPercent: 100 }, options, add, principal);
  }
  // The key is still in use while the route keeps any share on it.
  if (conflicts.length === 0 && (!route || route.vertexPercent < 100)) {
    if (!apiKeyFromEnv(options.env)) {
      add({
        check: 'api-key',
        ok: false,
        blocking: true,
        message: `the route ${route ? `sends ${100 - route.vertexPercent} % of runs` : 'is not published yet, so all runs go'} to the API key, and none is configured`,
        fix: 'set GEMINI_API_KEY from the pipeline\'s secret store',
      });
    } else {
      const keyRoute: Route = { ...(route ?? { pipeline: options.pipeline ?? 'doctor', generation: 0, project: project ?? '-', location: location ?? 'global', serviceAccount: '', updatedAt: new Date().toISOString() }), vertexPercent: 0 };
      for (const model of options.models) await liveCall('key', model, keyRoute, options, add, principal);
    }
  }
  const blocking = findings.some((f) => f.blocking);
  return { findings, exitCode: blocking ? ExitCode.Failed : ExitCode.Ok };
}

async function resolveAdc(): Promise<{ principal?: string; project?: string; error?: string }> {
  try {
    const auth = new GoogleAuth({ scopes: [CLOUD_PLATFORM] });
    const credentials = await auth.getCredentials();
    const project = await auth.getProjectId().catch(() => undefined);
    // A token proves the credentials work, not merely that a file or metadata server exists.
    await (await auth.getClient()).getAccessToken();
    return { principal: credentials.client_email ?? 'an identity without an email (user credentials)', ...(project ? { project } : {}) };
  } catch (err) {
    return { error: describeGoogleError(err).message.split('\n')[0] };
  }
}

async function checkRoute(options: DoctorOptions, add: (f: Omit<Finding, 'fix'> & { fix?: string }) => void): Promise<Route | undefined> {
  if (!options.pipeline || !options.routeStore) {
    add({ check: 'route', ok: false, blocking: false, message: 'no pipeline and route store given: the route was not checked', fix: 'pass --spec <file>, or --pipeline and --store' });
    return undefined;
  }
  // Inside the job, its environment names the project as the genai SDKs read it.
  const project = options.project ?? (options.env.GOOGLE_CLOUD_PROJECT?.trim() || undefined);
  if (!project) {
    add({ check: 'route', ok: false, blocking: true, message: `no project given: the route lives at ${options.routeStore}/<project>/${options.pipeline}.json`, fix: 'pass --spec <file> or --project with the spec\'s project, or set GOOGLE_CLOUD_PROJECT' });
    return undefined;
  }
  let source: RouteSource;
  try {
    // The pipeline's own readers' rules: its project's place first, the account pinned when the spec names it.
    source = routeSourceFromStore(options.routeStore, { pipeline: options.pipeline, project, ...(options.serviceAccount ? { expect: { serviceAccount: options.serviceAccount } } : {}) }, () => createStorage(endpointConfigFromEnv(options.env)));
  } catch (err) {
    add({ check: 'route', ok: false, blocking: true, message: (err as Error).message, fix: 'use the route.store of the pipeline\'s spec' });
    return undefined;
  }
  try {
    const route = await source.read();
    if (!route) {
      add({ check: 'route', ok: true, blocking: false, message: `no route at ${source.location} yet: the pipeline uses its API key until keyless publishes one` });
      return undefined;
    }
    if (route.pipeline !== options.pipeline) throw new Error(`it holds the route of ${route.pipeline}`);
    add({ check: 'route', ok: true, blocking: false, message: `route ${source.location}: generation ${route.generation}, ${route.vertexPercent} % on Vertex as ${route.serviceAccount} in ${route.location}` });
    return route;
  } catch (err) {
    add({
      check: 'route',
      ok: false,
      blocking: true,
      message: `cannot read the route at ${source.location}: ${describeGoogleError(err).message.split('\n')[0]}`,
      fix: options.routeStore.startsWith('gs://')
        ? 'grant the pipeline\'s account roles/storage.objectViewer on the bucket, and check the bucket name'
        : 'make the directory readable by the pipeline, and let keyless publish the route again (a corrupt document is replaced by the next publication)',
    });
    return undefined;
  }
}

async function liveCall(
  path: 'vertex' | 'key',
  model: string,
  route: Route,
  options: DoctorOptions,
  add: (f: Omit<Finding, 'fix'> & { fix?: string }) => void,
  principal: string | undefined,
): Promise<void> {
  const check = path === 'vertex' ? 'vertex-call' : 'key-call';
  const where = path === 'vertex' ? `Vertex (${route.project}, ${route.location}) as ${principal}` : 'the Gemini API with the key';
  try {
    // The library itself makes the call, so doctor tests the exact path the pipeline takes.
    const client = createGeminiClient({
      pipeline: route.pipeline,
      project: route.project,
      route: { location: 'doctor', read: async () => route },
      env: options.env,
      vertexAuth: options.vertexAuth ?? 'adc',
    });
    const response = await client.models.generateContent({ model, contents: PROMPT, config: { maxOutputTokens: 16 } });
    add({ check, ok: true, blocking: false, message: `${model} answered on ${where}${response.modelVersion ? ` (modelVersion ${response.modelVersion})` : ''}` });
  } catch (err) {
    const info = describeGoogleError(err);
    add({ check, ok: false, blocking: true, message: `${model} failed on ${where}: ${info.httpStatus} ${info.status}${info.reason ? ` ${info.reason}` : ''}: ${info.message.split('\n')[0]}`, fix: fixFor(path, info, model, route, principal) });
  }
}

function fixFor(path: 'vertex' | 'key', info: ReturnType<typeof describeGoogleError>, model: string, route: Route, principal: string | undefined): string {
  if (path === 'key' && isApiKeyRejection(info)) return 'the key itself is refused (retired, restricted or invalid): migrate this pipeline with keyless migrate, or restrict the key to the Generative Language API meanwhile';
  if (path === 'vertex' && info.httpStatus === 403) {
    return `missing role: grant ${VERTEX_ROLE} to ${principal ?? 'the service account'}: gcloud projects add-iam-policy-binding ${route.project} --member=serviceAccount:${principal ?? '<account>'} --role=${VERTEX_ROLE} (keyless migrate does this at provision)`;
  }
  if (path === 'vertex' && info.httpStatus === 404) return `model not served: ${model} is not served by Vertex in ${route.location}; pick a location that serves it (e.g. global or us-central1) or another model, in the spec's vertex section`;
  if (info.httpStatus === 0) return 'the endpoint is unreachable from here: check egress and proxies';
  return 'see the message; rerun keyless doctor after fixing it';
}

/** Findings as lines for a terminal: a mark, the check, the message, and the fix under it. */
export function renderFindings(findings: Finding[]): string[] {
  const lines: string[] = [];
  for (const f of findings) {
    lines.push(`${f.ok ? 'ok  ' : f.blocking ? 'FAIL' : 'warn'} ${f.check}: ${f.message}`);
    if (!f.ok && f.fix) lines.push(`     fix: ${f.fix}`);
  }
  const blocking = findings.filter((f) => f.blocking).length;
  lines.push(blocking ? `${blocking} blocking finding${blocking === 1 ? '' : 's'}: do not switch this pipeline yet` : 'no blocking findings');
  return lines;
}
