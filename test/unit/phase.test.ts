import { describe, expect, it } from 'vitest';
import { describeNext } from '../../workflows/phase';

describe('describeNext', () => {
  it('says what an approval waits for', () => {
    expect(describeNext({ stage: 'approve-cutover', paused: false, wait: { kind: 'approval', stage: 'cutover' } })).toBe('waiting for approve(stage: cutover)');
  });
  it('renders every wait from its kind: pipelines sharing the key, a held soak, the rollback window', () => {
    expect(describeNext({ stage: 'held', paused: false, wait: { kind: 'sharing-pipelines', pipelines: ['b', 'c'] } })).toBe('waiting for b, c to reach 100% on Vertex (they share this key)');
    expect(describeNext({ stage: 'held', paused: false, wait: { kind: 'key-traffic' } })).toBe('held: the key still sees traffic; stop it, or send promote to override or rollback');
    expect(describeNext({ stage: 'finalize', paused: false, wait: { kind: 'rollback-window', until: '2026-12-08T00:00:00.000Z' } })).toBe(
      'waiting for rollback window until 2026-12-08T00:00:00.000Z (send rollback to undo the finalize)',
    );
  });
  it('names the canary step, its percent and the end of the bake', () => {
    expect(describeNext({ stage: 'canary', paused: false, canary: { step: 2, of: 3, percent: 50 }, bakeEndsAt: '2026-11-28T12:00:00.000Z' })).toBe(
      'canary step 2/3 at 50% on Vertex: baking until 2026-11-28T12:00:00.000Z',
    );
  });
  it('tells a paused operator how to continue', () => {
    expect(describeNext({ stage: 'canary', paused: true, canary: { step: 1, of: 3, percent: 10 } })).toMatch(/paused, send resume/);
  });
  it('gives the reason of a rollback', () => {
    expect(describeNext({ stage: 'rolled-back', paused: false, rollbackReason: 'cutover rejected by bob' })).toBe('rolled back: cutover rejected by bob');
  });
  it('names what a rollback left as someone else changed it', () => {
    expect(describeNext({ stage: 'rolled-back', paused: false, rollbackReason: 'cutover rejected by bob', leftAsFound: ['projects/p/locations/global/keys/k'] })).toBe(
      'rolled back: cutover rejected by bob; left as found, because someone else changed it: projects/p/locations/global/keys/k (decide its state by hand)',
    );
  });
});
