// `keyless credentials <pipeline>`: what a federated job needs to run as its service account,
// printed from what the migration set up (its status while running, its result once finished) or
// from the spec alone: the `external_account` credential configuration (not a secret: where to get
// the job's own token, where to exchange it, which account to act as), or a ready GitHub Actions
// or GitLab CI snippet. The configuration is built by google/credential-config.ts, the one builder
// the probe and the demo's job use too, so only its endpoints differ in emulator mode.

import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { z } from 'zod';
import { statusQuery } from '../../contracts/messages';
import { isFederated, providerName, workloadIdentityPlan, type FederatedRuntime, type Runtime } from '../../contracts/runtime';
import { pipelineAccount, type PipelineSpec } from '../../contracts/spec';
import type { MigrationResult, MigrationStatus } from '../../contracts/status';
import { credentialConfiguration, githubRunnerSource, type SubjectTokenSource } from '../../google/credential-config';
import { endpointConfigFromEnv, type EndpointConfig } from '../../google/endpoints';
import { projectNumber } from '../../google/workload-identity';
import { projectOption, stringFlag, type CliIo, type Command } from '../command';
import { ExitCode, UserError } from '../errors';
import { migrationHandle, migrationRef, type MigrationRef } from '../migrations';
import { checkSpec, loadSpec } from '../spec-file';

/** Where a job writes its own OIDC token when the configuration reads it from a file (GitLab's snippet does). */
export const DEFAULT_TOKEN_FILE = '/tmp/keyless/id-token.jwt';
/** What the GitLab snippet names the configuration it writes, beside the token file. */
export const GITLAB_CREDENTIALS_NAME = 'credentials.json';
/** The variable GitLab puts the job's ID token in (the snippet's id_tokens entry). */
export const GITLAB_TOKEN_VARIABLE = 'KEYLESS_ID_TOKEN';

export const CREDENTIAL_FORMATS = ['json', 'github-actions', 'gitlab-ci'] as const;
export type CredentialFormat = (typeof CREDENTIAL_FORMATS)[number];

/** Where the printed configuration tells the job's auth library to read the job's token. */
export type SourceChoice = { kind: 'github-runner' } | { kind: 'file'; path: string };

const FlagsSchema = z.strictObject({
  format: z.enum(CREDENTIAL_FORMATS, { message: `--format must be one of: ${CREDENTIAL_FORMATS.join(', ')}` }).default('json'),
  source: z
    .string()
    .transform((value, ctx): SourceChoice => {
      if (value === 'github-runner') return { kind: 'github-runner' };
      const path = /^file:(.+)$/.exec(value)?.[1]?.trim();
      if (path) return { kind: 'file', path };
      ctx.addIssue({ code: 'custom', message: `--source must be github-runner or file:<path> (the file the job writes its ID token to), not "${value}"` });
      return z.NEVER;
    })
    .optional(),
  projectNumber: z.string().regex(/^[1-9][0-9]{0,19}$/, "--project-number must be the project's number (digits): gcloud projects describe <project> --format='value(projectNumber)'").optional(),
  command: z.string().min(1, '--command must not be empty').max(2_000).optional(),
  output: z.string().min(1).optional(),
});
export type CredentialsFlags = z.output<typeof FlagsSchema>;

export const credentials: Command = {
  summary: "Print a federated pipeline's credential configuration (external_account JSON, not a secret) or a ready GitHub Actions / GitLab CI snippet",
  usage:
    'keyless credentials <pipeline> [--project <p>] [--spec <file> [--project-number <n>]] [--format json|github-actions|gitlab-ci] [--source file:<path>|github-runner] [--command <job command>] [--output <file>]',
  example: 'keyless credentials nightly-summarizer --project demo-project --format github-actions',
  options: {
    ...projectOption,
    spec: { type: 'string' },
    'project-number': { type: 'string' },
    format: { type: 'string' },
    source: { type: 'string' },
    command: { type: 'string' },
    output: { type: 'string', short: 'o' },
  },
  positionals: [1, 1],
  async run(args, io) {
    const flags = parseFlags({
      format: stringFlag(args, 'format'),
      source: stringFlag(args, 'source'),
      projectNumber: stringFlag(args, 'project-number'),
      command: stringFlag(args, 'command'),
      output: stringFlag(args, 'output'),
    });
    const ref = migrationRef(args);
    const specPath = stringFlag(args, 'spec');
    const identity = specPath
      ? await identityFromSpec(await loadSpec(specPath), { pipeline: ref.pipeline, projectNumber: flags.projectNumber, io })
      : await io.withTemporal(({ client }) => identityFromMigration(client, ref));
    const text = renderCredentials(identity, { format: flags.format, source: flags.source, command: flags.command, env: io.env, endpoints: endpointConfigFromEnv(io.env) });
    if (!flags.output) {
      io.print(text);
      return ExitCode.Ok;
    }
    const path = await writeCredentialsFile(flags.output, text);
    // One line a GitHub step can append to $GITHUB_ENV as it is.
    io.print(flags.format === 'json' ? `GOOGLE_APPLICATION_CREDENTIALS=${path}` : path);
    return ExitCode.Ok;
  },
};

