// The account a Google Cloud runtime already runs as: named in the spec, or read from the Cloud Run
// Admin API v2 for a Cloud Run job (`template.template.serviceAccount`, the Compute Engine default
// account when the job names none). keyless adopts it, so the job keeps its other permissions.

import type { RuntimeAccount, RuntimeAccountInput } from '../contracts/activities';
import { ErrorType, KeylessError } from '../contracts/errors';
import type { GoogleClients } from './clients';
import { googleError } from './errors';
import { getServiceAccount } from './service-accounts';

interface RestCapable {
  request<T>(options: { url: string; method?: 'GET' }): Promise<{ data: T }>;
}

/** The Compute Engine default account's form: `<project number>-compute@developer.gserviceaccount.com`. */
export function isComputeDefaultAccount(email: string): boolean {
  return /^[0-9]+-compute@developer\.gserviceaccount\.com$/.test(email);
}

export async function resolveRuntimeAccount(clients: GoogleClients, input: RuntimeAccountInput): Promise<RuntimeAccount> {
  const email = input.serviceAccount ?? (await cloudRunJobAccount(clients, input.project, input.cloudRunJob!));
  const owner = /@([a-z][a-z0-9-]+)\.iam\.gserviceaccount\.com$/.exec(email)?.[1];
  if (owner && owner !== input.project && !input.accountInAnotherProject) {
    throw new KeylessError({
      type: ErrorType.InvalidSpec,
      message: `the runtime runs as ${email}, an account of project ${owner}, not ${input.project}: set runtime.accountInAnotherProject: true if that is meant`,
      details: [{ email }],
    });
  }
  const account = await getServiceAccount(clients, email);
  if (!account) {
    throw new KeylessError({ type: ErrorType.InvalidSpec, message: `the runtime's account ${email} does not exist: check runtime.serviceAccount (or the Cloud Run job's service account)`, details: [{ email }] });
  }
  return { email, uniqueId: account.uniqueId ?? '', source: input.serviceAccount ? 'spec' : 'cloud-run-job', computeDefault: isComputeDefaultAccount(email) };
}

async function cloudRunJobAccount(clients: GoogleClients, project: string, job: { name: string; location: string }): Promise<string> {
  const name = `projects/${project}/locations/${job.location}/jobs/${job.name}`;
  let data: { template?: { template?: { serviceAccount?: string } } };
  try {
    // GoogleAuth and OAuth2Client both expose an authenticated gaxios `request`.
    ({ data } = await (clients.auth as unknown as RestCapable).request<typeof data>({ url: `${clients.endpoints.run}/v2/${name}`, method: 'GET' }));
  } catch (err) {
    throw googleError(err, { context: `read the Cloud Run job ${name}`, notFound: ErrorType.InvalidSpec });
  }
  const email = data.template?.template?.serviceAccount;
  if (!email) throw new KeylessError({ type: ErrorType.InvalidRequest, message: `the Cloud Run job ${name} answered without template.template.serviceAccount` });
  return email;
}
