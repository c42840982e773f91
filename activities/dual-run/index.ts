// The dual-run activity: the pipeline's sample prompts through both paths (the API key against the
// Gemini API, the pipeline's service account against Vertex), compared sample by sample and gated
// against the spec's thresholds. A breach is a result (`passed: false`), not a failure: the
// workflow decides what to do with it. Only infrastructure problems throw, and so does a 429 or
// 5xx that outlasts a call's quick retries: an outage is not a difference between the paths.
//
// The key string is fetched with getKeyString inside this activity only, right before the first
// key-side call, and lives in a local variable and the Gemini client built from it; it is never
// in an input, output, heartbeat, failure or log line.

import { createHash } from 'node:crypto';
import type { GoogleGenAI } from '@google/genai';
import type { z } from 'zod';
import { DualRunInputSchema, type DualRunInput, type KeylessActivities } from '../../contracts/activities';
import { ErrorType, KeylessError } from '../../contracts/errors';
import type { DualRunReport, SampleResult, SideOutcome } from '../../contracts/reports';
import { MAX_DUAL_RUN_CALLS } from '../../contracts/spec';
import type { GoogleClients } from '../../google/clients';
import { googleError } from '../../google/errors';
import { activityContext } from '../context';
import { buildDualRunReport, compareSample, isKeyRejection, type Observation } from './compare';
import { callFailure, defaultVertexAuth, describeCallError, redactKeyStrings, vertexGenAI, type VertexAuthFactory } from './paths';

export type { DualRunInput } from '../../contracts/activities';
export type { DualRunReport, SampleResult, SideOutcome } from '../../contracts/reports';

/** The seed every dual-run call uses: with temperature 0 it makes both paths as deterministic as the model allows. */
export const DUAL_RUN_SEED = 619;

/**
 * Attempts per call for 429 and 5xx before the activity fails retryably and Temporal retries it
 * (resuming from the heartbeat). Recording the failure as the sample's result instead turned a
 * burst of three faults into a dual-run breach and a rollback: 3 % of migrations under 25 % faults.
 */
const CALL_ATTEMPTS = 3;
const RETRY_BASE_MS = 250;
/** Heartbeats while a sample's calls run; well inside the workflow's 20 s heartbeat timeout. */
const KEEP_ALIVE_MS = 5_000;

type ParsedInput = z.output<typeof DualRunInputSchema>;

/** Heartbeat details: the finished samples of the run identified by `plan`. */
export interface DualRunProgress {
  /** Fingerprint of the input; progress from a different input is ignored. */
  plan: string;
  completed: SampleResult[];
}

/** What the dual-run activity needs. */
export interface DualRunDeps {
  clients: GoogleClients;
  /** Credentials acting as the pipeline's service account; default: impersonation from the clients' own. */
  vertexAuth?: VertexAuthFactory;
}

interface PlannedSample {
  model: string;
  prompt: number;
  sample: number;
}

const sampleId = (s: PlannedSample) => `${s.model}\u0000${s.prompt}\u0000${s.sample}`;

function planOf(input: ParsedInput): PlannedSample[] {
  const plan: PlannedSample[] = [];
  for (const model of input.models) {
    for (let prompt = 0; prompt < input.prompts.length; prompt++) {
      for (let sample = 0; sample < input.samples; sample++) plan.push({ model, prompt, sample });
    }
  }
  return plan;
}

function fingerprint(input: ParsedInput): string {
  const { apiKey, project, location, serviceAccountEmail, models, prompts, samples } = input;
  return createHash('sha256').update(JSON.stringify({ apiKey, project, location, serviceAccountEmail, models, prompts, samples })).digest('hex').slice(0, 32);
}

function resumedSamples(details: unknown, plan: string, planned: Set<string>): SampleResult[] {
  const progress = details as Partial<DualRunProgress> | undefined;
  if (!progress || progress.plan !== plan || !Array.isArray(progress.completed)) return [];
  return progress.completed.filter((s) => s && typeof s.model === 'string' && planned.has(sampleId(s)));
}

