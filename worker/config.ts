// Worker and client configuration, parsed once at start from the standard Temporal variables
// (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_PROFILE,
// TEMPORAL_CONFIG_FILE), through @temporalio/envconfig so profiles in temporal.toml work too.
// A bad value is reported with the variable's name and what is expected.

import { existsSync } from 'node:fs';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions, WorkerOptions } from '@temporalio/worker';
import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from '../contracts/duration';
import { DEFAULT_APPROVAL_AUDIENCES, DEFAULT_MAX_TOKEN_AGE_S } from '../contracts/identity';
import { DEFAULT_TASK_QUEUE } from '../contracts/names';
import type { IdTokenPolicy } from '../google/id-tokens';

/** A configuration value that cannot be used; `variable` names where it came from. */
export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(problems.map((p) => `${p.variable}: ${p.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}

const bool = (name: string) =>
  z
    .enum(['true', 'false', '1', '0'], { message: `${name} must be true or false` })
    .transform((v) => v === 'true' || v === '1');

const existingFile = (name: string) =>
  z.string().refine((p) => existsSync(p), { message: `${name} must name a readable file` });

const EnvSchema = z.object({
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/, 'TEMPORAL_ADDRESS must be host:port, for example 127.0.0.1:7233 or my-ns.tmprl.cloud:7233')
    .optional(),
  TEMPORAL_NAMESPACE: z.string().regex(/^[A-Za-z0-9._-]{1,255}$/, 'TEMPORAL_NAMESPACE must be a namespace name such as default').optional(),
  TEMPORAL_API_KEY: z.string().min(1, 'TEMPORAL_API_KEY must not be empty when set').optional(),
  TEMPORAL_TLS: bool('TEMPORAL_TLS').optional(),
  TEMPORAL_TLS_CLIENT_CERT_PATH: existingFile('TEMPORAL_TLS_CLIENT_CERT_PATH').optional(),
  TEMPORAL_TLS_CLIENT_KEY_PATH: existingFile('TEMPORAL_TLS_CLIENT_KEY_PATH').optional(),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: existingFile('TEMPORAL_TLS_SERVER_CA_CERT_PATH').optional(),
  TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: bool('TEMPORAL_TLS_DISABLE_HOST_VERIFICATION').optional(),
  TEMPORAL_CONFIG_FILE: existingFile('TEMPORAL_CONFIG_FILE').optional(),
  KEYLESS_TASK_QUEUE: z.string().regex(/^[A-Za-z0-9._/-]{1,200}$/, 'KEYLESS_TASK_QUEUE must be a task queue name such as keyless').optional(),
  KEYLESS_METRICS_ADDRESS: z
    .string()
    // The SDK's exporter binds a socket address: an IP and a port, never a host name to resolve.
    .regex(
      /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/,
      'KEYLESS_METRICS_ADDRESS must be ip:port, for example 0.0.0.0:9464 (every interface) or 127.0.0.1:9464 (a host name such as localhost is not accepted)',
    )
    .refine((a) => {
      // A value of the wrong shape is reported once, by the regex above.
      if (!/:\d{1,5}$/.test(a)) return true;
      const port = Number(a.slice(a.lastIndexOf(':') + 1));
      const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):/.exec(a);
      return port >= 1 && port <= 65535 && (!ipv4 || ipv4.slice(1).every((octet) => Number(octet) <= 255));
    }, 'KEYLESS_METRICS_ADDRESS must name a valid IP address and a port between 1 and 65535, for example 0.0.0.0:9464')
    .optional(),
});

/** Where the worker and the CLI connect, and which task queue they use. */
export interface TemporalConfig {
  connection: NativeConnectionOptions;
  namespace: string;
  taskQueue: string;
  /** Worker capacity (KEYLESS_MAX_* variables); only the worker reads it. */
  worker: WorkerTuning;
  /** Where the worker serves Prometheus metrics (KEYLESS_METRICS_ADDRESS, ip:port); none when unset. */
  metricsAddress?: string;
}

/** Parses the Temporal settings from an environment; throws ConfigError naming each bad variable. */
export function temporalConfigFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalConfig {
  // Empty variables are treated as unset, as shells often export them that way.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => ({ variable: String(i.path[0]), message: i.message })));
  }
  const tlsPairs: [string, string][] = [
    ['TEMPORAL_TLS_CLIENT_CERT_PATH', 'TEMPORAL_TLS_CLIENT_KEY_PATH'],
    ['TEMPORAL_TLS_CLIENT_KEY_PATH', 'TEMPORAL_TLS_CLIENT_CERT_PATH'],
  ];
  for (const [has, needs] of tlsPairs) {
    if (present[has] && !present[needs]) {
      throw new ConfigError([{ variable: needs, message: `must be set together with ${has} (mutual TLS needs both the certificate and its key)` }]);
    }
  }
  let loaded;
  try {
    loaded = loadClientConnectConfig({ overrideEnvVars: present as Record<string, string> });
  } catch (err) {
    throw new ConfigError([{ variable: present.TEMPORAL_CONFIG_FILE ? 'TEMPORAL_CONFIG_FILE' : 'TEMPORAL_PROFILE', message: (err as Error).message }]);
  }
  const connection = { ...loaded.connectionOptions };
  connection.address ??= '127.0.0.1:7233';
  return {
    connection,
    namespace: loaded.namespace ?? 'default',
    taskQueue: parsed.data.KEYLESS_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
    worker: workerTuningFromEnv(present),
    ...(parsed.data.KEYLESS_METRICS_ADDRESS ? { metricsAddress: parsed.data.KEYLESS_METRICS_ADDRESS } : {}),
  };
}

const count = (name: string, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `${name} must be a whole number`)
    .transform(Number)
    .refine((n) => n >= 1 && n <= max, { message: `${name} must be between 1 and ${max}` });

const TuningSchema = z.object({
  KEYLESS_MAX_CACHED_WORKFLOWS: count('KEYLESS_MAX_CACHED_WORKFLOWS', 100_000).optional(),
  KEYLESS_MAX_CONCURRENT_WORKFLOW_TASKS: count('KEYLESS_MAX_CONCURRENT_WORKFLOW_TASKS', 10_000).optional(),
  KEYLESS_MAX_CONCURRENT_ACTIVITIES: count('KEYLESS_MAX_CONCURRENT_ACTIVITIES', 10_000).optional(),
});

/** The worker options an operator may tune; the keys are WorkerOptions' own. */
export type WorkerTuning = Pick<WorkerOptions, 'maxCachedWorkflows' | 'maxConcurrentWorkflowTaskExecutions' | 'maxConcurrentActivityTaskExecutions'>;

/**
 * Worker capacity from the environment; unset variables keep the defaults below (see the
 * README's worker settings). KEYLESS_MAX_CACHED_WORKFLOWS is the sticky cache (workflows kept in
 * memory between tasks), KEYLESS_MAX_CONCURRENT_WORKFLOW_TASKS and KEYLESS_MAX_CONCURRENT_ACTIVITIES
 * the task slots. Throws ConfigError naming each bad variable.
 */
export function workerTuningFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerTuning {
  const present = Object.fromEntries(Object.entries(env).filter(([key, v]) => key.startsWith('KEYLESS_MAX_') && v !== undefined && v !== ''));
  const parsed = TuningSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => ({ variable: String(i.path[0]), message: i.message })));
  }
  const tuning: WorkerTuning = {};
  if (parsed.data.KEYLESS_MAX_CACHED_WORKFLOWS !== undefined) tuning.maxCachedWorkflows = parsed.data.KEYLESS_MAX_CACHED_WORKFLOWS;
  if (parsed.data.KEYLESS_MAX_CONCURRENT_WORKFLOW_TASKS !== undefined) tuning.maxConcurrentWorkflowTaskExecutions = parsed.data.KEYLESS_MAX_CONCURRENT_WORKFLOW_TASKS;
  if (parsed.data.KEYLESS_MAX_CONCURRENT_ACTIVITIES !== undefined) tuning.maxConcurrentActivityTaskExecutions = parsed.data.KEYLESS_MAX_CONCURRENT_ACTIVITIES;
  return tuning;
}

const IdTokenEnvSchema = z.object({
  KEYLESS_APPROVAL_AUDIENCE: z
    .string()
    .transform((v) => v.split(',').map((a) => a.trim()).filter(Boolean))
    .refine((list) => list.length > 0 && list.every((a) => a.length <= 500 && !/\s/.test(a)), {
      message: 'KEYLESS_APPROVAL_AUDIENCE must be a comma-separated list of audiences, e.g. keyless-approvals,764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com',
    })
    .optional(),
  KEYLESS_APPROVAL_MAX_TOKEN_AGE: z
    .string()
    .refine((v) => DURATION_PATTERN.test(v.trim()), { message: 'KEYLESS_APPROVAL_MAX_TOKEN_AGE must be a duration such as 10m' })
    .transform((v) => Math.round((parseDuration(v.trim()) ?? 0) / 1000))
    .refine((s) => s >= 30 && s <= 3600, { message: 'KEYLESS_APPROVAL_MAX_TOKEN_AGE must be between 30s and 1h (Google ID tokens live one hour)' })
    .optional(),
});

/**
 * Which Google ID tokens prove an operator to this worker: KEYLESS_APPROVAL_AUDIENCE (default
 * keyless-approvals plus gcloud's two OAuth client ids, the only audiences a user's token can
 * have) and KEYLESS_APPROVAL_MAX_TOKEN_AGE (default 10m). Throws ConfigError naming the variable.
 */
export function idTokenPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): IdTokenPolicy {
  const present = Object.fromEntries(Object.entries(env).filter(([key, v]) => key.startsWith('KEYLESS_APPROVAL_') && v !== undefined && v !== ''));
  const parsed = IdTokenEnvSchema.safeParse(present);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => ({ variable: String(i.path[0]), message: i.message })));
  return { audiences: parsed.data.KEYLESS_APPROVAL_AUDIENCE ?? [...DEFAULT_APPROVAL_AUDIENCES], maxAgeSeconds: parsed.data.KEYLESS_APPROVAL_MAX_TOKEN_AGE ?? DEFAULT_MAX_TOKEN_AGE_S };
}
