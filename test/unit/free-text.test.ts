// Free text in messages (notes, reasons, names) is kept in histories and results: a key string
// pasted there is refused without being repeated.

import { describe, expect, it } from 'vitest';
import { ApprovalSchema, OperatorActionSchema, RollbackRequestSchema } from '../../contracts/messages';

const KEY = `AIza${'SyFreeText0123456789abcdefghijkl'}`;

describe('free text in messages', () => {
  it.each([
    ['an approval note', () => ApprovalSchema.safeParse({ stage: 'cutover', by: 'alice@example.com', note: `done, key was ${KEY}` }), 'note'],
    ['a rollback reason', () => RollbackRequestSchema.safeParse({ by: 'alice@example.com', reason: KEY }), 'reason'],
    ['a pause note', () => OperatorActionSchema.safeParse({ by: 'alice@example.com', note: KEY }), 'note'],
    ['a name', () => RollbackRequestSchema.safeParse({ by: KEY, reason: 'x' }), 'by'],
  ])('%s holding a key string is refused, naming the field, not the key', (_name, parse, field) => {
    const result = parse();
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((i) => i.path.join('.'))).toContain(field);
    expect(JSON.stringify(result.error!.issues)).not.toContain(KEY);
  });

  it('plain notes and reasons pass, trimmed as before', () => {
    expect(RollbackRequestSchema.parse({ by: ' alice@example.com ', reason: ' latency doubled ' })).toEqual({ by: 'alice@example.com', reason: 'latency doubled' });
  });
});