function parseInput(raw: DualRunInput): ParsedInput {
  const parsed = DualRunInputSchema.safeParse(raw);
  if (!parsed.success) {
    // Paths and messages only: an input value could be a pasted key string.
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ');
    throw new KeylessError({ type: ErrorType.InvalidSpec, message: `invalid dual-run input: ${problems}` });
  }
  const runs = parsed.data.models.length * parsed.data.prompts.length * parsed.data.samples;
  if (runs > MAX_DUAL_RUN_CALLS) {
    throw new KeylessError({
      type: ErrorType.InvalidSpec,
      message: `dual-run of ${runs} samples (models × prompts × samples) exceeds ${MAX_DUAL_RUN_CALLS}; use fewer prompts or samples`,
    });
  }
  return parsed.data;
}

export function createDualRunActivities(deps: DualRunDeps): Pick<KeylessActivities, 'dualRun'> {
  const { clients } = deps;
  const vertexAuth = deps.vertexAuth ?? defaultVertexAuth(clients);

  /** Fetches the key string for immediate use; the caller keeps it in a local variable only. */
  async function fetchKeyString(name: string): Promise<string> {
    try {
      const [response] = await clients.apiKeys.getKeyString({ name });
      if (!response.keyString) throw new Error('getKeyString returned no key string');
      return response.keyString;
    } catch (err) {
      throw googleError(err, { notFound: ErrorType.KeyNotFound, context: `reading the key string of ${name}` });
    }
  }

  return {
    /**
     * Sends every prompt × sample × model through both paths and returns the comparison report.
     * Resumes from its heartbeat after a worker crash; a breach is `passed: false`, not a failure.
     */
    async dualRun(rawInput: DualRunInput): Promise<DualRunReport> {
      const input = parseInput(rawInput);
      const ctx = activityContext();
      const plan = planOf(input);
      const planId = fingerprint(input);
      const completed = resumedSamples(ctx?.info.heartbeatDetails, planId, new Set(plan.map(sampleId)));
      const done = new Set(completed.map(sampleId));
      if (completed.length > 0) ctx?.log.info('dual-run resuming from heartbeat', { completed: completed.length, total: plan.length });
      const pending = plan.filter((s) => !done.has(sampleId(s)));

      // A key refused once is refused for every prompt: later samples record that refusal unsent.
      let keyRefusal: SideOutcome | undefined = completed.find((s) => !s.key.skipped && isKeyRejection(s.key))?.key;
      let keyString: string | undefined;
      let gemini: GoogleGenAI | undefined;
      let vertex: GoogleGenAI | undefined;

      if (pending.length > 0) {
        try {
          const auth = await vertexAuth(input.serviceAccountEmail);
          // Minted up front so that a missing token-creator grant fails here, and the first call's latency is the model's.
          await auth.getAccessToken();
          vertex = vertexGenAI(clients, auth, input.project, input.location);
        } catch (err) {
          throw googleError(err, { context: `acting as ${input.serviceAccountEmail}` });
        }
      }

      const signal = ctx?.cancellationSignal;
      const call = async (ai: GoogleGenAI, model: string, promptIndex: number): Promise<Observation> => {
        const prompt = input.prompts[promptIndex]!;
        for (let attempt = 1; ; attempt++) {
          const started = performance.now();
          // genai leaves a listener on the signal it is given: a per-call child keeps the activity's signal clean.
          const abort = new AbortController();
          const forward = () => abort.abort(signal?.reason);
          signal?.addEventListener('abort', forward, { once: true });
          try {
            const response = await ai.models.generateContent({
              model,
              contents: prompt.text,
              config: {
                temperature: 0,
                seed: DUAL_RUN_SEED,
                ...(prompt.system ? { systemInstruction: prompt.system } : {}),
                ...(prompt.json ? { responseMimeType: 'application/json' } : {}),
                abortSignal: abort.signal,
              },
            });
            const latencyMs = Math.round((performance.now() - started) * 10) / 10;
            const candidate = response.candidates?.[0];
            const text = candidate?.content?.parts?.map((p) => p.text ?? '').join('') ?? '';
            return {
              outcome: {
                success: true,
                latencyMs,
                ...(candidate?.finishReason ? { finishReason: String(candidate.finishReason) } : {}),
                ...(response.usageMetadata?.promptTokenCount !== undefined ? { promptTokens: response.usageMetadata.promptTokenCount } : {}),
                ...(response.usageMetadata?.candidatesTokenCount !== undefined ? { outputTokens: response.usageMetadata.candidatesTokenCount } : {}),
                ...(response.modelVersion ? { modelVersion: response.modelVersion } : {}),
              },
              text,
            };
          } catch (err) {
            const latencyMs = Math.round((performance.now() - started) * 10) / 10;
            if (signal?.aborted) throw signal.reason ?? err;
            const failure = describeCallError(err);
            // Not an answer from the API (network, token refresh, cancellation): the run cannot go on.
            if (!failure) throw googleError(err, { context: `calling ${model}` });
            const retryable = failure.httpStatus === 429 || failure.httpStatus >= 500;
            if (retryable && attempt < CALL_ATTEMPTS) {
              ctx?.heartbeat({ plan: planId, completed: [...completed] } satisfies DualRunProgress);
              await (ctx ? ctx.sleep(RETRY_BASE_MS * 2 ** (attempt - 1)) : new Promise((r) => setTimeout(r, RETRY_BASE_MS * 2 ** (attempt - 1))));
              continue;
            }
            if (retryable) throw googleError(err, { context: `calling ${model} (${ai === vertex ? 'Vertex' : 'Gemini API'} path), ${attempt} attempts` });
            return { outcome: callFailure(failure, latencyMs, keyString) };
          } finally {
            signal?.removeEventListener('abort', forward);
          }
        }
      };

      const keySide = async (model: string, promptIndex: number): Promise<Observation> => {
        if (keyRefusal) {
          const { httpStatus, status, reason } = keyRefusal;
          return { outcome: { success: false, skipped: true, latencyMs: 0, ...(httpStatus ? { httpStatus } : {}), ...(status ? { status } : {}), ...(reason ? { reason } : {}) } };
        }
        if (!gemini) {
          keyString = await fetchKeyString(input.apiKey);
          gemini = clients.genai({ kind: 'gemini', apiKey: keyString });
        }
        const observation = await call(gemini, model, promptIndex);
        if (isKeyRejection(observation.outcome)) keyRefusal = observation.outcome;
        return observation;
      };

      for (const planned of pending) {
        // Cancelled between samples: stop with what the last heartbeat recorded.
        if (signal?.aborted) throw signal.reason;
        // A slow model call must not look like a dead worker: keep heartbeating while it runs.
        const keepAlive = ctx ? setInterval(() => ctx.heartbeat({ plan: planId, completed: [...completed] } satisfies DualRunProgress), KEEP_ALIVE_MS) : undefined;
        // Both paths settle before the attempt can fail: a call left running would land after the
        // activity failed, inside whatever the workflow measures next (the canary's first step).
        const [keySettled, vertexSettled] = await Promise.allSettled([
          keySide(planned.model, planned.prompt),
          call(vertex!, planned.model, planned.prompt),
        ]).finally(() => clearInterval(keepAlive));
        if (keySettled.status === 'rejected') throw keySettled.reason;
        if (vertexSettled.status === 'rejected') throw vertexSettled.reason;
        const [keyObservation, vertexObservation] = [keySettled.value, vertexSettled.value];
        completed.push(
          compareSample({ ...planned, promptSpec: input.prompts[planned.prompt]!, key: keyObservation, vertex: vertexObservation }),
        );
        // A copy: the SDK may serialise heartbeat details after this loop has moved on.
        ctx?.heartbeat({ plan: planId, completed: [...completed] } satisfies DualRunProgress);
      }

      const order = new Map(plan.map((s, i) => [sampleId(s), i]));
      completed.sort((a, b) => order.get(sampleId(a))! - order.get(sampleId(b))!);
      const report = buildDualRunReport(completed, input.prompts, input.thresholds);
      // Belt and braces: Google's messages never echo the key, but a report is the last place one could slip out.
      return keyString ? (JSON.parse(redactKeyStrings(JSON.stringify(report), keyString)) as DualRunReport) : report;
    },
  };
}

