// What activities report back to the workflow and what a migration's facts and result carry: the
// key's snapshot, traffic readings, the probe's and the dual-run's reports. Types only, shared by
// workflows, activities, the Google library and the CLI, so a report has one shape everywhere.

import type { PipelineSpec } from './spec';

/** API Keys v2 `Restrictions`, as on the wire (camelCase JSON). */
export interface KeyRestrictions {
  browserKeyRestrictions?: { allowedReferrers?: string[] };
  serverKeyRestrictions?: { allowedIps?: string[] };
  androidKeyRestrictions?: { allowedApplications?: { sha1Fingerprint?: string; packageName?: string }[] };
  iosKeyRestrictions?: { allowedBundleIds?: string[] };
  apiTargets?: { service?: string; methods?: string[] }[];
}

/** The parts of a key keyless may change, as they were; what compensation puts back. */
export interface KeySnapshot {
  name: string;
  restrictions: KeyRestrictions;
  annotations: Record<string, string>;
  displayName: string;
  etag: string;
  updateTime: string;
}

/** Where requests with the key may come from. */
export type AppRestriction = 'none' | 'referrer' | 'ip' | 'android' | 'ios';

/** One key's audit line: the seed article's classification plus who uses it. */
export interface KeyAudit {
  /** Resource name as Google returns it (project number). */
  name: string;
  keyId: string;
  /** Google's key uid; Cloud Monitoring names the key `apikey:<uid>` in `credential_id`. */
  uid?: string;
  displayName: string;
  /** `auth`: bound to a service account; `standard`: a shared secret. */
  keyType: 'standard' | 'auth';
  serviceAccountEmail?: string;
  appRestriction: AppRestriction;
  /** `all`: no API restriction; `restricted`: only `services`. */
  apiRestriction: 'restricted' | 'all';
  services: string[];
  /** No application restriction and all APIs: rejected since 2026-06-19. */
  blockCandidate: boolean;
  /** From the `keyless.dev/pipeline` annotation (comma-separated). */
  pipelines: string[];
  state: 'active' | 'deleted';
  createTime?: string;
  updateTime?: string;
  deleteTime?: string;
}

/** Requests of one method with one response code. */
export interface MethodTraffic {
  method: string;
  responseCode: string;
  requests: number;
}

/** One credential's traffic over a window. */
export interface CredentialTraffic {
  requests: number;
  /** Requests that failed for a reason a migration can cause or must notice (google/monitoring.ts isErrorResponse). */
  errors: number;
  /** errors / requests, 0 when there were no requests. */
  errorRate: number;
  /** Largest first. */
  byMethod: MethodTraffic[];
  /**
   * Latencies of the successful (2xx) requests, from Monitoring's request_latencies distribution;
   * absent when latencies were not asked for (readings recorded before they existed).
   */
  latency?: LatencyHistogram;
}

/** One bucket of a latency distribution: [lowerMs, upperMs), upperMs null for the overflow bucket. */
export interface LatencyBucket {
  lowerMs: number;
  upperMs: number | null;
  count: number;
}

/** A latency distribution as Monitoring keeps it: counts per bucket (only buckets with a count), in milliseconds. */
export interface LatencyHistogram {
  count: number;
  meanMs: number;
  /** Ascending by lowerMs. */
  buckets: LatencyBucket[];
}

/** The key's and the pipeline account's traffic over one window of Cloud Monitoring. */
export interface TrafficReport {
  key: CredentialTraffic;
  vertex: CredentialTraffic;
  windowStart: string;
  windowEnd: string;
}

/** What the key saw during the soak: who still uses it when the migration is held. */
export interface SoakTraffic {
  keyRequests: number;
  byMethod: MethodTraffic[];
  /** Requests the pipeline's account made during the soak's window: proof the job ran. Absent before it was counted. */
  vertexRequests?: number;
}

