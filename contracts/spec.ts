// The pipeline spec: the one input of a migration. Validated by the CLI before start and again
// by the workflow, so a spec that reaches Temporal by another road (the `temporal` CLI, the UI)
// is held to the same rules. Every object is strict: an unknown field is a typo, not a wish.

import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from './duration';
import { serviceAccountEmail } from './roles';
import { RuntimeSchema } from './runtime';

/** Looks like an API key string (standard `AIza…` or auth key `AQ.…`); such a value is refused and never echoed. */
export function looksLikeKeyString(value: string): boolean {
  return /AIza[0-9A-Za-z_-]{20,}/.test(value) || /^AQ\.[0-9A-Za-z_.-]{10,}$/.test(value.trim());
}

/**
 * Upper bounds of the spec's durations, and why. Temporal would wait any time at all; these stop a
 * typo ("3000d") from holding a pipeline half-migrated, or promising what cannot be kept.
 */
export const DURATION_LIMITS: Record<string, { max: string; why: string }> = {
  // A canary step bakes to gather evidence; a week is far past what any step needs.
  bake: { max: '7d', why: 'a canary step longer than a week holds the pipeline split between two paths' },
  // Breaches must be seen while the step bakes; a daily job's canary may look every few hours.
  analysisInterval: { max: '24h', why: 'an error-rate breach would go unseen for longer than a day' },
  'soak.duration': { max: '30d', why: 'a soak longer than 30 days keeps the key alive past any job cycle' },
  // A deleted key is undeletable for 30 days only: a longer window promises a rollback Google cannot do.
  'finalize.rollbackWindow': { max: '30d', why: 'a deleted key can be undeleted for 30 days only' },
  'approvals.deadline': { max: '30d', why: 'an approval left open longer than 30 days is forgotten, not pending' },
};

const duration = (what: string) =>
  z.string().refine((v) => DURATION_PATTERN.test(v.trim()), {
    message: `${what} must be a duration such as "90s", "30m", "24h" or "7d"`,
  });

/**
 * The spec's durations past DURATION_LIMITS. Kept out of the field schemas so that a migration
 * whose spec was accepted before a limit existed keeps running (AcceptedPipelineSpecSchema).
 */
export function durationLimitProblems(spec: AcceptedPipelineSpec): { path: (string | number)[]; message: string }[] {
  const found: { path: (string | number)[]; value: string | undefined; limit: string }[] = [
    ...spec.canary.steps.map((step, i) => ({ path: ['canary', 'steps', i, 'bake'], value: step.bake, limit: 'bake' })),
    { path: ['canary', 'analysisInterval'], value: spec.canary.analysisInterval, limit: 'analysisInterval' },
    { path: ['soak', 'duration'], value: spec.soak.duration, limit: 'soak.duration' },
    { path: ['finalize', 'rollbackWindow'], value: spec.finalize.rollbackWindow, limit: 'finalize.rollbackWindow' },
    { path: ['approvals', 'deadline'], value: spec.approvals.deadline, limit: 'approvals.deadline' },
  ];
  return found
    .filter(({ value, limit }) => value !== undefined && (parseDuration(value) ?? 0) > parseDuration(DURATION_LIMITS[limit]!.max)!)
    .map(({ path, limit }) => ({ path, message: `${limit} is at most ${DURATION_LIMITS[limit]!.max}: ${DURATION_LIMITS[limit]!.why}` }));
}

/**
 * Free text (prompts, display names, notes, reasons): anything but a key string, which is refused
 * without being repeated, since the text would be kept in histories, results and reports.
 */
export function freeText(what: string, max: number) {
  return z
    .string()
    .max(max, `${what} is limited to ${max} characters`)
    .refine((v) => !looksLikeKeyString(v), { message: `${what} holds what looks like an API key string: remove it (keys are named by resource name, never pasted)` });
}

const pipelineName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,61}[a-z0-9]$/, 'pipeline must be 2-63 characters: lowercase letters, digits and hyphens, starting with a letter');

const projectId = z
  .string()
  .regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'project must be a Google Cloud project id: 6-30 lowercase letters, digits and hyphens, starting with a letter');

