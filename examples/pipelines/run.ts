// One sample job's loop: a run every interval, a bounded number of runs, one Gemini call per run.
// A run that fails is counted and the loop goes on, as a scheduler would start the next run; the
// API key string is read once at start, kept in memory, and never printed.

import { setTimeout as sleep } from 'node:timers/promises';
import type { GoogleGenAI } from '@google/genai';
import { createGoogleClients, endpointConfigFromEnv, type GoogleClients } from '../../google/clients';
import { createGeminiClient, type AuthMode, type GeminiClient } from '../../gemini-client';
import type { SamplePipeline } from './catalog';

/** One run's outcome (no request or response text, no key). */
export interface SampleRun {
  pipeline: string;
  run: number;
  authMode: AuthMode;
  ok: boolean;
  /** 200, or the failed call's HTTP status (0: no response). */
  status: number;
}

/** A job's totals once it stopped. */
export interface SampleReport {
  pipeline: string;
  runs: number;
  failedRuns: number;
  byAuth: Record<AuthMode, number>;
}

export interface SampleRunOptions {
  env: Record<string, string | undefined>;
  /** The spec's route.store, e.g. file://.keyless/routes. */
  routesStore: string;
  stopSignal: AbortSignal;
  intervalMs: number;
  maxRuns: number;
  /** 'impersonate' when the job runs beside keyless as another identity (the demo); 'adc' when deployed as its own account. */
  vertexAuth: 'adc' | 'impersonate';
  routeTtlMs?: number;
  /**
   * The variable holding the job's key, as a CI job gets it from its secrets; absent: the job
   * reads its key string from the API Keys API with its own credentials.
   */
  apiKeyVariable?: string;
  onRun?: (run: SampleRun) => void;
}

export async function runSamplePipeline(sample: SamplePipeline, options: SampleRunOptions): Promise<SampleReport> {
  const report: SampleReport = { pipeline: sample.name, runs: 0, failedRuns: 0, byAuth: { 'api-key': 0, vertex: 0 } };
  const clients = createGoogleClients(endpointConfigFromEnv(options.env));
  try {
    // The job's own setup: read its key string the way it would from a secret store.
    const keyString = options.apiKeyVariable ? keyFromVariable(options.env, options.apiKeyVariable) : await readKeyString(clients, sample.apiKey);
    const call = sample.followsRoute ? routedCall(sample, options, keyString) : legacyCall(clients.genai({ kind: 'gemini', apiKey: keyString }));
    for (let n = 1; n <= options.maxRuns && !options.stopSignal.aborted; n++) {
      const run = await call(n, sample);
      report.runs += 1;
      report.byAuth[run.authMode] += 1;
      if (!run.ok) report.failedRuns += 1;
      options.onRun?.(run);
      if (n < options.maxRuns) await sleep(options.intervalMs, undefined, { signal: options.stopSignal }).catch(() => undefined);
    }
  } finally {
    await clients.apiKeys.close().catch(() => undefined);
    await clients.monitoring.close().catch(() => undefined);
  }
  return report;
}

type RunCall = (n: number, sample: SamplePipeline) => Promise<SampleRun>;

function routedCall(sample: SamplePipeline, options: SampleRunOptions, keyString: string): RunCall {
  let lastMode: AuthMode = 'api-key';
  const gemini: GeminiClient = createGeminiClient({
    pipeline: sample.name,
    project: sample.apiKey.split('/')[1]!,
    route: { store: options.routesStore },
    apiKey: async () => keyString,
    mode: 'per-run',
    vertexAuth: options.vertexAuth,
    env: options.env,
    ...(options.routeTtlMs !== undefined ? { ttlMs: options.routeTtlMs } : {}),
    onCall: (outcome) => (lastMode = outcome.authMode),
  });
  return async (n) => {
    const run = gemini.run(`${sample.name}-${Date.now()}-${n}`);
    const { contents, config } = sample.prompt(n);
    try {
      await run.models.generateContent({ model: sample.model, contents, ...(config ? { config } : {}) });
      return { pipeline: sample.name, run: n, authMode: lastMode, ok: true, status: 200 };
    } catch (err) {
      return { pipeline: sample.name, run: n, authMode: lastMode, ok: false, status: statusOf(err) };
    }
  };
}

function legacyCall(ai: GoogleGenAI): RunCall {
  return async (n, sample) => {
    const { contents, config } = sample.prompt(n);
    try {
      await ai.models.generateContent({ model: sample.model, contents, ...(config ? { config } : {}) });
      return { pipeline: sample.name, run: n, authMode: 'api-key', ok: true, status: 200 };
    } catch (err) {
      return { pipeline: sample.name, run: n, authMode: 'api-key', ok: false, status: statusOf(err) };
    }
  };
}

async function readKeyString(clients: GoogleClients, keyName: string): Promise<string> {
  const [response] = await clients.apiKeys.getKeyString({ name: keyName });
  if (!response.keyString) throw new Error(`no key string for ${keyName}`);
  return response.keyString;
}

function keyFromVariable(env: Record<string, string | undefined>, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new Error(`${name} is not set: the job's key comes from that variable (its CI secret)`);
  return value;
}

function statusOf(err: unknown): number {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : 0;
}
