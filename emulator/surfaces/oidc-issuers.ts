// The simulated OIDC issuers over HTTP: discovery documents and JWKS under
// /oidc-issuers/{host}{path} (see core/oidc), the GitHub Actions token endpoint a runner's
// ACTIONS_ID_TOKEN_REQUEST_URL names, and the admin calls that register runners and mint tokens
// (valid ones, or expired / wrongly signed / otherwise altered ones for negative tests).

import { z } from 'zod';
import { GithubJobSchema, GitlabJobSchema } from '../core/ci-claims';
import type { EmuRequest, EmuResponse, RouteDef } from '../core/contract';
import { GoogleApiError } from '../core/errors';
import { ISSUER_PATH_PREFIX, issuerUrlOfPath } from '../core/oidc';
import { GithubRunnerInputSchema, MintOptionsSchema, RunnerTokenRefusal, type OidcIssuers } from '../core/oidc-issuers';

const IssuerInputSchema = z.object({ issuer: z.string(), kind: z.enum(['github', 'gitlab', 'generic']).default('generic') });
const GenericMintSchema = MintOptionsSchema.extend({ issuer: z.string(), lifetimeSeconds: z.number().int().min(1).max(86_400).default(3600) });

function badRequest(err: unknown): never {
  if (err instanceof RangeError) throw new GoogleApiError('INVALID_ARGUMENT', err.message);
  throw err;
}

/** Discovery, JWKS and the GitHub Actions token endpoint. */
export function oidcIssuerRoutes(issuers: OidcIssuers): RouteDef[] {
  const document = async (req: EmuRequest): Promise<EmuResponse> => {
    const found = issuers.documentAt(issuerUrlOfPath(req.rawPath));
    if (!found) return { status: 404, raw: 'Not Found', headers: { 'content-type': 'text/plain' } };
    return { body: found.kind === 'discovery' ? issuers.discoveryDocument(found.record) : await issuers.jwks(found.record) };
  };

  const runnerToken = async (req: EmuRequest): Promise<EmuResponse> => {
    try {
      const token = await issuers.runnerToken(req.params.runner!, req.headers.authorization, req.query.get('audience') ?? undefined);
      return { body: { value: token } };
    } catch (err) {
      if (err instanceof RunnerTokenRefusal) return { status: 401, body: { message: 'Unauthorized: the request token is missing or wrong.' } };
      throw err;
    }
  };

  return [
    { method: 'GET', pattern: new RegExp(`^${ISSUER_PATH_PREFIX}[^/]+/.+$`), surface: 'oidc', handler: document },
    { method: 'GET', pattern: /^\/github-actions\/runners\/(?<runner>[^/]+)\/idtoken$/, surface: 'oidc', handler: runnerToken },
  ];
}

/** `/admin/v1/oidc/…`: issuers, GitHub runners, tokens minted on demand. */
export function oidcAdminRoutes(issuers: OidcIssuers): RouteDef[] {
  const routes: Array<[string, RegExp, (req: EmuRequest) => EmuResponse | Promise<EmuResponse>]> = [
    [
      'GET',
      /^\/admin\/v1\/oidc\/issuers$/,
      () => ({
        body: {
          issuers: issuers.list().map((r) => ({
            issuer: r.issuer,
            kind: r.kind,
            discoveryUrl: issuers.emulatorUrl(issuers.discoveryUrlOf(r.issuer)),
            jwksUrl: issuers.emulatorUrl(issuers.jwksUrlOf(r)),
          })),
        },
      }),
    ],
    [
      'POST',
      /^\/admin\/v1\/oidc\/issuers$/,
      (req) => {
        const input = IssuerInputSchema.parse(req.body ?? {});
        try {
          const record = issuers.ensure(input.issuer, input.kind);
          return { body: { issuer: record.issuer, kind: record.kind, discoveryUrl: issuers.emulatorUrl(issuers.discoveryUrlOf(record.issuer)) } };
        } catch (err) {
          return badRequest(err);
        }
      },
    ],
    [
      'POST',
      /^\/admin\/v1\/oidc\/github\/runners$/,
      (req) => {
        try {
          return { body: issuers.registerGithubRunner(GithubRunnerInputSchema.parse(req.body ?? {})) };
        } catch (err) {
          return badRequest(err);
        }
      },
    ],
    [
      'POST',
      /^\/admin\/v1\/oidc\/github\/tokens$/,
      async (req) => {
        const body = (req.body ?? {}) as Record<string, unknown>;
        return { body: await issuers.mintGithub(GithubJobSchema.parse(body), MintOptionsSchema.parse(body)).catch(badRequest) };
      },
    ],
    [
      'POST',
      /^\/admin\/v1\/oidc\/gitlab\/tokens$/,
      async (req) => {
        const body = (req.body ?? {}) as Record<string, unknown>;
        return { body: await issuers.mintGitlab(GitlabJobSchema.parse(body), MintOptionsSchema.parse(body)).catch(badRequest) };
      },
    ],
    [
      'POST',
      /^\/admin\/v1\/oidc\/tokens$/,
      async (req) => {
        const input = GenericMintSchema.parse(req.body ?? {});
        return { body: await issuers.mint(input.issuer, {}, input, { audience: input.issuer, lifetimeSeconds: input.lifetimeSeconds }).catch(badRequest) };
      },
    ],
  ];
  return routes.map(([method, pattern, handler]) => ({ method, pattern, surface: 'admin', handler, mutates: method !== 'GET' }));
}