const keyResourceName = z.string().superRefine((value, ctx) => {
  if (looksLikeKeyString(value)) {
    // The value itself is deliberately left out of the message.
    ctx.addIssue({
      code: 'custom',
      message: 'apiKey holds what looks like a key string; give the key\'s resource name instead (projects/<project>/locations/global/keys/<keyId>) and keep the key string out of specs',
    });
    return;
  }
  if (!/^projects\/[a-z0-9-]+\/locations\/global\/keys\/[a-z0-9-]+$/.test(value)) {
    ctx.addIssue({
      code: 'custom',
      message: 'apiKey must be a key resource name: projects/<project id or number>/locations/global/keys/<keyId>',
    });
  }
});

// Google's rule for service account ids: 6-30 characters, [a-z]([-a-z0-9]*[a-z0-9]).
const accountId = z
  .string()
  .regex(/^[a-z]([-a-z0-9]{4,28})[a-z0-9]$/, 'accountId must be 6-30 characters: lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen');

const ipOrCidr = z
  .string()
  .regex(/^(\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?|[0-9a-fA-F:]+(\/\d{1,3})?)$/, 'allowedIps entries must be IPv4 or IPv6 addresses or CIDR ranges');

export const DualRunPromptSchema = z.strictObject({
  /** The prompt text sent on both paths. */
  text: freeText('dualRun prompt text', 20_000).pipe(z.string().min(1)),
  system: freeText('dualRun prompt system', 20_000).optional(),
  /** Ask for JSON output; outputs are then compared parsed. */
  json: z.boolean().default(false),
  /** Words the output must contain: used when the key side has no baseline (a repair). */
  expectContains: z.array(freeText('expectContains entries', 2_000).pipe(z.string().min(1))).max(20).optional(),
});

export const CanaryStepSchema = z.strictObject({
  percent: z.number().int().min(1).max(100),
  /** The least time the step runs; absent: the step is defined by its evidence alone. */
  bake: duration('bake').optional(),
  /** Vertex requests the step must judge before it advances; default canary.minRequests. */
  minRequests: z.number().int().min(0, 'minRequests must be 0 (advance on the bake alone) or more').optional(),
  /** How long the step bakes while it waits for its evidence before it asks an operator; default canary.maxBake. */
  maxBake: duration('maxBake').optional(),
});
export type CanaryStep = z.infer<typeof CanaryStepSchema>;

export const DEFAULT_CANARY_STEPS: CanaryStep[] = [
  { percent: 10, bake: '30m' },
  { percent: 50, bake: '30m' },
  { percent: 100, bake: '1h' },
];

/** How many times its bake a step waits for evidence when neither it nor the canary sets maxBake. */
export const DEFAULT_MAX_BAKE_FACTOR = 4;
/** The longest wait for evidence of a step without a bake (defined by evidence alone): two days, so a daily job runs at least once, even a late one. */
export const DEFAULT_EVIDENCE_ONLY_MAX_BAKE = '48h';

/**
 * The spec's rules without DURATION_LIMITS: what a running migration's spec was accepted under
 * before those limits, and still is (the workflow applies the limits to new migrations only).
 */
