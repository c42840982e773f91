// `keyless schema`: the JSON Schema of the pipeline spec, for editors and CI checks.

import { z } from 'zod';
import { PipelineSpecSchema } from '../../contracts/spec';

export function specJsonSchema(): object {
  return z.toJSONSchema(PipelineSpecSchema, { io: 'input', unrepresentable: 'any' });
}
