// Google's error envelope, built in one place so every surface fails the way Google does:
// `{error:{code,message,status,details:[ErrorInfo…]}}`, plus the legacy `errors[]` array
// that IAM v1 and Resource Manager v1 still send.

import type { EmuResponse } from './contract';

/** Canonical status names with their HTTP mapping (google/rpc/code.proto). */
export const HTTP_STATUS_OF = {
  CANCELLED: 499,
  UNKNOWN: 500,
  INVALID_ARGUMENT: 400,
  DEADLINE_EXCEEDED: 504,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PERMISSION_DENIED: 403,
  RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 400,
  ABORTED: 409,
  OUT_OF_RANGE: 400,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DATA_LOSS: 500,
  UNAUTHENTICATED: 401,
} as const;

export type RpcStatus = keyof typeof HTTP_STATUS_OF;

/** The rpc integer Google puts in `Operation.error.code`. */
export const RPC_CODE_OF: Record<RpcStatus, number> = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

/** Status name for an HTTP code, for faults configured by HTTP status. */
export function rpcStatusForHttp(http: number): RpcStatus {
  const preferred: Record<number, RpcStatus> = {
    400: 'INVALID_ARGUMENT',
    401: 'UNAUTHENTICATED',
    403: 'PERMISSION_DENIED',
    404: 'NOT_FOUND',
    409: 'ABORTED',
    429: 'RESOURCE_EXHAUSTED',
    499: 'CANCELLED',
    500: 'INTERNAL',
    501: 'UNIMPLEMENTED',
    503: 'UNAVAILABLE',
    504: 'DEADLINE_EXCEEDED',
  };
  return preferred[http] ?? (http >= 500 ? 'UNKNOWN' : 'FAILED_PRECONDITION');
}

export interface GoogleErrorOptions {
  /** ErrorInfo reason; omitted when Google sends none. */
  reason?: string;
  domain?: string;
  metadata?: Record<string, string>;
  /** Extra `details` entries after the ErrorInfo (ResourceInfo, QuotaFailure, Help …). */
  details?: unknown[];
  /** Adds the legacy `errors:[{message,domain:'global',reason}]` array (IAM v1, CRM v1). */
  legacyReason?: string;
  /** Overrides the HTTP status (e.g. a configurable rejection shape). */
  httpStatus?: number;
  headers?: Record<string, string>;
}

/** A Google API failure; throw it from a handler and the core renders the envelope. */
export class GoogleApiError extends Error {
  constructor(
    readonly status: RpcStatus,
    message: string,
    readonly options: GoogleErrorOptions = {},
  ) {
    super(message);
    this.name = 'GoogleApiError';
  }

  get httpStatus(): number {
    return this.options.httpStatus ?? HTTP_STATUS_OF[this.status];
  }

  toResponse(): EmuResponse {
    return googleErrorResponse(this.status, this.message, this.options);
  }
}

/** Builds the envelope without throwing. */
export function googleErrorResponse(status: RpcStatus, message: string, options: GoogleErrorOptions = {}): EmuResponse {
  const code = options.httpStatus ?? HTTP_STATUS_OF[status];
  const details: unknown[] = [];
  if (options.reason) {
    details.push({
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason: options.reason,
      domain: options.domain ?? 'googleapis.com',
      ...(options.metadata ? { metadata: options.metadata } : {}),
    });
  }
  if (options.details) details.push(...options.details);
  const error: Record<string, unknown> = { code, message, status };
  if (options.legacyReason) error.errors = [{ message, domain: 'global', reason: options.legacyReason }];
  if (details.length > 0) error.details = details;
  return { status: code, body: { error }, ...(options.headers ? { headers: options.headers } : {}) };
}

/** The error an LRO carries in `Operation.error` (rpc int code, no ErrorInfo: see google-apis.md §1). */
export function operationError(status: RpcStatus, message: string): { code: number; message: string } {
  return { code: RPC_CODE_OF[status], message };
}

export const UNAUTHENTICATED_MESSAGE =
  'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';

/** 401 for a missing, unknown or expired bearer token. */
export function unauthenticated(reason: 'ACCESS_TOKEN_EXPIRED' | 'CREDENTIALS_MISSING' | 'ACCESS_TOKEN_TYPE_UNSUPPORTED' | undefined, metadata?: Record<string, string>): GoogleApiError {
  return new GoogleApiError('UNAUTHENTICATED', UNAUTHENTICATED_MESSAGE, {
    ...(reason ? { reason, domain: 'googleapis.com' } : {}),
    ...(metadata ? { metadata } : {}),
    headers: { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' },
  });
}

/** 403 the way IAM-backed APIs deny a permission. */
export function permissionDenied(permission: string, resource?: string, domain = 'iam.googleapis.com', legacy = false): GoogleApiError {
  const on = resource ? `resource '${resource}'` : 'resource';
  return new GoogleApiError('PERMISSION_DENIED', `Permission '${permission}' denied on ${on} (or it may not exist).`, {
    reason: 'IAM_PERMISSION_DENIED',
    domain,
    metadata: { permission, ...(resource ? { resource } : {}) },
    ...(legacy ? { legacyReason: 'forbidden' } : {}),
  });
}

export function invalidArgument(message: string, options: GoogleErrorOptions = {}): GoogleApiError {
  return new GoogleApiError('INVALID_ARGUMENT', message, options);
}