export const AcceptedPipelineSpecSchema = z.strictObject({
  pipeline: pipelineName,
  project: projectId,
  apiKey: keyResourceName,
  stopgap: z.boolean().default(true),
  /**
   * Who makes the pipeline's account, its roles and its federation: `keyless` (default) at
   * provision and identity, or `pre-provisioned`: the operator made them, and keyless only reads
   * and checks them, failing with what is missing and the command that makes it; the
   * orchestrator then needs no IAM-admin role at all.
   */
  provisioning: z.enum(['keyless', 'pre-provisioned']).default('keyless'),
  /** Where the job runs: how it gets the account's identity there. Absent: `external` (the operator arranges it). */
  runtime: RuntimeSchema.default({ kind: 'external' }),
  /** The account keyless creates (or adopts) for the pipeline; a `google` runtime adopts the account the job already runs as instead. */
  serviceAccount: z
    .strictObject({
      accountId,
      create: z.boolean().default(true),
      displayName: freeText('serviceAccount.displayName', 100).optional(),
      /** Keep the account and its role on rollback even if keyless created them. */
      keepOnRollback: z.boolean().default(false),
    })
    .optional(),
  vertex: z.strictObject({
    location: z.string().regex(/^[a-z]+(-[a-z]+[0-9]+)?$/, 'location must be "global", a multi-region such as "us", or a region such as "us-central1"').default('global'),
    models: z.array(z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, 'models entries are model ids such as "gemini-2.5-flash"')).min(1).max(10),
  }),
  dualRun: z
    .strictObject({
      prompts: z.array(DualRunPromptSchema).min(1).max(50).default([{ text: 'Reply with the single word: ready', json: false }]),
      /** How many times each prompt is sent on each path. */
      samples: z.number().int().min(1).max(20).default(1),
      thresholds: z
        .strictObject({
          minSuccessRate: z.number().min(0).max(1).default(1),
          minSimilarity: z.number().min(0).max(1).default(0.8),
          maxLatencyRatio: z.number().positive().default(3),
          allowModelVersionDrift: z.boolean().default(false),
        })
        .prefault({}),
    })
    .prefault({}),
  canary: z
    .strictObject({
      steps: z
        .array(CanaryStepSchema)
        .min(1)
        .max(20)
        .default(DEFAULT_CANARY_STEPS)
        .superRefine((steps, ctx) => {
          for (let i = 1; i < steps.length; i++) {
            if (steps[i]!.percent <= steps[i - 1]!.percent) {
              ctx.addIssue({ code: 'custom', path: [i, 'percent'], message: 'canary step percents must rise strictly' });
            }
          }
          if (steps.length > 0 && steps[steps.length - 1]!.percent !== 100) {
            ctx.addIssue({ code: 'custom', path: [steps.length - 1, 'percent'], message: 'the last canary step must be 100 percent' });
          }
        }),
      /**
       * Roll back when the service account's error rate exceeds the key's by more than this plus
       * three standard errors of the difference (so sampling noise on few requests is no breach).
       */
      maxErrorRateDelta: z.number().min(0).max(1).default(0.02),
      /**
       * Vertex requests a step must judge before it advances (each step may set its own); also the
       * requests before an error rate or a latency is trusted. 0 advances on the bake alone.
       */
      minRequests: z.number().int().min(0, 'canary.minRequests must be 0 (advance on the bake alone) or more').default(20),
      /** How long a step bakes for its evidence before it waits for an operator; default four times its bake. */
      maxBake: duration('canary.maxBake').optional(),
      /**
       * How much slower Vertex may be than the key: a breach when Vertex's latencies rank above
       * this many times the key's by more than three standard errors (a rank test on Monitoring's
       * latency distributions, not one percentile).
       */
      maxLatencyRatio: z.number().min(1, 'canary.maxLatencyRatio must be 1 or more: it is how many times slower Vertex may be than the key').default(2),
      analysisInterval: duration('analysisInterval').default('5m'),
      /** When the key is already rejected there is no healthy baseline: bake each step for this fraction of its time. */
      repairBakeFactor: z.number().min(0).max(1).default(0.25),
    })
    .prefault({})
    .superRefine((canary, ctx) => {
      canary.steps.forEach((step, i) => {
        const min = step.minRequests ?? canary.minRequests;
        if (step.bake === undefined && min === 0) {
          ctx.addIssue({ code: 'custom', path: ['steps', i, 'bake'], message: 'a canary step needs a bake, minRequests above 0, or both: with neither it would pass on nothing' });
        }
        const bakeMs = step.bake === undefined ? undefined : parseDuration(step.bake);
        const maxBake = step.maxBake ?? canary.maxBake;
        const maxBakeMs = maxBake === undefined ? undefined : parseDuration(maxBake);
        if (bakeMs !== undefined && maxBakeMs !== undefined && maxBakeMs < bakeMs) {
          ctx.addIssue({
            code: 'custom',
            path: step.maxBake !== undefined ? ['steps', i, 'maxBake'] : ['maxBake'],
            message: `maxBake (${maxBake}) is shorter than the bake of step ${i + 1} (${step.bake}): make maxBake at least the bake`,
          });
        }
      });
    }),
  soak: z
    .strictObject({
      duration: duration('soak.duration').default('24h'),
      /**
       * Requests the pipeline's account must make during the soak: proof that the job ran, and went
       * to Vertex. 0 passes a soak in which the job did not run at all.
       */
      minVertexRequests: z.number().int().min(0, 'soak.minVertexRequests must be 0 (no proof that the job ran) or more').default(1),
    })
    .prefault({}),
  route: z
    .strictObject({
      /** Where route documents live: file://<dir> or gs://<bucket>[/<prefix>]; the document is <pipeline>.json there. */
      store: z
        .string()
        .regex(/^(file:\/\/.+|gs:\/\/[a-z0-9][a-z0-9._-]{1,220}(\/.*)?)$/, 'route.store must be file://<directory> or gs://<bucket>[/<prefix>]')
        .default('file://.keyless/routes'),
    })
    .prefault({}),
  finalize: z
    .strictObject({
      action: z.enum(['restrict', 'restrict-ip', 'delete']).default('restrict'),
      allowedIps: z.array(ipOrCidr).max(100).optional(),
      /** How long the migration stays open after finalize so that `rollback` can still undo it (a deleted key stays undeletable for 30 days). */
      rollbackWindow: duration('finalize.rollbackWindow').default('0s'),
    })
    .prefault({})
    .superRefine((finalize, ctx) => {
      if (finalize.action === 'restrict-ip' && !finalize.allowedIps?.length) {
        ctx.addIssue({ code: 'custom', path: ['allowedIps'], message: 'finalize.action "restrict-ip" needs allowedIps: the fixed egress addresses of the jobs that keep the key' });
      }
    }),
  approvals: z
    .strictObject({
      cutover: z.boolean().default(true),
      finalize: z.boolean().default(true),
      /** Who may approve, reject or promote; anyone when absent. */
      approvers: z.array(freeText('approvals.approvers entries', 200).pipe(z.string().min(1))).min(1).max(100).optional(),
      /**
       * `google-id-token`: approve, reject and promote carry a Google ID token and the approver is
       * whoever it proves; `none`: the payload's `by` is taken as typed (unverified). Default:
       * google-id-token when approvers is set, else none.
       */
      verify: z.enum(['google-id-token', 'none'], { message: 'approvals.verify must be google-id-token or none' }).optional(),
      deadline: duration('approvals.deadline').default('72h'),
      onDeadline: z.enum(['rollback', 'wait']).default('rollback'),
    })
    .prefault({}),
}).superRefine((spec, ctx) => {
  // A key named by project number is checked at inventory, where the number is resolved.
  const keyProject = /^projects\/([^/]+)\//.exec(spec.apiKey)?.[1];
  if (keyProject && !/^[0-9]+$/.test(keyProject) && keyProject !== spec.project) {
    ctx.addIssue({ code: 'custom', path: ['apiKey'], message: `apiKey names a key of project ${keyProject}, not of the spec's project ${spec.project}: a migration changes only its own project's keys` });
  }
  if (spec.runtime.kind === 'google') {
    if (spec.serviceAccount) {
      ctx.addIssue({ code: 'custom', path: ['serviceAccount'], message: 'a google runtime adopts the account the job already runs as (runtime.serviceAccount or runtime.cloudRunJob), so the job keeps its other permissions: remove serviceAccount' });
    }
    const owner = /@([a-z][a-z0-9-]+)\.iam\.gserviceaccount\.com$/.exec(spec.runtime.serviceAccount ?? '')?.[1];
    if (owner && owner !== spec.project && !spec.runtime.accountInAnotherProject) {
      ctx.addIssue({ code: 'custom', path: ['runtime', 'serviceAccount'], message: `runtime.serviceAccount belongs to project ${owner}, not ${spec.project}: set runtime.accountInAnotherProject: true if that is meant (keyless binds the Vertex role in ${spec.project})` });
    }
  } else if (!spec.serviceAccount) {
    ctx.addIssue({ code: 'custom', path: ['serviceAccount'], message: 'serviceAccount is required: the account the pipeline will call Vertex as, e.g. {accountId: nightly-summarizer}' });
  }
  const calls = spec.vertex.models.length * spec.dualRun.prompts.length * spec.dualRun.samples;
  if (calls > MAX_DUAL_RUN_CALLS) {
    ctx.addIssue({ code: 'custom', path: ['dualRun', 'samples'], message: `dual-run would make ${calls} calls per path (models × prompts × samples); the limit is ${MAX_DUAL_RUN_CALLS}` });
  }
});