/** One model's probe on Vertex as the pipeline's account. */
export interface ModelProbe {
  model: string;
  ok: boolean;
  /** What the request resolved to (an alias's target); compare with the Gemini API's for drift. */
  modelVersion: string;
  latencyMs: number;
  finishReason: string;
}

/** The probe's report: every model answered. */
export interface ProbeReport {
  results: ModelProbe[];
}

/** The spec's dual-run gate. */
export type DualRunThresholds = PipelineSpec['dualRun']['thresholds'];

/** `compare`: the key is a working baseline. `repair`: the key is refused, so Vertex is judged alone. */
export type DualRunMode = 'compare' | 'repair';

/** How one path answered one sample; the output text itself is compared, then dropped. */
export interface SideOutcome {
  success: boolean;
  /** HTTP status of a failed call. */
  httpStatus?: number;
  /** Google's status of a failed call, e.g. `UNAUTHENTICATED`. */
  status?: string;
  /** ErrorInfo reason of a failed call, e.g. `ACCESS_TOKEN_TYPE_UNSUPPORTED`. */
  reason?: string;
  /** Google's message, truncated and redacted. */
  message?: string;
  /** Not sent: the key was already refused earlier in this run. */
  skipped?: boolean;
  finishReason?: string;
  promptTokens?: number;
  outputTokens?: number;
  /** Wall time of the call; 0 when skipped. */
  latencyMs: number;
  modelVersion?: string;
  /** Only for prompts that ask for JSON: whether the output parsed. */
  jsonValid?: boolean;
}

/** One prompt × sample × model, on both paths. */
export interface SampleResult {
  model: string;
  /** Index into the run's prompts. */
  prompt: number;
  /** 0-based repetition of that prompt. */
  sample: number;
  key: SideOutcome;
  vertex: SideOutcome;
  /** Output similarity 0..1 (see `SIMILARITY_MEASURE`); only when both paths succeeded. */
  similarity?: number;
  /** Only when both paths succeeded. */
  finishReasonMatch?: boolean;
  /** Prompt token counts equal within tolerance; only when both paths report them. */
  promptTokensMatch?: boolean;
  /** `expectContains` words absent from the Vertex output (when the prompt lists any). */
  missingWords?: string[];
}

/** Latency percentiles of one path's successful calls (nearest-rank method). */
export interface LatencySummary {
  count: number;
  p50Ms: number;
  p95Ms: number;
}

/** The model versions each path reported for one requested model. */
export interface ModelVersionSummary {
  model: string;
  key: string[];
  vertex: string[];
  /** Both paths answered and named different versions: an alias resolving differently. */
  drift: boolean;
}

/** Aggregates over every sample of the run. */
export interface DualRunSummary {
  total: number;
  keySuccessRate: number;
  vertexSuccessRate: number;
  /** Samples where both paths succeeded, the only ones compared. */
  compared: number;
  meanSimilarity: number | null;
  minSimilarity: number | null;
  finishReasonMismatches: number;
  promptTokenMismatches: number;
  /** Over samples of prompts that ask for JSON and succeeded on that path; null when none. */
  jsonValidity: { samples: number; keyRate: number | null; vertexRate: number | null; vertexOnlyInvalid: number };
  latency: { key: LatencySummary | null; vertex: LatencySummary | null; p50Ratio: number | null; p95Ratio: number | null };
  modelVersions: ModelVersionSummary[];
  /** Vertex samples missing an `expectContains` word. */
  expectationMisses: number;
}

/** The result of the dual-run activity. */
export interface DualRunReport {
  mode: DualRunMode;
  passed: boolean;
  /** One line per breached threshold; empty when passed. */
  breaches: string[];
  summary: DualRunSummary;
  samples: SampleResult[];
  thresholds: DualRunThresholds;
  /** How `similarity` was computed, for the reader of a stored report. */
  similarityMeasure: string;
  /** Prompt texts are the operator's own sample prompts; shortened for the table. */
  prompts: string[];
}

