// What keyless knows about an API key, as small JSON values, and the seed article's audit as pure
// functions of the API Keys v2 JSON (so the CLI, the activities and tests classify alike).

import { PIPELINE_RE } from '../../contracts/route-rules';
import type { AppRestriction, KeyAudit, KeyRestrictions, KeySnapshot } from '../../contracts/reports';

export type { AppRestriction, KeyAudit, KeyRestrictions, KeySnapshot } from '../../contracts/reports';
export { GEMINI_API_SERVICE } from '../../contracts/roles';

/** Annotation naming the pipelines that use a key (comma-separated when shared); same value as the emulator's. */
export const PIPELINE_ANNOTATION = 'keyless.dev/pipeline';

/**
 * Annotation the stopgap writes with the etag it started from, so a retry after a lost completion
 * recognises keyless's own change and answers as the first attempt did. The snapshot does not
 * carry it, so restoring the snapshot removes it.
 */
export const STOPGAP_ANNOTATION = 'keyless.dev/stopgap-from-etag';

/** API Keys v2 `Key` as returned by get/list (never carries `keyString`). */
export interface ApiKeyResource {
  name: string;
  uid?: string;
  displayName?: string;
  createTime?: string;
  updateTime?: string;
  deleteTime?: string;
  annotations?: Record<string, string>;
  restrictions?: KeyRestrictions;
  etag?: string;
  /** Set on auth keys (bound to a service account, `AQ.` strings). */
  serviceAccountEmail?: string;
}

export function keyIdOf(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

const nonEmpty = (list: unknown[] | undefined): boolean => (list?.length ?? 0) > 0;

/** The application restriction in force; an empty list restricts nothing (as in the seed's audit). */
export function appRestrictionOf(restrictions: KeyRestrictions | undefined): AppRestriction {
  if (nonEmpty(restrictions?.browserKeyRestrictions?.allowedReferrers)) return 'referrer';
  if (nonEmpty(restrictions?.serverKeyRestrictions?.allowedIps)) return 'ip';
  if (nonEmpty(restrictions?.androidKeyRestrictions?.allowedApplications)) return 'android';
  if (nonEmpty(restrictions?.iosKeyRestrictions?.allowedBundleIds)) return 'ios';
  return 'none';
}

export function servicesOf(restrictions: KeyRestrictions | undefined): string[] {
  return (restrictions?.apiTargets ?? []).map((t) => t.service ?? '').filter(Boolean);
}

/**
 * The pipelines a key's annotation names. Anyone who may edit the key writes the annotation, and
 * its names become route-store paths (the shared-key wait reads their routes), so only names that
 * pass the spec's pipeline rule are kept: `../x` or `a/b` never reaches a path.
 */
export function pipelinesOf(annotations: Record<string, string> | undefined): string[] {
  return (annotations?.[PIPELINE_ANNOTATION] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => PIPELINE_RE.test(p));
}

export function auditKey(key: ApiKeyResource): KeyAudit {
  const appRestriction = appRestrictionOf(key.restrictions);
  const services = servicesOf(key.restrictions);
  const apiRestriction = services.length ? 'restricted' : 'all';
  return {
    name: key.name,
    keyId: keyIdOf(key.name),
    ...(key.uid ? { uid: key.uid } : {}),
    displayName: key.displayName ?? '',
    keyType: key.serviceAccountEmail ? 'auth' : 'standard',
    ...(key.serviceAccountEmail ? { serviceAccountEmail: key.serviceAccountEmail } : {}),
    appRestriction,
    apiRestriction,
    services,
    blockCandidate: appRestriction === 'none' && apiRestriction === 'all',
    pipelines: pipelinesOf(key.annotations),
    state: key.deleteTime ? 'deleted' : 'active',
    ...(key.createTime ? { createTime: key.createTime } : {}),
    ...(key.updateTime ? { updateTime: key.updateTime } : {}),
    ...(key.deleteTime ? { deleteTime: key.deleteTime } : {}),
  };
}

/** Restrictions without empty lists or empty sub-messages, so equal meanings compare equal. */
export function normalizeRestrictions(restrictions: KeyRestrictions | undefined): KeyRestrictions {
  const r = restrictions ?? {};
  const out: KeyRestrictions = {};
  if (nonEmpty(r.browserKeyRestrictions?.allowedReferrers)) out.browserKeyRestrictions = { allowedReferrers: [...r.browserKeyRestrictions!.allowedReferrers!] };
  if (nonEmpty(r.serverKeyRestrictions?.allowedIps)) out.serverKeyRestrictions = { allowedIps: [...r.serverKeyRestrictions!.allowedIps!] };
  if (nonEmpty(r.androidKeyRestrictions?.allowedApplications)) {
    out.androidKeyRestrictions = {
      allowedApplications: r.androidKeyRestrictions!.allowedApplications!.map((a) => ({
        ...(a.sha1Fingerprint ? { sha1Fingerprint: a.sha1Fingerprint } : {}),
        ...(a.packageName ? { packageName: a.packageName } : {}),
      })),
    };
  }
  if (nonEmpty(r.iosKeyRestrictions?.allowedBundleIds)) out.iosKeyRestrictions = { allowedBundleIds: [...r.iosKeyRestrictions!.allowedBundleIds!] };
  if (nonEmpty(r.apiTargets)) {
    out.apiTargets = r.apiTargets!.map((t) => ({ service: t.service ?? '', ...(nonEmpty(t.methods) ? { methods: [...t.methods!] } : {}) }));
  }
  return out;
}

/** Order-insensitive equality of two restriction sets. */
export function sameRestrictions(a: KeyRestrictions | undefined, b: KeyRestrictions | undefined): boolean {
  return canonical(normalizeRestrictions(a)) === canonical(normalizeRestrictions(b));
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).sort().join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${k}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The key's application restriction alone (apiTargets dropped). */
export function appRestrictionPart(restrictions: KeyRestrictions | undefined): KeyRestrictions {
  const { apiTargets: _apiTargets, ...app } = normalizeRestrictions(restrictions);
  return app;
}

export function snapshotOf(key: ApiKeyResource): KeySnapshot {
  return {
    name: key.name,
    restrictions: normalizeRestrictions(key.restrictions),
    annotations: { ...(key.annotations ?? {}) },
    displayName: key.displayName ?? '',
    etag: key.etag ?? '',
    updateTime: key.updateTime ?? '',
  };
}

/** Field names (never values) where a key differs from a snapshot. */
export function changedFields(snapshot: Pick<KeySnapshot, 'restrictions' | 'annotations' | 'displayName'>, key: ApiKeyResource): string[] {
  const fields: string[] = [];
  if (!sameRestrictions(snapshot.restrictions, key.restrictions)) fields.push('restrictions');
  if (canonical(snapshot.annotations) !== canonical(key.annotations ?? {})) fields.push('annotations');
  if (snapshot.displayName !== (key.displayName ?? '')) fields.push('displayName');
  if (key.deleteTime) fields.push('deleteTime');
  return fields;
}
