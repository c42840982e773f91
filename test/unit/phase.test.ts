import { describe, expect, it } from 'vitest';
import { describeNext } from '../../workflows/phase';

describe('describeNext', () => {
  it('says what an approval waits for', () => {
    expect(describeNext({ stage: 'approve-cutover', paused: false, waitingFor: 'approve(stage: cutover)' })).toBe('waiting for approve(stage: cutover)');
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