type AcceptedPipelineSpec = z.output<typeof AcceptedPipelineSpecSchema>;

/** The pipeline spec, by every rule: what a new migration must satisfy. */
export const PipelineSpecSchema = AcceptedPipelineSpecSchema.superRefine((spec, ctx) => {
  for (const { path, message } of durationLimitProblems(spec)) ctx.addIssue({ code: 'custom', path, message });
});

/** The dual-run's calls per path; its report and heartbeats must stay far below Temporal's 2 MB payload limit. */
export const MAX_DUAL_RUN_CALLS = 1_000;

/** A pipeline spec as written by a person (defaults may be left out). */
export type PipelineSpecInput = z.input<typeof PipelineSpecSchema>;
/** A pipeline spec after validation, every default filled in. */
export type PipelineSpec = z.output<typeof PipelineSpecSchema>;

/** One problem in a spec, located by its path, e.g. `canary.steps[2].percent`. */
export interface SpecProblem {
  path: string;
  message: string;
}

/** Formats a zod path as people write it: `canary.steps[2].percent`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(spec)';
}

/**
 * Validates a spec; problems carry their path and never the offending value. `limits: false` leaves
 * out DURATION_LIMITS, for a spec a running migration was accepted with before they existed.
 */
export function validateSpec(input: unknown, options: { limits?: boolean } = {}): { ok: true; spec: PipelineSpec } | { ok: false; problems: SpecProblem[] } {
  const result = (options.limits === false ? AcceptedPipelineSpecSchema : PipelineSpecSchema).safeParse(input);
  if (result.success) return { ok: true, spec: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message })),
  };
}

