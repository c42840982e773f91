// `keyless schema`: the JSON Schema of the pipeline spec, for editors and CI checks.

import { z } from 'zod';
import { PipelineSpecSchema } from '../../contracts/spec';
import type { Command } from '../command';
import { ExitCode } from '../errors';

export function specJsonSchema(): object {
  return z.toJSONSchema(PipelineSpecSchema, { io: 'input', unrepresentable: 'any' });
}

export const schema: Command = {
  summary: 'Print the JSON Schema of the pipeline spec',
  usage: 'keyless schema',
  example: 'keyless schema > keyless-spec.schema.json',
  options: {},
  positionals: [0, 0],
  async run(_args, io) {
    io.json(specJsonSchema());
    return ExitCode.Ok;
  },
};
