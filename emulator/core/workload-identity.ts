// Workload Identity Federation as IAM defines it, shared by the pools/providers API, STS and the
// fixture: resource names, id rules, the STS audience, provider validation (issuer, audiences,
// attribute mapping and condition in the CEL subset of ./cel), and the IAM members a federated
// identity matches.

import { CelEvalError, CelSyntaxError, compileCel, evaluateCel, type CelNode, type CelValue } from './cel';
import { jwksProblem } from './oidc';
import type { WorkloadIdentityPoolProviderRecord } from './state';

/** Soft-deleted pools and providers can be undeleted, and keep their ids, this long. */
export const WIF_UNDELETE_WINDOW_MS = 30 * 86_400_000;
const IAM_HOST = 'iam.googleapis.com';
const ID_PATTERN = /^[a-z0-9-]{4,32}$/;
const ATTRIBUTE_KEY = /^attribute\.[a-z0-9_]{1,100}$/;
const MAX_CUSTOM_ATTRIBUTES = 50;
const MAX_AUDIENCES = 10;
const MAX_SUBJECT_BYTES = 127;

export function poolNameOf(projectNumber: string, poolId: string): string {
  return `projects/${projectNumber}/locations/global/workloadIdentityPools/${poolId}`;
}

export function providerNameOf(poolName: string, providerId: string): string {
  return `${poolName}/providers/${providerId}`;
}

/** The `audience` a credential configuration sends to STS for a provider. */
export function stsAudienceOf(providerName: string): string {
  return `//${IAM_HOST}/${providerName}`;
}

/** What a token's `aud` must be when the provider lists no audiences (the provider, with or without https:). */
export function defaultAllowedAudiences(providerName: string): string[] {
  return [`//${IAM_HOST}/${providerName}`, `https://${IAM_HOST}/${providerName}`];
}

/** `{number, poolId, providerId}` of an STS audience, or undefined when it is not a provider's name. */
export function parseStsAudience(audience: string): { projectNumber: string; poolId: string; providerId: string } | undefined {
  const m = /^\/\/iam\.googleapis\.com\/projects\/([^/]+)\/locations\/global\/workloadIdentityPools\/([^/]+)\/providers\/([^/]+)$/.exec(audience);
  return m ? { projectNumber: m[1]!, poolId: m[2]!, providerId: m[3]! } : undefined;
}

/** Google's id rule for pools and providers; the problem in its words, or undefined. */
export function wifIdProblem(kind: 'pool' | 'provider', id: string): string | undefined {
  const what = kind === 'pool' ? 'workload identity pool' : 'workload identity pool provider';
  if (ID_PATTERN.test(id) && !id.startsWith('gcp-')) return undefined;
  return `Invalid ${what} ID "${id}". The ID must be 4-32 characters, and may contain the characters [a-z0-9-]. The prefix "gcp-" is reserved for use by Google, and may not be specified.`;
}

export function issuerUriProblem(uri: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(uri);
  } catch {
    return 'Invalid OIDC issuer URI.';
  }
  return parsed.protocol === 'https:' ? undefined : 'Invalid OIDC issuer URI. The scheme must be https.';
}

/** Checks every field of an OIDC provider the way its create/patch does; the first problem, or undefined. */
export function providerProblem(provider: Pick<WorkloadIdentityPoolProviderRecord, 'attributeMapping' | 'attributeCondition' | 'oidc' | 'displayName' | 'description'>): string | undefined {
  if (provider.displayName !== undefined && provider.displayName.length > 32) return 'display name must be less than or equal to 32 characters';
  if (provider.description !== undefined && provider.description.length > 256) return 'description must be less than or equal to 256 characters';
  const issuer = issuerUriProblem(provider.oidc.issuerUri);
  if (issuer) return issuer;
  if (provider.oidc.allowedAudiences.length > MAX_AUDIENCES) return `A maximum of ${MAX_AUDIENCES} allowed audiences may be configured.`;
  if (provider.oidc.allowedAudiences.some((a) => a.length === 0 || a.length > 256)) return 'Each allowed audience must be 1-256 characters.';
  if (provider.oidc.jwksJson !== undefined) {
    const jwks = jwksProblem(provider.oidc.jwksJson);
    if (jwks) return jwks;
  }
  return attributeMappingProblem(provider.attributeMapping) ?? (provider.attributeCondition !== undefined ? attributeConditionProblem(provider.attributeCondition) : undefined);
}

