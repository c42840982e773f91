// A federated job's own path, walked with Google's auth library exactly as the job walks it: its
// OIDC token, exchanged at STS for a federated token, that token exchanged at IAM Credentials for
// the pipeline account's, and that one calling Vertex. Each link that fails is named, so whoever
// reads the answer (the probe, `keyless doctor`) knows which one to fix.

import { ExternalAccountClient, type BaseExternalAccountClient } from 'google-auth-library';
import { createGenAi } from './genai';
import type { EndpointConfig } from './endpoints';
import { describeGoogleError, type GoogleErrorInfo } from './errors';

/** The links of the chain, in the order the job walks them. */
export type FederationLink = 'subject-token' | 'sts' | 'impersonation' | 'vertex';

export interface FederationStep {
  link: FederationLink;
  ok: boolean;
  detail: string;
  error?: GoogleErrorInfo;
}

/** Walks the chain for a credential configuration; stops at the first broken link. */
export async function walkFederatedChain(
  config: EndpointConfig,
  credentials: Record<string, unknown>,
  target: { project: string; location: string; models: string[] },
): Promise<FederationStep[]> {
  const steps: FederationStep[] = [];
  let client: BaseExternalAccountClient | null;
  try {
    client = ExternalAccountClient.fromJSON(credentials as never);
    if (!client) throw new Error('the credential configuration is not an external_account configuration');
  } catch (err) {
    return [{ link: 'subject-token', ok: false, detail: `the credential configuration does not load: ${(err as Error).message}` }];
  }
  const subject = await client.retrieveSubjectToken().then(
    (token) => ({ ok: true as const, token }),
    (err: unknown) => ({ ok: false as const, err }),
  );
  if (!subject.ok) return [{ link: 'subject-token', ok: false, detail: `the job's own token could not be read: ${describeGoogleError(subject.err).message}`, error: describeGoogleError(subject.err) }];
  steps.push({ link: 'subject-token', ok: true, detail: `the job's token (${subject.token.length} characters) was read from its source` });
  // The two exchanges, one at a time, so a refusal names its link: STS alone first (a client
  // without impersonation), then the whole chain as the job runs it.
  const { service_account_impersonation_url: _impersonation, ...federatedOnly } = credentials;
  const sts = await ExternalAccountClient.fromJSON(federatedOnly as never)!.getAccessToken().then(() => undefined, (err: unknown) => describeGoogleError(err));
  if (sts) return [...steps, { link: 'sts', ok: false, detail: `STS refused the job's token: ${sts.message}`, error: sts }];
  steps.push({ link: 'sts', ok: true, detail: 'STS exchanged the job token for a federated token' });
  const impersonation = await client.getAccessToken().then(() => undefined, (err: unknown) => describeGoogleError(err));
  if (impersonation) return [...steps, { link: 'impersonation', ok: false, detail: `IAM Credentials refused to act as the account: ${impersonation.message}`, error: impersonation }];
  steps.push({ link: 'impersonation', ok: true, detail: "IAM Credentials issued the account's access token" });
  const ai = createGenAi(config, { kind: 'vertex', project: target.project, location: target.location }, client);
  for (const model of target.models) {
    try {
      await ai.models.generateContent({ model, contents: 'Reply with the single word: ready', config: { maxOutputTokens: 8, temperature: 0 } });
      steps.push({ link: 'vertex', ok: true, detail: `${model} answered on Vertex (${target.project}, ${target.location})` });
    } catch (err) {
      const info = describeGoogleError(err);
      steps.push({ link: 'vertex', ok: false, detail: `${model} failed on Vertex: ${info.httpStatus} ${info.status}: ${info.message}`, error: info });
      return steps;
    }
  }
  return steps;
}
