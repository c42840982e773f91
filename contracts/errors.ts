// One error taxonomy for the whole product. The Google library (google/) and the route stores
// (route-store/) throw KeylessErrors of these types; the activity layer turns them into
// ApplicationFailures of the same type; the workflow's retry policies and rollback records speak
// the same names.

/** Failure types, as carried by KeylessError.type, ApplicationFailure.type and RollbackRecord.failureType. */
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
  /** A route document in the store breaks the route rules (tampered, oversized, a generation far ahead). */
  RouteRefused: 'RouteRefused',
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
  /** An operator rejected the cutover. A rollback reason, never thrown by an activity. */
  Rejected: 'Rejected',
  /** An operator asked for the rollback (the `rollback` signal). A rollback reason only. */
  OperatorRequest: 'OperatorRequest',
  /** Nobody decided on an approval within approvals.deadline. A rollback reason only. */
  ApprovalDeadline: 'ApprovalDeadline',
  /** A workflow input only keyless itself may give (a continued run's memory) came from elsewhere, or does not fit the spec. */
  UntrustedState: 'UntrustedState',
  /** A Google ID token that does not prove who sent an approval (signature, issuer, audience, age, email, reuse). */
  UnverifiedIdentity: 'UnverifiedIdentity',
} as const;

export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

/** Types a retry can never fix: KeylessErrors of these types are non-retryable, and retry policies list them. */
export const NON_RETRYABLE_ERROR_TYPES: ErrorType[] = [
  ErrorType.InvalidSpec,
  ErrorType.KeyNotFound,
  ErrorType.ModelNotServed,
  ErrorType.MissingRole,
  ErrorType.PermissionDenied,
  ErrorType.ApiKeyRejected,
  ErrorType.ForeignChange,
  ErrorType.StaleRoute,
  ErrorType.RouteRefused,
  ErrorType.DualRunBreach,
  ErrorType.CanaryBreach,
  ErrorType.InvalidRequest,
  ErrorType.ApproverNotAllowed,
  ErrorType.UntrustedState,
  ErrorType.UnverifiedIdentity,
];

/**
 * A failure of keyless's own libraries, typed by the taxonomy; plain JavaScript, so a pipeline
 * library can throw and catch it without Temporal. The activity layer turns it into an
 * ApplicationFailure with the same type, message, retryability and details.
 */
export class KeylessError extends Error {
  override readonly name = 'KeylessError';
  readonly type: ErrorType;
  readonly nonRetryable: boolean;
  /** JSON details for the caller (names and counts, never a key string). */
  readonly details: unknown[];

  constructor(options: { type: ErrorType; message: string; nonRetryable?: boolean; details?: unknown[]; cause?: unknown }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.type = options.type;
    this.nonRetryable = options.nonRetryable ?? NON_RETRYABLE_ERROR_TYPES.includes(options.type);
    this.details = options.details ?? [];
  }
}

/** Whether a value is a KeylessError (also across module copies, by shape). */
export function isKeylessError(err: unknown): err is KeylessError {
  return err instanceof KeylessError || (err instanceof Error && err.name === 'KeylessError' && typeof (err as KeylessError).type === 'string');
}
