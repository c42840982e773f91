// One error taxonomy for the whole product. Activities map Google's errors to ApplicationFailures
// of these types; the workflow's retry policies and rollback reasons speak the same names.

/** Failure types, as carried by ApplicationFailure.type. */
export const ErrorType = {
  /** The spec or a message payload is invalid; nothing was changed. */
  InvalidSpec: 'InvalidSpec',
  /** The API key named in the spec does not exist (or was purged). */
  KeyNotFound: 'KeyNotFound',
  /** The model is not served by Vertex in the configured location (404). */
  ModelNotServed: 'ModelNotServed',
  /** The service account still lacks a role after the IAM propagation window (403). */
  MissingRole: 'MissingRole',
  /** The orchestrator's own identity may not do this (403 on an admin API). */
  PermissionDenied: 'PermissionDenied',
  /** Google rejects the API key itself (retired, blocked or invalid). */
  ApiKeyRejected: 'ApiKeyRejected',
  /** Someone else changed the key during the migration; we will not overwrite their change. */
  ForeignChange: 'ForeignChange',
  /** A route write lost to a newer generation. */
  StaleRoute: 'StaleRoute',
  /** Dual-run comparison breached the spec's thresholds. */
  DualRunBreach: 'DualRunBreach',
  /** Canary analysis saw the Vertex path fail more than the key path. */
  CanaryBreach: 'CanaryBreach',
  /** Quota exhausted (429); retried with backoff. */
  Quota: 'Quota',
  /** 5xx, timeouts, concurrent-modification conflicts; retried. */
  Transient: 'Transient',
  /** A bad request we made; a bug or an invalid value, not worth retrying. */
  InvalidRequest: 'InvalidRequest',
  /** An approve or reject from someone outside the spec's approvals.approvers: recorded, not acted on. */
  ApproverNotAllowed: 'ApproverNotAllowed',
} as const;

export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

/** Types a retry can never fix: activities mark them nonRetryable and retry policies list them. */
export const NON_RETRYABLE_ERROR_TYPES: ErrorType[] = [
  ErrorType.InvalidSpec,
  ErrorType.KeyNotFound,
  ErrorType.ModelNotServed,
  ErrorType.MissingRole,
  ErrorType.PermissionDenied,
  ErrorType.ApiKeyRejected,
  ErrorType.ForeignChange,
  ErrorType.StaleRoute,
  ErrorType.DualRunBreach,
  ErrorType.CanaryBreach,
  ErrorType.InvalidRequest,
  ErrorType.ApproverNotAllowed,
];
