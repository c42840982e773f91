// Reads pipeline specs from YAML or JSON files (YAML is a superset of JSON).

import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { validateSpec, type PipelineSpec } from '../contracts/spec';
import { ExitCode, UserError } from './errors';

/** Largest spec file accepted; a spec is a page of settings, not a data set. */
export const MAX_SPEC_BYTES = 256 * 1024;

export async function readSpecFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read spec ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, ExitCode.Config);
  }
  if (Buffer.byteLength(text) > MAX_SPEC_BYTES) {
    throw new UserError(`spec ${path} is larger than ${MAX_SPEC_BYTES} bytes`, ExitCode.Config);
  }
  try {
    return parse(text);
  } catch (err) {
    throw new UserError(`spec ${path} is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`, ExitCode.Config);
  }
}

/** Validates a spec, turning problems into one user error that lists each field and its fix. */
export function checkSpec(input: unknown, source: string): PipelineSpec {
  const result = validateSpec(input);
  if (result.ok) return result.spec;
  const lines = result.problems.map((p) => `  ${p.path}: ${p.message}`);
  throw new UserError(`spec ${source} is invalid:\n${lines.join('\n')}`, ExitCode.Config);
}

export async function loadSpec(path: string): Promise<PipelineSpec> {
  return checkSpec(await readSpecFile(path), path);
}