/** The command's flags, validated once; a bad value names its flag. */
export function parseFlags(input: Record<string, string | undefined>): CredentialsFlags {
  const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  const parsed = FlagsSchema.safeParse(defined);
  if (!parsed.success) throw new UserError(parsed.error.issues.map((i) => i.message).join('; '), ExitCode.Usage);
  return parsed.data;
}

/** What a federated job needs to know about its identity: who it acts as, and through which provider. */
export interface FederatedIdentity {
  pipeline: string;
  project: string;
  runtime: FederatedRuntime;
  /** `projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>`. */
  provider: string;
  serviceAccount: string;
  /** The condition the provider admits tokens by. */
  attributeCondition: string;
  /** The spec's Vertex location, for the job's environment. */
  location: string;
  /** The spec's route.store, for `keyless exec` in the snippets. */
  routeStore?: string;
  /** Where the identity came from, said in the snippets. */
  from: 'spec' | 'migration';
}

/** The identity a spec asks for, before any migration exists; the project's number is read once unless given. */
export async function identityFromSpec(spec: PipelineSpec, options: { pipeline?: string; projectNumber?: string; io?: Pick<CliIo, 'google'> }): Promise<FederatedIdentity> {
  if (options.pipeline && options.pipeline !== spec.pipeline) {
    throw new UserError(`the spec is for pipeline ${spec.pipeline}, not ${options.pipeline}`, ExitCode.Usage, `run keyless credentials ${spec.pipeline} --spec <file>, or pass that pipeline's spec`);
  }
  const runtime = federatedRuntime(spec);
  const number = options.projectNumber ?? (options.io ? await readProjectNumber(options.io, spec.project) : undefined);
  if (!number) throw new UserError(`the project number of ${spec.project} is needed`, ExitCode.Usage, 'pass --project-number');
  const plan = workloadIdentityPlan(runtime, spec.pipeline);
  return {
    pipeline: spec.pipeline,
    project: spec.project,
    runtime,
    provider: providerName(number, plan.poolId, plan.providerId),
    serviceAccount: pipelineAccount(spec).email!,
    attributeCondition: plan.attributeCondition,
    location: spec.vertex.location,
    routeStore: spec.route.store,
    from: 'spec',
  };
}

async function readProjectNumber(io: Pick<CliIo, 'google'>, project: string): Promise<string> {
  try {
    return await projectNumber(io.google(), project);
  } catch (err) {
    throw new UserError(
      `cannot read the number of project ${project}: ${(err as Error).message.split('\n')[0]}`,
      ExitCode.Failed,
      `pass --project-number (gcloud projects describe ${project} --format='value(projectNumber)'), or grant whoever runs this resourcemanager.projects.get (roles/browser)`,
    );
  }
}

