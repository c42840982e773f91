// Service accounts: their names, reading one, creating or adopting a pipeline's, deleting the one
// keyless created, and the orchestrator's own identity.

import { Compute, GoogleAuth, Impersonated } from 'google-auth-library';
import { ErrorType, KeylessError } from '../contracts/errors';
import type { GoogleClients } from './clients';
import { serviceAccountEmail as accountEmail } from '../contracts/roles';
import { describeGoogleError, googleError } from './errors';
import type { EnsureServiceAccountInput, EnsureServiceAccountResult } from '../contracts/activities';

export type { EnsureServiceAccountInput, EnsureServiceAccountResult } from '../contracts/activities';

export { serviceAccountEmail } from '../contracts/roles';

/** `projects/<p>/serviceAccounts/<email>`, with the project read from the email where it can be. */
export function accountResource(email: string): string {
  // Under `projects/-` Google answers a missing account with 403, which would hide a 404.
  const project = /^[^@]+@([a-z][a-z0-9-]+)\.iam\.gserviceaccount\.com$/.exec(email)?.[1] ?? '-';
  return `projects/${project}/serviceAccounts/${email}`;
}

/** A service account as IAM returns it. */
export interface AccountView {
  email?: string | null;
  uniqueId?: string | null;
  description?: string | null;
}

/** The account, or undefined when it does not exist. */
export async function getServiceAccount(clients: GoogleClients, email: string): Promise<AccountView | undefined> {
  try {
    const { data } = await clients.iam.projects.serviceAccounts.get({ name: accountResource(email) });
    return data;
  } catch (err) {
    if (describeGoogleError(err).httpStatus === 404) return undefined;
    throw googleError(err, { context: `read service account ${email}` });
  }
}

/** Creates the pipeline's service account, or adopts it when it already exists. */
export async function ensureServiceAccount(clients: GoogleClients, input: EnsureServiceAccountInput): Promise<EnsureServiceAccountResult> {
  const email = accountEmail(input.accountId, input.project);
  const marker = input.owner ? `Created by keyless for ${input.owner}.` : undefined;
  const existing = await getServiceAccount(clients, email);
  if (existing) return adopted(existing, marker);
  if (!input.create) {
    throw new KeylessError({
      type: ErrorType.InvalidSpec,
      message: `service account ${email} does not exist and the spec says serviceAccount.create: false; create it or set create: true`,
      details: [{ email }],
    });
  }
  try {
    const { data } = await clients.iam.projects.serviceAccounts.create({
      name: `projects/${input.project}`,
      requestBody: {
        accountId: input.accountId,
        serviceAccount: {
          displayName: input.displayName ?? `keyless: ${input.accountId}`,
          ...(marker ? { description: marker } : {}),
        },
      },
    });
    return { email: data.email ?? email, uniqueId: data.uniqueId ?? '', created: true };
  } catch (err) {
    // Created between our read and our create (another worker, or a retry racing us): adopt it.
    if (describeGoogleError(err).httpStatus !== 409) throw googleError(err, { context: `create service account ${email}` });
    const raced = await getServiceAccount(clients, email);
    if (!raced) throw googleError(err, { context: `create service account ${email}` });
    return adopted(raced, marker);
  }
}

function adopted(account: AccountView, marker: string | undefined): EnsureServiceAccountResult {
  return { email: account.email ?? '', uniqueId: account.uniqueId ?? '', created: marker !== undefined && account.description === marker };
}

/** Deletes an account; one already gone is fine. */
export async function deleteServiceAccount(clients: GoogleClients, email: string): Promise<{ deleted: boolean }> {
  try {
    await clients.iam.projects.serviceAccounts.delete({ name: accountResource(email) });
    return { deleted: true };
  } catch (err) {
    if (describeGoogleError(err).httpStatus === 404) return { deleted: false };
    throw googleError(err, { context: `delete service account ${email}` });
  }
}

/** The account the metadata server (GCE_METADATA_HOST, else Google's) acts as. */
async function metadataServerEmail(): Promise<string> {
  const host = process.env.GCE_METADATA_HOST ?? 'metadata.google.internal';
  const response = await fetch(`http://${host}/computeMetadata/v1/instance/service-accounts/default/email`, { headers: { 'Metadata-Flavor': 'Google' }, signal: AbortSignal.timeout(10_000) }).catch((err: unknown) => {
    throw new KeylessError({ type: ErrorType.Transient, message: `the metadata server at ${host} did not answer for the orchestrator's email: ${(err as Error).message}` });
  });
  const email = (await response.text()).trim();
  if (!response.ok || !email.includes('@')) throw new KeylessError({ type: ErrorType.Transient, message: `the metadata server at ${host} answered ${response.status} for the orchestrator's email` });
  return email;
}

/**
 * The orchestrator's email: an explicit one, else what the credentials say (a key file's
 * client_email, the metadata server's account, an impersonation target).
 */
export async function whoAmI(clients: Pick<GoogleClients, 'auth'>, explicit?: string): Promise<string> {
  if (explicit) return explicit;
  const { auth } = clients;
  if (auth instanceof Impersonated) return auth.getTargetPrincipal();
  if (auth instanceof Compute) return metadataServerEmail();
  if (auth instanceof GoogleAuth) {
    const { client_email: email } = await auth.getCredentials();
    if (email) return email;
  }
  throw new KeylessError({
    type: ErrorType.InvalidSpec,
    message: 'cannot tell the orchestrator\'s own email from its credentials (a bare access token?); configure it explicitly',
  });
}
