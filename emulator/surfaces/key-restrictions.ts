// How an API key's restrictions judge a request, as the Gemini API applies them: API targets
// (method selectors, trailing `*`, case-insensitive), and one application restriction (referrer,
// IP allowlist with CIDR, Android package + certificate, iOS bundle id).

import type { EmuRequest } from '../core/contract';
import type { KeyRestrictions } from './generative-context';

/** Whether the key's API targets allow `method` of `service`; no targets allow everything. */
export function apiTargetsAllow(restrictions: KeyRestrictions | undefined, service: string, method: string): boolean {
  const targets = restrictions?.apiTargets ?? [];
  if (targets.length === 0) return true;
  const full = method.toLowerCase();
  const short = full.slice(full.lastIndexOf('.') + 1);
  const candidates = [full, short, `${service.toLowerCase()}.${short}`];
  return targets.some(
    (t) =>
      (t.service ?? '').toLowerCase() === service.toLowerCase() &&
      (!t.methods || t.methods.length === 0 || t.methods.some((selector) => selectorMatches(selector.toLowerCase(), candidates))),
  );
}

function selectorMatches(selector: string, candidates: string[]): boolean {
  if (selector === '*') return true;
  if (selector.endsWith('*')) {
    const prefix = selector.slice(0, -1);
    return candidates.some((c) => c.startsWith(prefix));
  }
  return candidates.includes(selector);
}

/** True when the key has neither an application restriction nor API targets. */
export function isUnrestricted(restrictions: KeyRestrictions | undefined): boolean {
  return applicationRestriction(restrictions) === 'none' && (restrictions?.apiTargets ?? []).length === 0;
}

export type ApplicationRestriction = 'none' | 'referrer' | 'ip' | 'android' | 'ios';

export function applicationRestriction(r: KeyRestrictions | undefined): ApplicationRestriction {
  if (r?.browserKeyRestrictions) return 'referrer';
  if (r?.serverKeyRestrictions) return 'ip';
  if (r?.androidKeyRestrictions) return 'android';
  if (r?.iosKeyRestrictions) return 'ios';
  return 'none';
}

/** Which application restriction the request fails, with what Google reports about the caller. */
export type ApplicationVerdict =
  | { allowed: true }
  | { allowed: false; restriction: Exclude<ApplicationRestriction, 'none'>; callerValue: string };

export function checkApplication(r: KeyRestrictions | undefined, req: EmuRequest): ApplicationVerdict {
  switch (applicationRestriction(r)) {
    case 'none':
      return { allowed: true };
    case 'referrer': {
      const referer = header(req, 'referer') ?? header(req, 'referrer');
      const ok = referer !== undefined && (r!.browserKeyRestrictions!.allowedReferrers ?? []).some((p) => referrerMatches(p, referer));
      return ok ? { allowed: true } : { allowed: false, restriction: 'referrer', callerValue: referer ?? '<empty>' };
    }
    case 'ip': {
      const ok = (r!.serverKeyRestrictions!.allowedIps ?? []).some((p) => ipMatches(p, req.clientIp));
      return ok ? { allowed: true } : { allowed: false, restriction: 'ip', callerValue: normalizeIp(req.clientIp) };
    }
    case 'android': {
      const pkg = header(req, 'x-android-package');
      const cert = normalizeSha1(header(req, 'x-android-cert') ?? '');
      const ok =
        pkg !== undefined &&
        (r!.androidKeyRestrictions!.allowedApplications ?? []).some((a) => a.packageName === pkg && normalizeSha1(a.sha1Fingerprint ?? '') === cert);
      return ok ? { allowed: true } : { allowed: false, restriction: 'android', callerValue: pkg ?? '<empty>' };
    }
    case 'ios': {
      const bundle = header(req, 'x-ios-bundle-identifier');
      const ok = bundle !== undefined && (r!.iosKeyRestrictions!.allowedBundleIds ?? []).includes(bundle);
      return ok ? { allowed: true } : { allowed: false, restriction: 'ios', callerValue: bundle ?? '<empty>' };
    }
  }
}

function header(req: EmuRequest, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}

function normalizeSha1(s: string): string {
  return s.replace(/:/g, '').toLowerCase();
}

/** Referrer patterns as the Cloud console takes them: `*` wildcards, scheme optional, path optional. */
export function referrerMatches(pattern: string, referer: string): boolean {
  const withoutScheme = referer.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const patterns = pattern.includes('/') ? [pattern] : [pattern, `${pattern}/*`];
  return patterns.some((p) => {
    const re = new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
    return re.test(referer) || re.test(withoutScheme);
  });
}

/** `::ffff:1.2.3.4` → `1.2.3.4`; other addresses unchanged. */
export function normalizeIp(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1]! : ip;
}

/** Whether `ip` is `allowed` (an address or a CIDR range, IPv4 or IPv6). */
export function ipMatches(allowed: string, ip: string): boolean {
  const [base, prefixText] = allowed.trim().split('/');
  const target = parseIp(normalizeIp(ip));
  const range = parseIp(normalizeIp(base ?? ''));
  if (!target || !range || target.bits !== range.bits) return false;
  const prefix = prefixText === undefined ? range.bits : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > range.bits) return false;
  const shift = BigInt(range.bits - prefix);
  return target.value >> shift === range.value >> shift;
}

function parseIp(text: string): { bits: 32 | 128; value: bigint } | undefined {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(text)) {
    const parts = text.split('.').map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return { bits: 32, value: parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n) };
  }
  if (!text.includes(':')) return undefined;
  let head = text;
  let tail = '';
  const embedded = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (embedded) {
    const v4 = parseIp(embedded[1]!);
    if (!v4) return undefined;
    tail = `${(v4.value >> 16n).toString(16)}:${(v4.value & 0xffffn).toString(16)}`;
    head = text.slice(0, -embedded[1]!.length) + tail;
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const left = halves[0] ? halves[0].split(':') : [];
  const right = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - left.length - right.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return undefined;
  const groups = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...right];
  let value = 0n;
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    value = (value << 16n) | BigInt(parseInt(g, 16));
  }
  return { bits: 128, value };
}