/** The account a pipeline calls Vertex as, as its spec says. */
export type PipelineAccount =
  /** An account keyless creates (or adopts when it exists) and may delete on rollback if it created it. */
  | { kind: 'managed'; email: string; accountId: string; create: boolean; displayName?: string; keepOnRollback: boolean }
  /** The account a Google Cloud runtime already runs as: adopted, never created or deleted. Its email is unknown until read when only a Cloud Run job is named. */
  | { kind: 'runtime'; email?: string; cloudRunJob?: { name: string; location: string }; accountInAnotherProject: boolean };

export function pipelineAccount(spec: PipelineSpec): PipelineAccount {
  if (spec.runtime.kind === 'google') {
    return { kind: 'runtime', ...(spec.runtime.serviceAccount ? { email: spec.runtime.serviceAccount } : {}), ...(spec.runtime.cloudRunJob ? { cloudRunJob: spec.runtime.cloudRunJob } : {}), accountInAnotherProject: spec.runtime.accountInAnotherProject };
  }
  // The schema requires the section for every other runtime.
  const account = spec.serviceAccount!;
  return { kind: 'managed', email: serviceAccountEmail(account.accountId, spec.project), accountId: account.accountId, create: account.create, ...(account.displayName ? { displayName: account.displayName } : {}), keepOnRollback: account.keepOnRollback };
}

/** How a spec's approvals are proved: its approvals.verify, else google-id-token when it names approvers. */
export function approvalVerify(spec: Pick<PipelineSpec, 'approvals'>): 'google-id-token' | 'none' {
  return spec.approvals.verify ?? (spec.approvals.approvers ? 'google-id-token' : 'none');
}

/** Milliseconds of a duration the schema has already validated. */
export function durationMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new TypeError(`not a duration: ${text}`);
  return ms;
}
