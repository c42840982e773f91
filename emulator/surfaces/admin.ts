// The emulator's own admin endpoints under /admin/v1 (loopback only, unauthenticated): audit
// log, faults, the clock, tokens and keys for named accounts, attaching accounts to metadata
// servers, requests recorded into Cloud Monitoring at a given time. Not a Google API; tests, the
// demo and outside tools use it.

import { z } from 'zod';
import type { EmuRequest, EmuResponse, RouteDef } from '../core/contract';
import type { EmulatorCore } from '../core/core';
import { GoogleApiError } from '../core/errors';
import { SURFACES, SurfaceFaultSchema } from '../core/fixture';
import { serviceAccountKeyFile } from '../core/identity';
import { recordTraffic } from './monitoring';

/** What the admin endpoints need from the running emulator besides the core. */
export interface AdminHooks {
  /** Starts (or finds) the metadata server of an account; returns its `host:port`. */
  attach(email: string): Promise<string>;
  metadataHosts(): Record<string, string>;
}

const MintSchema = z.object({
  lifetimeSeconds: z.number().int().min(1).max(43_200).default(3600),
  scopes: z.array(z.string()).default(['https://www.googleapis.com/auth/cloud-platform']),
});
const ClockSchema = z.union([z.object({ advanceSeconds: z.number() }), z.object({ now: z.iso.datetime({ offset: true }) })]);
const SurfaceParam = z.enum(SURFACES);

/**
 * Requests a job made, as Monitoring counts them, without making them: a week of an hourly job's
 * history, or a slow path's latencies, at any time the test or the operator chooses.
 */
const RecordedRequestSchema = z
  .strictObject({
    /** When they were served; default the emulator's now. */
    time: z.iso.datetime({ offset: true }).optional(),
    /** The key they used: its resource name (project id or number) or its key id. */
    apiKey: z.string().min(1).optional(),
    /** The account they ran as (Vertex). */
    serviceAccount: z.email().optional(),
    /** Default: the Gemini API for a key, Vertex for an account. */
    service: z.enum(['gemini', 'vertex']).optional(),
    location: z.string().min(1).default('global'),
    responseCode: z.number().int().min(100).max(599).default(200),
    latencyMs: z.number().nonnegative().max(3_600_000).default(0),
    count: z.number().int().min(1).max(100_000).default(1),
  })
  .refine((r) => (r.apiKey === undefined) !== (r.serviceAccount === undefined), { message: 'name exactly one of apiKey or serviceAccount' });
const RecordTrafficSchema = z.strictObject({ requests: z.array(RecordedRequestSchema).min(1).max(10_000) });