export function attributeMappingProblem(mapping: Record<string, string>): string | undefined {
  const keys = Object.keys(mapping);
  // OIDC providers have no default mapping (unlike AWS ones).
  if (!keys.includes('google.subject')) return 'The attribute mapping must contain a mapping for google.subject.';
  if (keys.filter((k) => k.startsWith('attribute.')).length > MAX_CUSTOM_ATTRIBUTES) return `A maximum of ${MAX_CUSTOM_ATTRIBUTES} custom attributes may be mapped.`;
  for (const key of keys) {
    if (key !== 'google.subject' && key !== 'google.groups' && !ATTRIBUTE_KEY.test(key)) {
      return `Invalid mapped attribute key: ${key}. Custom mapped attributes must be in format 'attribute.{custom_attribute}'`;
    }
    const expression = mapping[key]!;
    if (expression.length > 2048) return `The attribute mapping expression for ${key} exceeds 2048 characters.`;
    try {
      compileCel(expression, ['assertion']);
    } catch (err) {
      if (err instanceof CelSyntaxError) return `Invalid attribute mapping expression for ${key}: ${expression}: ${err.message}.`;
      throw err;
    }
  }
  return undefined;
}

export function attributeConditionProblem(condition: string): string | undefined {
  if (condition.length > 4096) return 'The attribute condition exceeds 4096 characters.';
  try {
    compileCel(condition, ['assertion', 'google', 'attribute']);
    return undefined;
  } catch (err) {
    if (err instanceof CelSyntaxError) return `Invalid attribute condition: ${condition}: ${err.message}.`;
    throw err;
  }
}

/** The Google attributes a token maps to. */
export interface MappedAttributes {
  subject: string;
  groups: string[];
  /** Custom attributes by name (without `attribute.`). */
  attributes: Record<string, string[]>;
}

/** Why a token is refused, as STS words it. */
export class FederationRefusal extends Error {
  constructor(
    readonly error: 'invalid_grant' | 'unauthorized_client',
    readonly description: string,
  ) {
    super(description);
    this.name = 'FederationRefusal';
  }
}

const CONDITION_REJECTED = 'The given credential is rejected by the attribute condition.';

function asStrings(value: CelValue): string[] {
  if (value === null) return [];
  if (Array.isArray(value)) return value.flatMap(asStrings);
  if (typeof value === 'object') return [JSON.stringify(value)];
  return [String(value)];
}

const compiled = new Map<string, CelNode>();
function compiledOf(expression: string, variables: readonly string[]): CelNode {
  const key = `${variables.join(',')}\u0000${expression}`;
  let ast = compiled.get(key);
  if (!ast) {
    ast = compileCel(expression, variables);
    if (compiled.size > 1_000) compiled.clear();
    compiled.set(key, ast);
  }
  return ast;
}

/**
 * Applies a provider's mapping and condition to a verified token's claims. A mapping that names
 * an absent claim leaves its attribute unset; a condition that errors or is not `true` refuses.
 */
export function federate(provider: Pick<WorkloadIdentityPoolProviderRecord, 'attributeMapping' | 'attributeCondition'>, assertion: Record<string, unknown>): MappedAttributes {
  const env = { assertion: assertion as CelValue };
  const attributes: Record<string, string[]> = {};
  let subject: string | undefined;
  let groups: string[] = [];
  for (const [key, expression] of Object.entries(provider.attributeMapping)) {
    let value: CelValue;
    try {
      value = evaluateCel(compiledOf(expression, ['assertion']), env);
    } catch (err) {
      if (err instanceof CelEvalError) continue;
      throw err;
    }
    const values = asStrings(value);
    if (key === 'google.subject') subject = values[0];
    else if (key === 'google.groups') groups = values;
    else attributes[key.slice('attribute.'.length)] = values;
  }
  if (subject === undefined || subject === '') throw new FederationRefusal('invalid_grant', 'The mapped attribute google.subject is empty or missing.');
  if (Buffer.byteLength(subject) > MAX_SUBJECT_BYTES) throw new FederationRefusal('invalid_grant', `The mapped attribute google.subject exceeds ${MAX_SUBJECT_BYTES} bytes.`);
  if (provider.attributeCondition !== undefined && provider.attributeCondition !== '') {
    const attributeView: Record<string, CelValue> = Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, v.length === 1 ? v[0]! : v]));
    let allowed: CelValue;
    try {
      allowed = evaluateCel(compiledOf(provider.attributeCondition, ['assertion', 'google', 'attribute']), {
        ...env,
        google: { subject, groups },
        attribute: attributeView,
      });
    } catch (err) {
      if (err instanceof CelEvalError) throw new FederationRefusal('unauthorized_client', CONDITION_REJECTED);
      throw err;
    }
    if (allowed !== true) throw new FederationRefusal('unauthorized_client', CONDITION_REJECTED);
  }
  return { subject, groups, attributes };
}

/** The IAM members a federated identity matches, its own `principal://` member first. */
export function federatedMembers(poolName: string, mapped: MappedAttributes): string[] {
  const base = `//${IAM_HOST}/${poolName}`;
  return [
    `principal:${base}/subject/${mapped.subject}`,
    ...mapped.groups.map((group) => `principalSet:${base}/group/${group}`),
    ...Object.entries(mapped.attributes).flatMap(([name, values]) => values.map((value) => `principalSet:${base}/attribute.${name}/${value}`)),
    `principalSet:${base}/*`,
  ];
}