/** The identity a migration set up: its status while it runs, its result once it finished. */
export async function identityFromMigration(client: Client, ref: MigrationRef): Promise<FederatedIdentity> {
  const handle = await migrationHandle(client, ref);
  const where = `${ref.pipeline}${ref.project ? ` in ${ref.project}` : ''}`;
  let description;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new UserError(`no migration found for pipeline ${where}`, ExitCode.Failed, `check the name with \`keyless list\`, or compute the configuration from the spec alone: keyless credentials ${ref.pipeline} --spec <file>`);
    }
    throw err;
  }
  const spec = await startedSpec(client, handle.workflowId, description.runId);
  const runtime = federatedRuntime(spec);
  let setUp: MigrationStatus['workloadIdentity'];
  if (description.status.name === 'RUNNING') {
    const status = await handle.query(statusQuery);
    setUp = status.workloadIdentity;
    if (!setUp) {
      throw new UserError(
        // A worker older than this status field answers without it too, whatever its stage.
        `the migration of ${where} names no workload identity in its status yet (it is at ${status.stage}): it has not passed its identity stage, or its worker predates keyless credentials`,
        ExitCode.Failed,
        `wait for its identity stage (keyless status ${ref.pipeline}), or compute the configuration from the spec: keyless credentials ${ref.pipeline} --spec <file>`,
      );
    }
  } else if (description.status.name === 'COMPLETED') {
    const result = (await handle.result()) as MigrationResult;
    if (result.outcome === 'rolled-back') {
      throw new UserError(
        `the migration of ${where} was rolled back (${result.rollback?.reason ?? 'no reason recorded'}): the provider and binding it made are gone`,
        ExitCode.Failed,
        `run the migration again (keyless migrate <spec>; it undeletes its reserved pool and provider ids), then keyless credentials ${ref.pipeline}`,
      );
    }
    setUp = result.workloadIdentity;
    if (!setUp) throw new UserError(`the migration of ${where} recorded no workload identity`, ExitCode.Failed, `compute the configuration from the spec: keyless credentials ${ref.pipeline} --spec <file>`);
  } else {
    throw new UserError(`the migration of ${where} ended as ${description.status.name.toLowerCase()}: it left no result`, ExitCode.Failed, `see its history: temporal workflow show --workflow-id ${handle.workflowId}`);
  }
  return {
    pipeline: spec.pipeline,
    project: spec.project,
    runtime,
    provider: setUp.provider,
    serviceAccount: pipelineAccount(spec).email!,
    attributeCondition: setUp.attributeCondition,
    location: spec.vertex.location,
    routeStore: spec.route.store,
    from: 'migration',
  };
}

/** The spec the migration's current run started with (the first argument of its first event). */
async function startedSpec(client: Client, workflowId: string, runId: string): Promise<PipelineSpec> {
  const { history } = await client.workflowService.getWorkflowExecutionHistory({ namespace: client.options.namespace, execution: { workflowId, runId }, maximumPageSize: 1 });
  const payload = history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) throw new UserError(`workflow ${workflowId} has no spec in its first event`, ExitCode.Failed);
  return checkSpec(client.options.loadedDataConverter.payloadConverter.fromPayload(payload), `of workflow ${workflowId}`);
}

/** The spec's runtime when it is federated; otherwise what to do instead, as an error. */
export function federatedRuntime(spec: PipelineSpec): FederatedRuntime {
  const runtime: Runtime = spec.runtime;
  if (isFederated(runtime)) return runtime;
  if (runtime.kind === 'google') {
    const account = runtime.serviceAccount ?? `the account of Cloud Run job ${runtime.cloudRunJob?.name}`;
    throw new UserError(
      `pipeline ${spec.pipeline} runs on Google Cloud (runtime google): its job already runs as ${account} and needs no credential configuration`,
      ExitCode.Failed,
      `leave GOOGLE_APPLICATION_CREDENTIALS unset in the job, and check it from inside with keyless doctor --spec <file>`,
    );
  }
  throw new UserError(
    `pipeline ${spec.pipeline} has runtime external (the default when the spec has no runtime): keyless does not know where its job runs, so there is no federated identity to configure`,
    ExitCode.Failed,
    'set runtime in the spec (kind github-actions, gitlab-ci or oidc) and run the migration, or give the job the account\'s credentials yourself (an attached service account) and check them from inside the job with keyless doctor --spec <file>',
  );
}

export interface RenderOptions {
  format: CredentialFormat;
  source?: SourceChoice;
  /** The job's command in the snippets. */
  command?: string;
  /** Where --source github-runner reads ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN. */
  env: Record<string, string | undefined>;
  endpoints: EndpointConfig;
}

/** The configuration as JSON, or a CI snippet. */
export function renderCredentials(identity: FederatedIdentity, options: RenderOptions): string {
  switch (options.format) {
    case 'json':
      return JSON.stringify(configurationFor(identity, options), null, 2);
    case 'github-actions':
      return githubActionsSnippet(identity, options);
    case 'gitlab-ci':
      return gitlabCiSnippet(identity, options);
  }
}

/** The `external_account` configuration for the identity, reading the job's token from the chosen source. */
export function configurationFor(identity: FederatedIdentity, options: Pick<RenderOptions, 'source' | 'env' | 'endpoints'>): Record<string, unknown> {
  return credentialConfiguration(options.endpoints, {
    audience: `//iam.googleapis.com/${identity.provider}`,
    serviceAccountEmail: identity.serviceAccount,
    source: subjectTokenSource(identity, options.source ?? defaultSource(identity.runtime), options.env),
  });
}

