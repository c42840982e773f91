// Failures for tests: the ApplicationFailure an activity call threw, the KeylessError a library call threw, and the emulator's injected
// faults (set, cleared and counted per surface).

import { ApplicationFailure } from '@temporalio/common';
import { expect } from 'vitest';
import { isKeylessError, type KeylessError } from '../../contracts/errors';
import type { z } from 'zod';
import type { EmulatorCore } from '../../emulator/core/core';
import { SURFACES, type SurfaceFaultSchema } from '../../emulator/core/fixture';

/** The ApplicationFailure an activity call threw; fails the test when it threw something else. */
export async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

/** The KeylessError a library call (google/, route-store/) threw; fails the test when it threw something else. */
export async function libraryErrorOf(promise: Promise<unknown>): Promise<KeylessError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isKeylessError(err), `expected a KeylessError, got ${String(err)}`).toBe(true);
  return err as KeylessError;
}

/** The emulator's Google surfaces (everything but its own admin API). */
export const CLOUD_SURFACES = SURFACES;
export type CloudSurface = (typeof SURFACES)[number];

/** A surface's faults as `PUT /admin/v1/faults/<surface>` takes them. */
export type FaultInput = z.input<typeof SurfaceFaultSchema>;

/** Sets the same faults on each surface (replacing what it had). */
export async function setFaults(baseUrl: string, surfaces: readonly CloudSurface[], fault: FaultInput): Promise<void> {
  for (const surface of surfaces) {
    const response = await fetch(`${baseUrl}/admin/v1/faults/${surface}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fault) });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`faults on ${surface}: HTTP ${response.status}`);
  }
}

/** Removes every fault on every surface. */
export async function clearFaults(baseUrl: string): Promise<void> {
  const response = await fetch(`${baseUrl}/admin/v1/faults`, { method: 'DELETE' });
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`clearing faults: HTTP ${response.status}`);
}

/** Calls the emulator served and faults it injected, per surface, since `watchTraffic` began. */
export interface TrafficTally {
  calls: Partial<Record<CloudSurface, number>>;
  faults: Partial<Record<CloudSurface, Record<string, number>>>;
  totalCalls: number;
  totalFaults: number;
}

/**
 * Counts what an in-process emulator serves: every routed Google call asks the core for its added
 * latency once, and for its injected fault once. Read-only instrumentation of our own emulator;
 * `stop()` puts the core's methods back.
 */
export function watchTraffic(core: EmulatorCore): { tally(): TrafficTally; stop(): void } {
  const calls: TrafficTally['calls'] = {};
  const faults: TrafficTally['faults'] = {};
  const latency = core.addedLatencyMs;
  const injected = core.injectedFault;
  core.addedLatencyMs = function (surface) {
    calls[surface as CloudSurface] = (calls[surface as CloudSurface] ?? 0) + 1;
    return latency.call(this, surface);
  };
  core.injectedFault = function (surface) {
    const fault = injected.call(this, surface);
    if (fault) {
      const bySurface = (faults[surface as CloudSurface] ??= {});
      const status = String(fault.status ?? 500);
      bySurface[status] = (bySurface[status] ?? 0) + 1;
    }
    return fault;
  };
  return {
    tally() {
      const totalCalls = Object.values(calls).reduce((a, b) => a + b, 0);
      const totalFaults = Object.values(faults).reduce((a, byStatus) => a + Object.values(byStatus).reduce((x, y) => x + y, 0), 0);
      return { calls: { ...calls }, faults: structuredClone(faults), totalCalls, totalFaults };
    },
    stop() {
      core.addedLatencyMs = latency;
      core.injectedFault = injected;
    },
  };
}
