// A GCE metadata server for one attached service account. Each attached account gets its own
// port, so `GCE_METADATA_HOST=127.0.0.1:<port>` makes Application Default Credentials in any
// process act as that account, exactly as on a VM whose attached account it is.

import type { EmuRequest, EmuResponse, RouteDef } from '../core/contract';
import type { EmulatorCore } from '../core/core';
import { accountIdTokenClaims } from '../core/google-id-tokens';

const FLAVOR = { 'metadata-flavor': 'Google' };
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';

function text(body: string, status = 200): EmuResponse {
  return { status, raw: body, headers: { ...FLAVOR, 'content-type': 'application/text' } };
}

function json(body: unknown): EmuResponse {
  return { status: 200, raw: JSON.stringify(body), headers: { ...FLAVOR, 'content-type': 'application/json' } };
}

/** GCE answers requests without `Metadata-Flavor: Google` with 403. */
function requireFlavor(req: EmuRequest): EmuResponse | undefined {
  if (String(req.headers['metadata-flavor'] ?? '').toLowerCase() === 'google') return undefined;
  return { status: 403, raw: 'Missing required header: "Metadata-Flavor: Google"\n', headers: { ...FLAVOR, 'content-type': 'text/plain' } };
}

/** The 404 body a metadata server sends for a path it does not have. */
export function metadataNotFound(): EmuResponse {
  return { status: 404, raw: 'Not Found\n', headers: { ...FLAVOR, 'content-type': 'text/plain' } };
}

/** Routes of the metadata server bound to `email`. */
export function metadataRoutes(core: EmulatorCore, email: string): RouteDef[] {
  const account = () => core.liveServiceAccount(email);
  const guarded = (handler: (req: EmuRequest) => EmuResponse | Promise<EmuResponse>) => async (req: EmuRequest): Promise<EmuResponse> => {
    const refused = requireFlavor(req);
    if (refused) return refused;
    const sa = account();
    if (!sa) return metadataNotFound();
    return handler(req);
  };
  const sa = '(?:default|' + email.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('@', '(?:@|%40)') + ')';
  const route = (pattern: string, handler: (req: EmuRequest) => EmuResponse | Promise<EmuResponse>): RouteDef => ({
    method: 'GET',
    pattern: new RegExp(`^/computeMetadata/v1/${pattern}$`),
    surface: 'metadata',
    handler: guarded(handler),
    mutates: false,
  });

  const token = (req: EmuRequest) => {
    const scopes = (req.query.get('scopes') ?? CLOUD_PLATFORM).split(',').filter(Boolean);
    const minted = core.mintAccessToken('serviceAccount', email, 3600, scopes);
    return json({ access_token: minted.token, expires_in: 3599, token_type: 'Bearer' });
  };

  // format=full adds email and email_verified; the default (standard) leaves them out, as on GCE.
  const identity = async (req: EmuRequest) => {
    const audience = req.query.get('audience');
    if (!audience) return text('non-empty audience parameter required\n', 400);
    const format = req.query.get('format') ?? 'standard';
    if (format !== 'standard' && format !== 'full') return text('invalid format parameter, must be one of "standard" or "full"\n', 400);
    const record = account()!;
    return text(await core.signGoogleIdToken(accountIdTokenClaims(record, audience, format === 'full', Math.floor(Date.now() / 1000))));
  };

  return [
    { method: 'GET', pattern: /^\/$/, surface: 'metadata', handler: () => text('computeMetadata/\n'), mutates: false },
    { method: 'GET', pattern: /^\/computeMetadata\/v1\/?$/, surface: 'metadata', handler: guarded(() => text('instance/\nproject/\nuniverse/\n')) },
    route('instance/?', () => text('attributes/\nhostname\nid\nservice-accounts/\nzone\n')),
    route('instance/hostname', () => text('keyless-emulator.c.' + account()!.projectId + '.internal')),
    route('instance/id', () => text('4520031799277581759')),
    route('instance/zone', () => text(`projects/${core.resolveProject(account()!.projectId)?.projectNumber}/zones/us-central1-a`)),
    route('instance/attributes/?', () => text('')),
    route('project/project-id', () => text(account()!.projectId)),
    route('project/numeric-project-id', () => text(core.resolveProject(account()!.projectId)?.projectNumber ?? '0')),
    route('universe/universe-domain', () => text('googleapis.com')),
    route('instance/service-accounts/?', () => text(`default/\n${email}/\n`)),
    route(`instance/service-accounts/${sa}/?`, (req) =>
      req.query.get('recursive') === 'true' ? json({ aliases: ['default'], email, scopes: [CLOUD_PLATFORM] }) : text('aliases\nemail\nidentity\nscopes\ntoken\n'),
    ),
    route(`instance/service-accounts/${sa}/email`, () => text(email)),
    route(`instance/service-accounts/${sa}/aliases`, () => text('default\n')),
    route(`instance/service-accounts/${sa}/scopes`, () => text(`${CLOUD_PLATFORM}\n`)),
    route(`instance/service-accounts/${sa}/token`, token),
    route(`instance/service-accounts/${sa}/identity`, identity),
  ];
}