/** GitHub jobs ask their runner; the others read a file a step (GitLab's id_tokens) or the platform (a projected token) writes. */
function defaultSource(runtime: FederatedRuntime): SourceChoice {
  return runtime.kind === 'github-actions' ? { kind: 'github-runner' } : { kind: 'file', path: DEFAULT_TOKEN_FILE };
}

function subjectTokenSource(identity: FederatedIdentity, source: SourceChoice, env: Record<string, string | undefined>): SubjectTokenSource {
  if (source.kind === 'file') return { kind: 'file', path: source.path };
  if (identity.runtime.kind === 'gitlab-ci') {
    throw new UserError('--source github-runner is for GitHub Actions jobs; a GitLab job reads its id_tokens token from a file', ExitCode.Usage, `pass --source file:<path>, or print the job's snippet with --format gitlab-ci`);
  }
  const url = env.ACTIONS_ID_TOKEN_REQUEST_URL?.trim();
  const token = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN?.trim();
  const missing = !url ? 'ACTIONS_ID_TOKEN_REQUEST_URL' : !token ? 'ACTIONS_ID_TOKEN_REQUEST_TOKEN' : undefined;
  if (missing) {
    throw new UserError(
      `${missing} is not set: --source github-runner builds the configuration inside a GitHub Actions job, from the variables GitHub sets only when the job may ask for an ID token`,
      ExitCode.Config,
      'run it in the job and give the job `permissions: id-token: write`; elsewhere print the workflow snippet with --format github-actions, or read a token file with --source file:<path>',
    );
  }
  // GitHub's tokens are asked for the provider's own audience, as google-github-actions/auth asks; an oidc runtime names its own.
  const audience = identity.runtime.kind === 'oidc' ? identity.runtime.audiences[0]! : `//iam.googleapis.com/${identity.provider}`;
  return githubRunnerSource(url!, token!, audience);
}

function snippetHeader(identity: FederatedIdentity, options: RenderOptions, platform: string): string[] {
  const lines = [
    `# ${identity.pipeline}: the ${platform} job runs as ${identity.serviceAccount} through Workload Identity Federation (no key, no secret).`,
    `# Google admits only tokens for which this holds: ${identity.attributeCondition}`,
  ];
  if (identity.from === 'spec') lines.push('# Computed from the spec: the provider and its binding exist once the migration has passed its identity stage.');
  if (options.endpoints.mode === 'emulator') lines.push(`# Emulator mode: the snippet names Google's endpoints; against the emulator (${options.endpoints.baseUrl}) use keyless credentials --format json.`);
  return lines;
}

