// Simulated CI runners of the embedded Google Cloud, asked for over its admin API: what a GitHub
// Actions job, a GitLab job or another OIDC workload gets from its own issuer. Used where keyless
// walks a job's path in emulator mode (the identity probe, the demo); never against Google.

import type { FederatedRuntime } from '../../contracts/runtime';

/** What a simulated job holds: GitHub's token request URL and bearer, or a token to put in a file. */
export type RunnerCredentials =
  | { kind: 'github'; requestUrl: string; requestToken: string }
  | { kind: 'token'; token: string };

/** Registers a runner (GitHub) or mints a token (GitLab, other issuers) for a job of `runtime`. */
export async function simulatedRunner(baseUrl: string, runtime: FederatedRuntime, audience: string): Promise<RunnerCredentials> {
  const httpsAudience = audience.replace(/^\/\//, 'https://');
  switch (runtime.kind) {
    case 'github-actions': {
      const runner = await admin<{ ACTIONS_ID_TOKEN_REQUEST_URL: string; ACTIONS_ID_TOKEN_REQUEST_TOKEN: string }>(baseUrl, '/admin/v1/oidc/github/runners', {
        repository: runtime.repository,
        repositoryId: runtime.repositoryId,
        // The condition pins only what the spec pins; a simulated runner needs an owner id anyway.
        repositoryOwnerId: runtime.repositoryOwnerId ?? '1',
        ...(runtime.ref ? { ref: runtime.ref } : {}),
        ...(runtime.environment ? { environment: runtime.environment } : {}),
        ...(runtime.workflowRef ? { workflowRef: runtime.workflowRef } : {}),
      });
      return { kind: 'github', requestUrl: runner.ACTIONS_ID_TOKEN_REQUEST_URL, requestToken: runner.ACTIONS_ID_TOKEN_REQUEST_TOKEN };
    }
    case 'gitlab-ci': {
      const { token } = await admin<{ token: string }>(baseUrl, '/admin/v1/oidc/gitlab/tokens', {
        projectPath: runtime.projectPath,
        projectId: runtime.projectId,
        issuer: runtime.issuer,
        ...(runtime.ref ? { ref: runtime.ref } : {}),
        audience: httpsAudience,
      });
      return { kind: 'token', token };
    }
    case 'oidc': {
      await admin(baseUrl, '/admin/v1/oidc/issuers', { issuer: runtime.issuer });
      const claims = { ...runtime.claims, ...(runtime.subject ? { sub: runtime.subject } : {}) };
      const { token } = await admin<{ token: string }>(baseUrl, '/admin/v1/oidc/tokens', { issuer: runtime.issuer, claims, audience: runtime.audiences[0] });
      return { kind: 'token', token };
    }
  }
}

async function admin<T = unknown>(baseUrl: string, path: string, body: unknown): Promise<T> {
  const response = await fetch(`${baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`the emulator's ${path} answered ${response.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}
