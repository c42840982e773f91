// The activities a migration calls, proxied with one retry policy per class of call. Each limit
// says why it is what it is; failure types from contracts/errors.ts marked non-retryable are
// never retried, whatever the policy.

import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { KeylessActivities } from '../contracts/activities';
import { NON_RETRYABLE_ERROR_TYPES } from '../contracts/errors';

/** Reads of Google state (keys, policies, monitoring, routes): cheap, safe to repeat quickly. */
const FAST_READS: ActivityOptions = {
  startToCloseTimeout: '1m',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    // A read that keeps failing for ~5 minutes is an outage to report, not to wait out.
    maximumInterval: '30s',
    maximumAttempts: 12,
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  },
};

/** Cloud mutations (create account, bind role, restrict key): idempotent, waited on through their LROs. */
const CLOUD_MUTATIONS: ActivityOptions = {
  // API Keys operations usually finish in seconds; a minute covers a slow LRO poll.
  startToCloseTimeout: '2m',
  // These calls take seconds and LRO waits heartbeat: a worker that died mid-call is noticed in
  // 30 s and the (idempotent) mutation retried, instead of waiting out the 2-minute timeout.
  heartbeatTimeout: '30s',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    // Quota (429) and 5xx bursts on admin APIs clear within minutes; past ~15 minutes, roll back.
    maximumAttempts: 15,
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  },
};

/** Live probes of Vertex while a new role propagates: Google documents ~2 min, sometimes 7 or more. */
const SLOW_POLLS: ActivityOptions = {
  startToCloseTimeout: '2m',
  retry: {
    initialInterval: '10s',
    backoffCoefficient: 1.5,
    maximumInterval: '1m',
    // The probe itself turns a 403 into MissingRole once its propagation window has passed,
    // so this budget only has to outlast that window plus transient errors.
    maximumAttempts: 30,
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  },
};

/** The dual-run: many live calls, heartbeating after each sample so a crash resumes, not restarts. */
const LONG_ANALYSES: ActivityOptions = {
  startToCloseTimeout: '30m',
  // It heartbeats after every sample: a worker that died is noticed in 20 s, not a minute.
  heartbeatTimeout: '20s',
  retry: {
    initialInterval: '5s',
    backoffCoefficient: 2,
    maximumInterval: '2m',
    maximumAttempts: 6,
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  },
};

/** Compensations: rollback must finish, so they retry without an attempt limit. */
const COMPENSATIONS: ActivityOptions = {
  startToCloseTimeout: '2m',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '5m',
    // Only refusals a retry cannot change stop a compensation (e.g. a foreign change to the key).
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  },
};

export const reads = proxyActivities<KeylessActivities>(FAST_READS);
export const mutations = proxyActivities<KeylessActivities>(CLOUD_MUTATIONS);
export const probes = proxyActivities<KeylessActivities>(SLOW_POLLS);
export const analyses = proxyActivities<KeylessActivities>(LONG_ANALYSES);
export const compensations = proxyActivities<KeylessActivities>(COMPENSATIONS);
