import { describe, expect, it } from 'vitest';
import { renderFleetStatus } from '../../client/fleets';
import type { FleetStatus } from '../../contracts/fleet';

const base: FleetStatus = {
  fleet: 'nightly',
  wave: 1,
  waves: 2,
  waitingFor: 'approveWave(wave: 1)',
  counts: { waiting: 2, running: 0, completed: 0, 'rolled-back': 0, held: 0, 'not-started': 0, 'failed-to-start': 0 },
  members: [
    { pipeline: 'a', project: 'p', wave: 1, state: 'waiting' },
    { pipeline: 'b', project: 'p', wave: 2, state: 'waiting' },
  ],
};

describe('renderFleetStatus', () => {
  it('shows counts and pipelines, and no refusal section when nobody was refused', () => {
    const text = renderFleetStatus(base);
    expect(text.split('\n')[0]).toBe('fleet nightly: wave 1/2, waiting for approveWave(wave: 1): 2 waiting');
    expect(text).not.toContain('refused');
  });

  it('lists refused wave approvals with who, which wave and why', () => {
    const text = renderFleetStatus({
      ...base,
      refusals: { total: 21, recent: [{ wave: 1, by: 'mallory@example.com', at: '2026-11-28T10:00:00.000Z', reason: 'mallory@example.com is not in approvers for fleet nightly' }] },
    });
    expect(text).toContain('refused wave approvals: 21 (the last 1 below)');
    expect(text).toContain('wave 1  mallory@example.com: mallory@example.com is not in approvers for fleet nightly');
  });
});
