// A fleet migration: many pipelines moved in waves by one parent workflow, each pipeline as a
// child migratePipeline. The spec's pipelines are validated one by one, with their index in the path.

import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import { IdTokenSchema } from './identity';
import { AcceptedPipelineSpecSchema, PipelineSpecSchema } from './spec';
import type { Outcome } from './stages';

/** Largest fleet one workflow takes: its input must stay well below Temporal's 2 MB payload limit. */
export const MAX_FLEET_PIPELINES = 2_000;

const fleetSchema = (member: typeof AcceptedPipelineSpecSchema) =>
  z
    .strictObject({
      fleet: z.string().regex(/^[a-z][a-z0-9-]{0,61}[a-z0-9]$/, 'fleet must be 2-63 characters: lowercase letters, digits and hyphens'),
      /** Pipelines per wave; a wave starts only when the previous one has finished. */
      waveSize: z.number().int().min(1).max(MAX_FLEET_PIPELINES).default(10),
      /** Child migrations running at once, within a wave. */
      concurrency: z.number().int().min(1).max(500).default(10),
      /** One operator approval per wave replaces every pipeline's own cutover and finalize approvals. */
      approvalPerWave: z.boolean().default(false),
      /** Halt (no new waves) once this share of a wave has rolled back. */
      haltAtFailureRatio: z.number().min(0).max(1).default(0.2),
      /** On halt, let the wave's running migrations finish, or roll them back. */
      onHalt: z.enum(['continue', 'rollback']).default('continue'),
      approvers: z.array(z.string().min(1).max(200)).min(1).max(100).optional(),
      /** As a pipeline's approvals.verify: google-id-token (default with approvers) or none. */
      verify: z.enum(['google-id-token', 'none'], { message: 'verify must be google-id-token or none' }).optional(),
      pipelines: z.array(member).min(1).max(MAX_FLEET_PIPELINES),
    })
    .superRefine((fleet, ctx) => {
      const seen = new Set<string>();
      fleet.pipelines.forEach((p, i) => {
        const id = `${p.project}/${p.pipeline}`;
        if (seen.has(id)) ctx.addIssue({ code: 'custom', path: ['pipelines', i, 'pipeline'], message: `${id} appears twice in the fleet` });
        seen.add(id);
      });
    });

/** A fleet spec by every rule, its pipelines' duration limits included: what a new fleet must satisfy. */
export const FleetSpecSchema = fleetSchema(PipelineSpecSchema);
/** A fleet spec as a running fleet was accepted before the duration limits (the workflow applies them to new fleets only). */
export const AcceptedFleetSpecSchema = fleetSchema(AcceptedPipelineSpecSchema);

export type FleetSpecInput = z.input<typeof FleetSpecSchema>;
export type FleetSpec = z.output<typeof FleetSpecSchema>;

/** Workflow type and id of a fleet migration. */
export const MIGRATE_FLEET_WORKFLOW = 'migrateFleet';
export function fleetWorkflowId(fleet: string): string {
  return `keyless-fleet/${fleet}`;
}

/** How a fleet's wave approvals are proved: its verify, else google-id-token when it names approvers. */
export function fleetVerify(spec: Pick<FleetSpec, 'verify' | 'approvers'>): 'google-id-token' | 'none' {
  return spec.verify ?? (spec.approvers ? 'google-id-token' : 'none');
}

/** Payload of the approveWave update (waves are numbered from 1): `{wave, idToken}` verified, `{wave, by}` not. */
export const WaveApprovalSchema = z
  .strictObject({
    wave: z.number().int().min(1),
    by: z.string().trim().min(1, 'by must name who acts').max(200).optional(),
    idToken: IdTokenSchema.optional(),
    note: z.string().max(2_000).optional(),
  })
  .refine((a) => !(a.by !== undefined && a.idToken !== undefined), { path: ['by'], message: 'by is taken from idToken: give one or the other, not both' })
  .refine((a) => a.by !== undefined || a.idToken !== undefined, { path: ['by'], message: 'by must name who acts, or idToken must prove it' });
export type WaveApproval = z.infer<typeof WaveApprovalSchema>;

/** What approveWave answers: who approved, whether a token proved it, and the pipelines it could not approve. */
export interface WaveReceipt {
  wave: number;
  by: string;
  at: string;
  verified?: boolean;
  /** Pipelines of the wave whose own approvers do not include the approver (or need a verified one): they keep their own approvals. */
  refusedFor?: string[];
}

/** A wave approval handed to a child migration: the approvals it stands for, with who gave them. */
export interface WaveGrant {
  fleet: string;
  wave: number;
  by: string;
  at: string;
  verified: boolean;
}

/** One pipeline of the fleet, as the parent sees it. */
export interface FleetMember {
  pipeline: string;
  project: string;
  wave: number;
  state: 'waiting' | 'running' | Outcome | 'not-started' | 'failed-to-start';
  reason?: string;
}

/** What a fleet waits for: compare its kind; the sentence is describeFleetWait's. */
export type FleetWait = { kind: 'wave-approval'; wave: number };

export function describeFleetWait(wait: FleetWait): string {
  return `approveWave(wave: ${wait.wave})`;
}

export interface FleetStatus {
  fleet: string;
  wave: number;
  waves: number;
  wait?: FleetWait;
  /** The wait as one line (describeFleetWait), for people. */
  waitingFor?: string;
  halted?: { wave: number; failures: number; size: number; at: string };
  counts: Record<FleetMember['state'], number>;
  members: FleetMember[];
  /** approveWave attempts from outside `approvers`: refused, and kept here (the last 20, and a count). */
  refusals?: { total: number; recent: WaveApprovalRefusal[] };
}

/** An approveWave the fleet took in but would not act on (for the whole wave, or for `pipeline` only). */
export interface WaveApprovalRefusal {
  wave: number;
  pipeline?: string;
  by: string;
  at: string;
  reason: string;
}

export const approveWaveUpdate = defineUpdate<WaveReceipt, [WaveApproval]>('approveWave');
export const fleetStatusQuery = defineQuery<FleetStatus>('fleetStatus');

export const FLEET_MESSAGE_DESCRIPTIONS = {
  approveWave:
    'Approve the next wave of the fleet: {"wave":2,"idToken":"<Google ID token>","note":"…"} where approvals are verified (the approver is whoever the token proves; each pipeline\'s own approvers must include them), {"wave":2,"by":"you@example.com"} where not',
  fleetStatus: 'Counts of the fleet by state, the current wave, what the fleet waits for, and each pipeline',
  rollback: 'Halt the fleet: start no new wave and roll back the migrations of the running wave: {"by":"…","reason":"…"}',
} as const;
