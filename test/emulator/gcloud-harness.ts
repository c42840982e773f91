// Runs the Google Cloud CLI, unchanged, against a running emulator: its endpoint overrides plus an
// access token file, in a throwaway config directory so nothing of the machine's gcloud is used.
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export function gcloudAvailable(): boolean {
  try {
    execFileSync('gcloud', ['--version'], { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

export interface GcloudOptions {
  baseUrl: string;
  /** Scratch directory: HOME and CLOUDSDK_CONFIG live there; `token` holds the access token. */
  dir: string;
  project: string;
}

/** The environment that points gcloud's API Keys, IAM and Resource Manager clients at the emulator. */
export function gcloudEnv({ baseUrl, dir }: Pick<GcloudOptions, 'baseUrl' | 'dir'>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: dir,
    CLOUDSDK_CONFIG: join(dir, 'config'),
    CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
    CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: '1',
    CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: 'true',
    CLOUDSDK_CORE_CHECK_GCE_METADATA: 'false',
    CLOUDSDK_API_ENDPOINT_OVERRIDES_APIKEYS: `${baseUrl}/`,
    CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM: `${baseUrl}/`,
    CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER: `${baseUrl}/`,
  };
}

/** Runs `gcloud <args> --project … --access-token-file=<dir>/token --format=json` and parses its output. */
export async function gcloudJson(options: GcloudOptions, ...args: string[]): Promise<any> {
  // Async on purpose: the emulator answers from this same process.
  const { stdout } = await run('gcloud', [...args, '--project', options.project, `--access-token-file=${join(options.dir, 'token')}`, '--format=json'], {
    env: gcloudEnv(options),
    timeout: 60_000,
  });
  return stdout.trim() ? JSON.parse(stdout) : undefined;
}
