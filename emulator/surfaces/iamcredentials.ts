// IAM Service Account Credentials v1: generateAccessToken and generateIdToken (signed by Google's
// key, core/google-id-tokens.ts; `includeEmail` adds email and email_verified). The caller needs
// iam.serviceAccounts.getAccessToken (roles/iam.serviceAccountTokenCreator) on the account or
// its project; otherwise Google's 403 IAM_PERMISSION_DENIED, which it also sends for missing accounts.

import type { EmuRequest, EmuResponse, RouteDef } from '../core/contract';
import type { EmulatorCore } from '../core/core';
import { GoogleApiError, invalidArgument, permissionDenied } from '../core/errors';
import { accountIdTokenClaims } from '../core/google-id-tokens';

const COLON = '(?::|%3A)';
const ACCOUNT = '^/v1/projects/(?<project>[^/]+)/serviceAccounts/(?<account>[^/:]+)';
/** Without the org policy that extends it, Google caps token lifetime at one hour. */
const MAX_LIFETIME_S = 3600;

function parseDuration(raw: unknown): number | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const m = typeof raw === 'string' ? /^(\d+(?:\.\d+)?)s$/.exec(raw) : null;
  if (!m) throw invalidArgument(`Invalid value at 'lifetime' (type.googleapis.com/google.protobuf.Duration), ${JSON.stringify(raw)}`);
  return Number(m[1]);
}

export function iamCredentialsRoutes(core: EmulatorCore): RouteDef[] {
  function target(req: EmuRequest, permission: string) {
    const principal = core.requireCaller(req);
    if (req.params.project !== '-') {
      throw invalidArgument('The project in the resource name must be "-": projects/-/serviceAccounts/{ACCOUNT_EMAIL_OR_UNIQUEID}.');
    }
    const account = core.liveServiceAccount(req.params.account!);
    if (!account || !core.hasPermission(principal, account.projectId, permission, { resourcePolicy: account.policy })) {
      throw new GoogleApiError('PERMISSION_DENIED', `Permission '${permission}' denied on resource (or it may not exist).`, {
        reason: 'IAM_PERMISSION_DENIED',
        domain: 'iam.googleapis.com',
        metadata: { permission },
      });
    }
    if (account.disabled) throw new GoogleApiError('FAILED_PRECONDITION', `Service account ${account.email} is disabled.`);
    return account;
  }

  const generateAccessToken = (req: EmuRequest): EmuResponse => {
    const account = target(req, 'iam.serviceAccounts.getAccessToken');
    const body = (req.body ?? {}) as { scope?: unknown; lifetime?: unknown; delegates?: unknown };
    const scope = Array.isArray(body.scope) ? body.scope.filter((s): s is string => typeof s === 'string' && s !== '') : [];
    if (scope.length === 0) throw invalidArgument('Scope required.');
    const lifetime = parseDuration(body.lifetime) ?? MAX_LIFETIME_S;
    if (lifetime <= 0 || lifetime > MAX_LIFETIME_S) {
      throw invalidArgument(`The lifetime requested (${lifetime}s) exceeds the maximum allowed (${MAX_LIFETIME_S}s).`);
    }
    if (Array.isArray(body.delegates)) {
      for (const delegate of body.delegates) {
        const email = typeof delegate === 'string' ? delegate.replace(/^projects\/-\/serviceAccounts\//, '') : '';
        if (!core.liveServiceAccount(email)) throw permissionDenied('iam.serviceAccounts.getAccessToken');
      }
    }
    const minted = core.mintAccessToken('serviceAccount', account.email, lifetime, scope);
    // Google sends whole seconds; Python's google-auth parses exactly `%Y-%m-%dT%H:%M:%SZ`.
    return { body: { accessToken: minted.token, expireTime: minted.expireTime.replace(/\.\d+Z$/, 'Z') } };
  };

  const generateIdToken = async (req: EmuRequest): Promise<EmuResponse> => {
    const account = target(req, 'iam.serviceAccounts.getOpenIdToken');
    const body = (req.body ?? {}) as { audience?: unknown; includeEmail?: unknown };
    if (typeof body.audience !== 'string' || body.audience === '') throw invalidArgument('Audience required.');
    return { body: { token: await core.signGoogleIdToken(accountIdTokenClaims(account, body.audience, body.includeEmail === true, Math.floor(Date.now() / 1000))) } };
  };

  return [
    { method: 'POST', pattern: new RegExp(`${ACCOUNT}${COLON}generateAccessToken$`), surface: 'iamcredentials', handler: generateAccessToken, mutates: false },
    { method: 'POST', pattern: new RegExp(`${ACCOUNT}${COLON}generateIdToken$`), surface: 'iamcredentials', handler: generateIdToken, mutates: false },
  ];
}