function githubActionsSnippet(identity: FederatedIdentity, options: RenderOptions): string {
  const runtime = identity.runtime;
  if (runtime.kind !== 'github-actions') throw formatMismatch(identity, 'github-actions');
  const command = options.command ?? '<command>';
  const lines = [...snippetHeader(identity, options, 'GitHub Actions'), `# In ${runtime.repository}${runtime.workflowRef ? `, as the workflow ${runtime.workflowRef.replace(/^[^/]+\/[^/]+\//, '')}` : ''}:`, 'jobs:', `  ${identity.pipeline}:`, '    runs-on: ubuntu-latest'];
  if (runtime.environment) lines.push(`    environment: ${yamlString(runtime.environment)}`);
  // Tokens of other refs are refused by the provider anyway; the job should not start there.
  if (runtime.ref) lines.push(`    if: github.ref == '${runtime.ref.replace(/'/g, "''")}'`);
  lines.push(
    '    permissions:',
    '      contents: read',
    '      id-token: write   # lets the job ask GitHub for its OIDC token',
    '    steps:',
    '      - uses: actions/checkout@v4',
    '      - id: auth',
    '        uses: google-github-actions/auth@v2',
    '        with:',
    `          workload_identity_provider: ${identity.provider}`,
    `          service_account: ${identity.serviceAccount}`,
    `      - name: ${identity.pipeline}`,
    '        env:',
    `          GOOGLE_CLOUD_LOCATION: ${yamlString(identity.location)}`,
    `        run: ${yamlString(command)}`,
    `        # or, following the route keyless publishes (exec points GOOGLE_APPLICATION_CREDENTIALS at the configuration on Vertex runs only):`,
    `        # run: ${execLine(identity, command)}`,
    '        # env:',
    '        #   GEMINI_API_KEY: ${{ secrets.GEMINI_API_KEY }}   # only for runs the route keeps on the key',
    '        #   KEYLESS_CREDENTIAL_CONFIG: ${{ steps.auth.outputs.credentials_file_path }}',
    `        # before the cutover, check the chain from here: npx keyless doctor --spec <spec of ${identity.pipeline}>`,
  );
  return lines.join('\n');
}

function gitlabCiSnippet(identity: FederatedIdentity, options: RenderOptions): string {
  const runtime = identity.runtime;
  if (runtime.kind !== 'gitlab-ci') throw formatMismatch(identity, 'gitlab-ci');
  const tokenFile = options.source?.kind === 'file' ? options.source.path : DEFAULT_TOKEN_FILE;
  const config = JSON.stringify(configurationFor(identity, { ...options, source: { kind: 'file', path: tokenFile } }), null, 2);
  const credentialsFile = join(dirname(tokenFile), GITLAB_CREDENTIALS_NAME);
  const command = options.command ?? '<command>';
  const lines = [
    ...snippetHeader(identity, options, 'GitLab CI'),
    `# In ${runtime.projectPath} (project ${runtime.projectId}), .gitlab-ci.yml:`,
    `${identity.pipeline}:`,
    '  id_tokens:',
    `    ${GITLAB_TOKEN_VARIABLE}:`,
    `      aud: https://iam.googleapis.com/${identity.provider}`,
    '  variables:',
    `    GOOGLE_APPLICATION_CREDENTIALS: ${credentialsFile}`,
    `    GOOGLE_CLOUD_PROJECT: ${identity.project}`,
    `    GOOGLE_CLOUD_LOCATION: ${yamlString(identity.location)}`,
  ];
  if (runtime.ref) lines.push('  rules:', `    - if: $CI_COMMIT_REF_NAME == ${JSON.stringify(runtime.ref)}`);
  lines.push(
    '  before_script:',
    `    - mkdir -p ${shellWord(dirname(tokenFile))}`,
    `    - printf '%s' "$${GITLAB_TOKEN_VARIABLE}" > ${shellWord(tokenFile)}`,
    '    - |',
    `      cat > "$GOOGLE_APPLICATION_CREDENTIALS" <<'EOF'`,
    ...config.split('\n').map((line) => `      ${line}`),
    '      EOF',
    '  script:',
    `    - ${yamlString(command)}`,
    `    # or, following the route keyless publishes: - KEYLESS_CREDENTIAL_CONFIG="$GOOGLE_APPLICATION_CREDENTIALS" ${execLine(identity, command)}`,
    `    # before the cutover, check the chain from here: - npx keyless doctor --spec <spec of ${identity.pipeline}>`,
  );
  return lines.join('\n');
}

/** The job's command under `keyless exec`, which picks the backend per run from the route. */
function execLine(identity: FederatedIdentity, command: string): string {
  return `keyless exec --pipeline ${identity.pipeline} --store ${identity.routeStore ?? '<route store>'} --project ${identity.project} -- ${command}`;
}

function formatMismatch(identity: FederatedIdentity, format: CredentialFormat): UserError {
  const fits = identity.runtime.kind === 'github-actions' ? 'github-actions or json' : identity.runtime.kind === 'gitlab-ci' ? 'gitlab-ci or json' : 'json';
  return new UserError(`--format ${format} does not fit pipeline ${identity.pipeline}: its runtime is ${identity.runtime.kind}`, ExitCode.Usage, `use --format ${fits}`);
}

/** A path as one shell word. */
function shellWord(path: string): string {
  return /^[A-Za-z0-9_./-]+$/.test(path) ? path : `'${path.replace(/'/g, "'\\''")}'`;
}

/** A YAML scalar: plain when safe, else double-quoted. */
function yamlString(value: string): string {
  return /^[A-Za-z0-9_./@-][A-Za-z0-9_./@ -]*$/.test(value) && !/^(true|false|null|yes|no|on|off|[0-9.]+)$/i.test(value) && !value.endsWith(' ') ? value : JSON.stringify(value);
}

/** Writes the output owner-readable only: a github-runner configuration holds the job's request token. */
export async function writeCredentialsFile(path: string, text: string): Promise<string> {
  const absolute = resolve(path);
  await mkdir(dirname(absolute), { recursive: true });
  await writeFile(absolute, `${text}\n`, { mode: 0o600 });
  await chmod(absolute, 0o600);
  return absolute;
}
