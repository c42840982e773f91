// The one mapping from what Google's Node clients throw to keyless's error taxonomy.
//
// Exports (stable; the activities, the CLI and the pipeline client import them):
// - `GoogleErrorInfo`: the facts of one Google error, key strings already redacted.
// - `describeGoogleError(err)`: reads any of the client error shapes into a GoogleErrorInfo:
//     gax (ApiKeysClient, MetricServiceClient; REST fallback): `code` = HTTP status (or an rpc code
//       for operation errors), `message` = the raw JSON body, sometimes `reason`/`domain`/`errorInfoMetadata`;
//     googleapis-common (@googleapis/*) GaxiosError: `response.status`, `response.data.error`;
//     @google/genai ApiError: `status` = HTTP status, `message` = the JSON error body;
//     network failures (ECONNRESET, timeouts): httpStatus 0, status UNAVAILABLE.
// - `isApiKeyRejection(info)`: Google refused the API key itself (retired, blocked, invalid).
// - `classifyGoogleError(info, options)`: the taxonomy type and whether a retry can help.
// - `googleError(err, {context, notFound?, forbidden?, alreadyExists?, failedPrecondition?})`:
//     the KeylessError the library throws (a KeylessError passes through unchanged); the activity
//     layer turns it into an ApplicationFailure of the same type.
// - `redactSecrets(text)`: removes API key strings (`AIza…`, `AQ.…`, `key=…`) from any text.
//
// Mapping: 404 → `notFound` (caller decides, default InvalidRequest); 401/403 with an API_KEY_*,
// ACCESS_TOKEN_TYPE_UNSUPPORTED or CONSUMER_* reason → ApiKeyRejected; other 403 (IAM_PERMISSION_DENIED)
// → `forbidden` (default PermissionDenied); 409 ABORTED (stale etag, concurrent policy change) →
// Transient; 409 ALREADY_EXISTS → `alreadyExists` (default InvalidRequest); 429 → Quota; 5xx, 408,
// 499, network errors → Transient; 400 → InvalidRequest (API_KEY_INVALID → ApiKeyRejected).

import { ErrorType, KeylessError, NON_RETRYABLE_ERROR_TYPES, isKeylessError } from '../contracts/errors';

/** The facts of one Google error, safe to log: no key string survives in any field. */
export interface GoogleErrorInfo {
  /** HTTP status; 0 when no response arrived (connection reset, timeout). */
  httpStatus: number;
  /** Canonical status name, e.g. PERMISSION_DENIED, ABORTED, UNAVAILABLE. */
  status: string;
  /** ErrorInfo reason, e.g. IAM_PERMISSION_DENIED, API_KEY_SERVICE_BLOCKED. */
  reason?: string;
  /** ErrorInfo domain, e.g. googleapis.com, iam.googleapis.com. */
  domain?: string;
  message: string;
  /** ErrorInfo metadata (permission, service, consumer, …). */
  metadata?: Record<string, string>;
}

/** Per-call choices for the statuses whose meaning depends on what was asked. */
export interface GoogleErrorContext {
  /** What the activity was doing, e.g. `restrictKeyToGemini projects/…/keys/k`; prefixes the message. */
  context: string;
  /** Type for 404 (e.g. KeyNotFound, ModelNotServed); default InvalidRequest. */
  notFound?: ErrorType;
  /** Type for a 403 that is not about an API key (e.g. MissingRole on Vertex); default PermissionDenied. */
  forbidden?: ErrorType;
  /** Type for 409 ALREADY_EXISTS; default InvalidRequest. */
  alreadyExists?: ErrorType;
  /** Type for 400 FAILED_PRECONDITION; default InvalidRequest. */
  failedPrecondition?: ErrorType;
}

const STATUS_BY_HTTP: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  408: 'DEADLINE_EXCEEDED',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

// google.rpc.Code → [HTTP status, name]; operation errors and gRPC carry these instead of HTTP codes.
const RPC_CODES: Record<number, [number, string]> = {
  1: [499, 'CANCELLED'],
  2: [500, 'UNKNOWN'],
  3: [400, 'INVALID_ARGUMENT'],
  4: [504, 'DEADLINE_EXCEEDED'],
  5: [404, 'NOT_FOUND'],
  6: [409, 'ALREADY_EXISTS'],
  7: [403, 'PERMISSION_DENIED'],
  8: [429, 'RESOURCE_EXHAUSTED'],
  9: [400, 'FAILED_PRECONDITION'],
  10: [409, 'ABORTED'],
  11: [400, 'OUT_OF_RANGE'],
  12: [501, 'UNIMPLEMENTED'],
  13: [500, 'INTERNAL'],
  14: [503, 'UNAVAILABLE'],
  15: [500, 'DATA_LOSS'],
  16: [401, 'UNAUTHENTICATED'],
};

const NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH',
  'ENETUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT',
]);

// Google echoes request URLs (`?key=`) and sometimes the key itself; the patterns cover standard
// keys (AIza + 35), auth keys (AQ. + base64url) and any `key=` parameter or api-key header value.
const SECRET_PATTERNS: [RegExp, string][] = [
  [/AIza[0-9A-Za-z_-]{35}/g, '<redacted-key>'],
  [/AQ\.[0-9A-Za-z_.-]{8,}/g, '<redacted-key>'],
  [/([?&;]key=)[^&\s"'\\]+/gi, '$1<redacted>'],
  [/(x-goog-api-key["']?\s*[:=]\s*["']?)[^"'\s,}\\]+/gi, '$1<redacted>'],
];

/** Removes API key strings from any text (messages, URLs, JSON). */
export function redactSecrets(text: string): string {
  return SECRET_PATTERNS.reduce((acc, [pattern, replacement]) => acc.replace(pattern, replacement), text);
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null;

/** The `{code, message, status, details}` of a Google error envelope, wherever it hides. */
function findEnvelope(err: Json): Json | undefined {
  const response = isObject(err.response) ? err.response : undefined;
  const data = response?.data;
  const candidates: unknown[] = [data, err.error, err.message, err.statusDetails];
  for (const candidate of candidates) {
    const parsed = typeof candidate === 'string' ? parseJsonIn(candidate) : candidate;
    const envelope = unwrapEnvelope(parsed);
    if (envelope) return envelope;
  }
  return undefined;
}

function unwrapEnvelope(value: unknown): Json | undefined {
  // Streaming errors arrive as `[{"error": …}]`.
  const first = Array.isArray(value) ? value[0] : value;
  if (!isObject(first)) return undefined;
  if (isObject(first.error)) return first.error;
  if ('code' in first && 'message' in first && ('status' in first || 'details' in first)) return first;
  return undefined;
}

/** Parses the JSON object inside a message such as `got status: 403. {"error": …}`. */
function parseJsonIn(text: string): unknown {
  const start = text.search(/[[{]/);
  if (start < 0) return undefined;
  try {
    return JSON.parse(text.slice(start));
  } catch {
    return undefined;
  }
}

function errorInfoOf(envelope: Json | undefined): { reason?: string; domain?: string; metadata?: Record<string, string> } {
  const details = Array.isArray(envelope?.details) ? envelope.details : [];
  const info = details.find((d): d is Json => isObject(d) && String(d['@type'] ?? '').endsWith('google.rpc.ErrorInfo'));
  // Legacy IAM/CRM envelopes carry only `errors[{reason}]`.
  const legacy = Array.isArray(envelope?.errors) ? envelope.errors.find(isObject) : undefined;
  const reason = info?.reason ?? legacy?.reason;
  return {
    ...(typeof reason === 'string' ? { reason } : {}),
    ...(typeof info?.domain === 'string' ? { domain: info.domain } : {}),
    ...(isObject(info?.metadata) ? { metadata: stringRecord(info.metadata) } : {}),
  };
}

function stringRecord(value: Json): Record<string, string> {
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactSecrets(String(v))]));
}

/** Reads any error a Google Node client throws into a GoogleErrorInfo (key strings redacted). */
export function describeGoogleError(err: unknown): GoogleErrorInfo {
  if (!isObject(err)) return { httpStatus: 0, status: 'UNKNOWN', message: redactSecrets(String(err)) };
  const envelope = findEnvelope(err);
  const response = isObject(err.response) ? err.response : undefined;

  let httpStatus = 0;
  let status: string | undefined;
  if (typeof response?.status === 'number') httpStatus = response.status;
  else if (typeof err.status === 'number') httpStatus = err.status;
  else if (typeof err.code === 'number' && err.code >= 100) httpStatus = err.code;
  else if (typeof err.code === 'number' && RPC_CODES[err.code]) [httpStatus, status] = RPC_CODES[err.code]!;
  else if (typeof envelope?.code === 'number') httpStatus = envelope.code >= 100 ? envelope.code : (RPC_CODES[envelope.code]?.[0] ?? 0);

  if (typeof envelope?.status === 'string') status = envelope.status;
  else if (typeof err.status === 'string' && /^[A-Z_]+$/.test(err.status)) status = err.status;

  const errorCode = typeof err.code === 'string' ? err.code : isObject(err.cause) && typeof err.cause.code === 'string' ? err.cause.code : undefined;
  const isNetwork = httpStatus === 0 && ((errorCode && NETWORK_CODES.has(errorCode)) || err.name === 'AbortError' || err.name === 'TimeoutError');
  if (isNetwork) status = 'UNAVAILABLE';
  status ??= STATUS_BY_HTTP[httpStatus] ?? (httpStatus >= 500 ? 'INTERNAL' : httpStatus >= 400 ? 'FAILED_PRECONDITION' : 'UNKNOWN');

  const fromInfo = errorInfoOf(envelope);
  // gax attaches the decoded ErrorInfo as properties when it could decode the details.
  const reason = fromInfo.reason ?? (typeof err.reason === 'string' ? err.reason : undefined);
  const domain = fromInfo.domain ?? (typeof err.domain === 'string' ? err.domain : undefined);
  const metadata = fromInfo.metadata ?? (isObject(err.errorInfoMetadata) ? stringRecord(err.errorInfoMetadata) : undefined);
  const rawMessage = typeof envelope?.message === 'string' ? envelope.message : typeof err.message === 'string' ? err.message : String(err);
  const message = redactSecrets(isNetwork && errorCode ? `${errorCode}: ${rawMessage}` : rawMessage);

  return {
    httpStatus,
    status,
    ...(reason ? { reason } : {}),
    ...(domain ? { domain } : {}),
    message,
    ...(metadata && Object.keys(metadata).length ? { metadata } : {}),
  };
}

/** Google refused the API key itself: retired (2026 policy), blocked by a restriction, or invalid. */
export function isApiKeyRejection(info: GoogleErrorInfo): boolean {
  const reason = info.reason ?? '';
  return (
    reason.startsWith('API_KEY_') ||
    reason === 'ACCESS_TOKEN_TYPE_UNSUPPORTED' ||
    reason === 'CONSUMER_SUSPENDED' ||
    reason === 'CONSUMER_INVALID'
  );
}

/** The taxonomy type of a Google error and whether retrying can help. */
export function classifyGoogleError(info: GoogleErrorInfo, options: Omit<GoogleErrorContext, 'context'> = {}): { type: ErrorType; nonRetryable: boolean } {
  const type = typeFor(info, options);
  return { type, nonRetryable: NON_RETRYABLE_ERROR_TYPES.includes(type) };
}

function typeFor(info: GoogleErrorInfo, options: Omit<GoogleErrorContext, 'context'>): ErrorType {
  if (isApiKeyRejection(info)) return ErrorType.ApiKeyRejected;
  const { httpStatus, status } = info;
  if (httpStatus === 0) return ErrorType.Transient;
  if (httpStatus === 404) return options.notFound ?? ErrorType.InvalidRequest;
  if (httpStatus === 401) return info.reason === 'ACCESS_TOKEN_EXPIRED' ? ErrorType.Transient : ErrorType.PermissionDenied;
  if (httpStatus === 403) return options.forbidden ?? ErrorType.PermissionDenied;
  if (httpStatus === 409) return status === 'ALREADY_EXISTS' ? (options.alreadyExists ?? ErrorType.InvalidRequest) : ErrorType.Transient;
  if (httpStatus === 429) return ErrorType.Quota;
  if (httpStatus === 408 || httpStatus === 499) return ErrorType.Transient;
  if (httpStatus === 501) return ErrorType.InvalidRequest;
  if (httpStatus >= 500) return ErrorType.Transient;
  if (status === 'FAILED_PRECONDITION') return options.failedPrecondition ?? ErrorType.InvalidRequest;
  return ErrorType.InvalidRequest;
}

/** The Google error facts behind `err`: a KeylessError's (googleError keeps them as its first detail), or read from a client's error. */
export function googleErrorInfo(err: unknown): GoogleErrorInfo {
  if (isKeylessError(err)) {
    const info = err.details[0] as Partial<GoogleErrorInfo> | undefined;
    if (info && typeof info.httpStatus === 'number' && typeof info.status === 'string') return info as GoogleErrorInfo;
  }
  return describeGoogleError(err);
}

/** The KeylessError for a Google error, its message prefixed with what was being done; KeylessErrors pass through. */
export function googleError(err: unknown, options: GoogleErrorContext): KeylessError {
  if (isKeylessError(err)) return err;
  const info = describeGoogleError(err);
  const { type, nonRetryable } = classifyGoogleError(info, options);
  const reason = info.reason ? ` ${info.reason}` : '';
  return new KeylessError({
    type,
    nonRetryable,
    message: redactSecrets(`${options.context}: ${info.httpStatus} ${info.status}${reason}: ${info.message}`),
    details: [info],
  });
}
