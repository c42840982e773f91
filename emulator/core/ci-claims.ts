// The ID-token claims of CI jobs, shaped as GitHub Actions and GitLab CI/CD document them, so a
// simulated runner's token can be mapped and conditioned exactly like a real one. Ids are strings,
// as both put them in tokens.

import { randomBytes, randomInt } from 'node:crypto';
import { z } from 'zod';

export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com';
export const GITLAB_COM_ISSUER = 'https://gitlab.com';
/** GitHub's tokens live about five minutes; GitLab's documented example lives an hour. */
export const GITHUB_TOKEN_LIFETIME_S = 300;
export const GITLAB_TOKEN_LIFETIME_S = 3600;

const NumericId = z
  .union([z.string().regex(/^[1-9][0-9]*$/, 'a numeric id'), z.number().int().positive()])
  .transform(String);

/** A GitHub Actions job: whose repository, which ref, which environment. */
export const GithubJobSchema = z.object({
  repository: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'owner/name'),
  repositoryId: NumericId,
  repositoryOwnerId: NumericId,
  ref: z.string().min(1).default('refs/heads/main'),
  environment: z.string().min(1).optional(),
  /** `owner/repo/.github/workflows/file.yml@ref`; default: ci.yml at the job's ref. */
  workflowRef: z.string().min(1).optional(),
  eventName: z.string().min(1).default('push'),
  actor: z.string().min(1).default('octocat'),
  actorId: NumericId.default('583231'),
  repositoryVisibility: z.enum(['public', 'private', 'internal']).default('private'),
  /** GitHub Enterprise Server issuers are `https://HOST/_services/token`. */
  issuer: z.string().default(GITHUB_ACTIONS_ISSUER),
});
export type GithubJob = z.input<typeof GithubJobSchema>;

/** A GitLab CI/CD job. */
export const GitlabJobSchema = z.object({
  projectPath: z.string().regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/, 'group[/subgroup]/project'),
  projectId: NumericId,
  namespaceId: NumericId.optional(),
  ref: z.string().min(1).default('main'),
  refType: z.enum(['branch', 'tag']).default('branch'),
  environment: z.string().min(1).optional(),
  pipelineSource: z.string().min(1).default('push'),
  userLogin: z.string().min(1).default('ci-user'),
  userId: NumericId.default('1'),
  /** A self-managed instance's URL; default gitlab.com. */
  issuer: z.string().default(GITLAB_COM_ISSUER),
});
export type GitlabJob = z.input<typeof GitlabJobSchema>;

const digits = (n: number) => String(randomInt(10 ** (n - 1), 10 ** n));
const sha = () => randomBytes(20).toString('hex');

/** `sub` as GitHub builds it: the environment wins, then pull requests, then the ref. */
export function githubSubject(job: Pick<z.output<typeof GithubJobSchema>, 'repository' | 'environment' | 'eventName' | 'ref'>): string {
  if (job.environment) return `repo:${job.repository}:environment:${job.environment}`;
  if (job.eventName === 'pull_request' || job.eventName === 'pull_request_target') return `repo:${job.repository}:pull_request`;
  return `repo:${job.repository}:ref:${job.ref}`;
}

/** GitHub's default `aud` when the job asks for none: the owner's URL. */
export function githubDefaultAudience(repository: string): string {
  return `https://github.com/${repository.split('/')[0]}`;
}

/** A job's claims without `aud`, `jti` and the times, which each token adds. */
export function githubClaims(input: GithubJob): Record<string, unknown> {
  const job = GithubJobSchema.parse(input);
  const commit = sha();
  const workflowRef = job.workflowRef ?? `${job.repository}/.github/workflows/ci.yml@${job.ref}`;
  return {
    sub: githubSubject(job),
    ref: job.ref,
    sha: commit,
    repository: job.repository,
    repository_owner: job.repository.split('/')[0],
    repository_owner_id: job.repositoryOwnerId,
    run_id: digits(10),
    run_number: String(randomInt(1, 1000)),
    run_attempt: '1',
    repository_visibility: job.repositoryVisibility,
    repository_id: job.repositoryId,
    actor_id: job.actorId,
    actor: job.actor,
    workflow: workflowRef.replace(/@.*$/, '').split('/').pop(),
    head_ref: '',
    base_ref: '',
    event_name: job.eventName,
    ref_protected: 'false',
    ref_type: job.ref.startsWith('refs/tags/') ? 'tag' : 'branch',
    workflow_ref: workflowRef,
    workflow_sha: commit,
    job_workflow_ref: workflowRef,
    job_workflow_sha: commit,
    runner_environment: 'github-hosted',
    ...(job.environment ? { environment: job.environment } : {}),
    iss: job.issuer,
  };
}

/** `sub` as GitLab builds it. */
export function gitlabSubject(job: { projectPath: string; refType: string; ref: string }): string {
  return `project_path:${job.projectPath}:ref_type:${job.refType}:ref:${job.ref}`;
}

export function gitlabClaims(input: GitlabJob): Record<string, unknown> {
  const job = GitlabJobSchema.parse(input);
  const commit = sha();
  const host = new URL(job.issuer).host;
  const refPath = `${job.refType === 'tag' ? 'refs/tags/' : 'refs/heads/'}${job.ref}`;
  return {
    namespace_id: job.namespaceId ?? digits(8),
    namespace_path: job.projectPath.split('/').slice(0, -1).join('/'),
    project_id: job.projectId,
    project_path: job.projectPath,
    user_id: job.userId,
    user_login: job.userLogin,
    user_email: `${job.userLogin}@example.com`,
    pipeline_id: digits(10),
    pipeline_source: job.pipelineSource,
    job_id: digits(10),
    ref: job.ref,
    ref_type: job.refType,
    ref_path: refPath,
    ref_protected: 'false',
    ...(job.environment ? { environment: job.environment, environment_protected: 'false' } : {}),
    runner_id: randomInt(1, 100_000),
    runner_environment: 'gitlab-hosted',
    sha: commit,
    project_visibility: 'private',
    ci_config_ref_uri: `${host}/${job.projectPath}//.gitlab-ci.yml@${refPath}`,
    ci_config_sha: commit,
    iss: job.issuer,
    sub: gitlabSubject(job),
  };
}