export function adminRoutes(core: EmulatorCore, hooks: AdminHooks): RouteDef[] {
  const account = (req: EmuRequest) => {
    const found = core.liveServiceAccount(req.params.email!);
    if (!found) throw new GoogleApiError('NOT_FOUND', `Unknown service account ${req.params.email}`);
    return found;
  };
  const faultsView = () => Object.fromEntries(core.faults.entries());

  const routes: Array<[string, RegExp, (req: EmuRequest) => EmuResponse | Promise<EmuResponse>]> = [
    [
      'GET',
      /^\/admin\/v1\/info$/,
      () => ({
        body: {
          baseUrl: core.baseUrl,
          metadataHosts: hooks.metadataHosts(),
          projects: Object.values(core.state.projects).map((p) => ({ projectId: p.projectId, projectNumber: p.projectNumber })),
          now: core.nowIso(),
        },
      }),
    ],
    [
      'GET',
      /^\/admin\/v1\/audit$/,
      (req) => {
        const surface = req.query.get('surface');
        const principal = req.query.get('principal');
        const since = req.query.get('since');
        const limit = Math.min(Number(req.query.get('limit') ?? '1000') || 1000, 20_000);
        const entries = core.state.audit.filter(
          (e) => (!surface || e.surface === surface) && (!principal || e.principal === principal) && (!since || e.time >= since),
        );
        return { body: { entries: entries.slice(-limit) } };
      },
    ],
    ['GET', /^\/admin\/v1\/faults$/, () => ({ body: { faults: faultsView() } })],
    [
      'PUT',
      /^\/admin\/v1\/faults\/(?<surface>[a-z0-9]+)$/,
      (req) => {
        const surface = SurfaceParam.parse(req.params.surface);
        core.faults.set(surface, SurfaceFaultSchema.parse(req.body ?? {}));
        return { body: { faults: faultsView() } };
      },
    ],
    [
      'DELETE',
      /^\/admin\/v1\/faults(?:\/(?<surface>[a-z0-9]+))?$/,
      (req) => {
        if (req.params.surface) core.faults.delete(SurfaceParam.parse(req.params.surface));
        else core.faults.clear();
        return { body: { faults: faultsView() } };
      },
    ],
    ['GET', /^\/admin\/v1\/clock$/, () => ({ body: { now: core.nowIso(), offsetMs: core.state.clockOffsetMs } })],
    [
      'POST',
      /^\/admin\/v1\/clock$/,
      (req) => {
        const input = ClockSchema.parse(req.body ?? {});
        const base = core.now().getTime() - core.state.clockOffsetMs;
        core.state.clockOffsetMs = 'advanceSeconds' in input ? core.state.clockOffsetMs + input.advanceSeconds * 1000 : Date.parse(input.now) - base;
        core.markDirty();
        return { body: { now: core.nowIso(), offsetMs: core.state.clockOffsetMs } };
      },
    ],
    [
      'POST',
      /^\/admin\/v1\/serviceAccounts\/(?<email>[^/:]+)(?::|%3A)mintAccessToken$/,
      (req) => {
        const sa = account(req);
        const input = MintSchema.parse(req.body ?? {});
        const minted = core.mintAccessToken('serviceAccount', sa.email, input.lifetimeSeconds, input.scopes);
        return { body: { accessToken: minted.token, expireTime: minted.expireTime } };
      },
    ],
    [
      'POST',
      /^\/admin\/v1\/users\/(?<email>[^/:]+)(?::|%3A)mintAccessToken$/,
      (req) => {
        const email = z.email().parse(req.params.email);
        const input = MintSchema.parse(req.body ?? {});
        const minted = core.mintAccessToken('user', email, input.lifetimeSeconds, input.scopes);
        return { body: { accessToken: minted.token, expireTime: minted.expireTime } };
      },
    ],
    [
      'POST',
      /^\/admin\/v1\/serviceAccounts\/(?<email>[^/:]+)(?::|%3A)attach$/,
      async (req) => ({ body: { email: account(req).email, metadataHost: await hooks.attach(account(req).email) } }),
    ],
    [
      'POST',
      /^\/admin\/v1\/serviceAccounts\/(?<email>[^/:]+)(?::|%3A)issueKey$/,
      async (req) => {
        const sa = account(req);
        const key = await core.ensureAccountKey(sa);
        return { body: serviceAccountKeyFile(sa, key, core.baseUrl) };
      },
    ],
    [
      'POST',
      /^\/admin\/v1\/traffic$/,
      (req) => {
        const { requests } = RecordTrafficSchema.parse(req.body ?? {});
        const ctx = { state: core.state.generative, markDirty: () => core.markDirty() };
        let recorded = 0;
        for (const r of requests) {
          const caller = r.apiKey !== undefined ? keyCaller(core, r.apiKey) : accountCaller(core, r.serviceAccount!);
          const service = r.service ?? (r.apiKey !== undefined ? 'gemini' : 'vertex');
          recordTraffic(ctx, {
            time: r.time ? new Date(r.time) : core.now(),
            project: caller.project,
            service: service === 'gemini' ? 'generativelanguage.googleapis.com' : 'aiplatform.googleapis.com',
            method: service === 'gemini' ? 'google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent' : 'google.cloud.aiplatform.v1.PredictionService.GenerateContent',
            version: service === 'gemini' ? 'v1beta' : 'v1',
            location: service === 'gemini' ? 'global' : r.location,
            credentialId: caller.credentialId,
            responseCode: r.responseCode,
            latencyMs: r.latencyMs,
            count: r.count,
          });
          recorded += r.count;
        }
        return { body: { recorded } };
      },
    ],
    [
      'POST',
      /^\/admin\/v1\/flush$/,
      async () => {
        core.markDirty();
        await core.flush();
        return { body: {} };
      },
    ],
  ];
  return routes.map(([method, pattern, handler]) => ({ method, pattern, surface: 'admin', handler, mutates: method !== 'GET' }));
}

/** Monitoring's consumer of a key's requests: `apikey:<uid>` in the key's project. */
function keyCaller(core: EmulatorCore, nameOrId: string): { project: string; credentialId: string } {
  const key = Object.values(core.state.keys).find((k) => k.name === nameOrId || k.keyId === nameOrId || nameOrId === `projects/${k.projectId}/locations/global/keys/${k.keyId}`);
  if (!key) throw new GoogleApiError('NOT_FOUND', `Unknown API key ${nameOrId}`);
  return { project: key.projectId, credentialId: `apikey:${key.uid}` };
}

/** Monitoring's consumer of an account's requests: `serviceaccount:<uniqueId>` in its project. */
function accountCaller(core: EmulatorCore, email: string): { project: string; credentialId: string } {
  const account = core.liveServiceAccount(email);
  if (!account) throw new GoogleApiError('NOT_FOUND', `Unknown service account ${email}`);
  return { project: account.projectId, credentialId: `serviceaccount:${account.uniqueId}` };
}
