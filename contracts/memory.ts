// What a migration carries across continue-as-new, as a strict schema. The workflow's second
// argument is accepted only from an earlier run of the same workflow and only in this shape:
// started by hand with a forged one (a rollback record, `accountCreated` and someone else's account
// email), it deleted an account keyless never made. Every object of state is strict (a field this
// file does not know is refused); activities' reports inside it are stripped of such fields.

import { z } from 'zod';
import { STAGES, OFF_PATH_STAGES, APPROVAL_STAGES } from './stages';
import { ErrorType } from './errors';

const text = (max = 2_000) => z.string().max(max);
const iso = z.string().min(1).max(64);
const count = z.number().int().nonnegative();
const rate = z.number().min(0).max(1);
// Reports that activities wrote (traffic, probe, dual-run) are checked field by field but not
// strict: a field added to a report must not make a legitimate continue-as-new fail; unknown
// fields are dropped, never carried.
const report = z.object;

export const StageSchema = z.enum([...STAGES, ...OFF_PATH_STAGES]);
const ApprovalStageSchema = z.enum(APPROVAL_STAGES);
const ErrorTypeSchema = z.enum(Object.values(ErrorType) as [ErrorType, ...ErrorType[]]);

/** Every kind of change keyless records (contracts/status.ts Mutation['kind']). */
export const MUTATION_KINDS = [
  'route-published',
  'account-created',
  'role-granted',
  'token-creator-granted',
  'workload-identity-pool-created',
  'workload-identity-provider-created',
  'workload-identity-user-granted',
  'key-restricted',
  'key-deleted',
  'key-restored',
  'key-undeleted',
  'account-deleted',
  'role-removed',
  'token-creator-removed',
  'workload-identity-pool-deleted',
  'workload-identity-provider-deleted',
  'workload-identity-user-removed',
] as const;
const MutationKindSchema = z.enum(MUTATION_KINDS);

const VerdictSchema = z.enum(['healthy', 'breach', 'too-few-requests']);
const StepEvidenceShape = {
  step: count,
  percent: z.number().int().min(0).max(100),
  vertexRequests: count,
  minRequests: count,
  bakedMs: z.number().nonnegative(),
  verdict: VerdictSchema.optional(),
};
const StepEvidenceSchema = z.strictObject(StepEvidenceShape);
export const MutationSchema = z.strictObject({
  kind: MutationKindSchema,
  target: text(),
  detail: text(),
  at: iso,
  approvedBy: text(200).optional(),
  undoId: text(500).optional(),
  undoneAt: iso.optional(),
});

export const DecisionSchema = z.strictObject({
  action: z.enum(['approve', 'reject', 'pause', 'resume', 'promote', 'rollback']),
  stage: text(64).optional(),
  by: text(200),
  note: text().optional(),
  at: iso,
  verified: z.boolean().optional(),
  ignored: text(500).optional(),
  accepted: StepEvidenceSchema.optional(),
});

export const ApprovalReceiptSchema = z.strictObject({
  stage: ApprovalStageSchema,
  decision: z.enum(['approved', 'rejected']),
  by: text(200),
  at: iso,
  verified: z.boolean().optional(),
});

const RestrictionsSchema = z.strictObject({
  browserKeyRestrictions: z.strictObject({ allowedReferrers: z.array(text(500)).optional() }).optional(),
  serverKeyRestrictions: z.strictObject({ allowedIps: z.array(text(100)).optional() }).optional(),
  androidKeyRestrictions: z.strictObject({ allowedApplications: z.array(z.strictObject({ sha1Fingerprint: text(200).optional(), packageName: text(300).optional() })).optional() }).optional(),
  iosKeyRestrictions: z.strictObject({ allowedBundleIds: z.array(text(300)).optional() }).optional(),
  apiTargets: z.array(z.strictObject({ service: text(300).optional(), methods: z.array(text(300)).optional() })).optional(),
});

export const KeySnapshotSchema = z.strictObject({
  name: text(300),
  restrictions: RestrictionsSchema,
  annotations: z.record(z.string(), text()),
  displayName: text(300),
  etag: text(200),
  updateTime: text(64),
});

const MethodTrafficSchema = report({ method: text(300), responseCode: text(64), requests: count });
const LatencyHistogramSchema = report({
  count,
  meanMs: z.number().nonnegative(),
  buckets: z.array(report({ lowerMs: z.number().nonnegative(), upperMs: z.number().nullable(), count })).max(1_000),
});
const CredentialTrafficSchema = report({ requests: count, errors: count, errorRate: rate, byMethod: z.array(MethodTrafficSchema), latency: LatencyHistogramSchema.optional() });
const TrafficReportSchema = report({ key: CredentialTrafficSchema, vertex: CredentialTrafficSchema, windowStart: iso, windowEnd: iso });
const SoakTrafficSchema = report({ keyRequests: count, byMethod: z.array(MethodTrafficSchema), vertexRequests: count.optional() });
const ProbeReportSchema = report({
  results: z.array(report({ model: text(200), ok: z.boolean(), modelVersion: text(200), latencyMs: z.number().nonnegative(), finishReason: text(100) })),
});

const SideOutcomeSchema = report({
  success: z.boolean(),
  httpStatus: z.number().int().optional(),
  status: text(100).optional(),
  reason: text(200).optional(),
  message: text().optional(),
  skipped: z.boolean().optional(),
  finishReason: text(100).optional(),
  promptTokens: z.number().optional(),
  outputTokens: z.number().optional(),
  latencyMs: z.number().nonnegative(),
  modelVersion: text(200).optional(),
  jsonValid: z.boolean().optional(),
});
const LatencySummarySchema = report({ count, p50Ms: z.number(), p95Ms: z.number() });
const DualRunReportSchema = report({
  mode: z.enum(['compare', 'repair']),
  passed: z.boolean(),
  breaches: z.array(text()),
  summary: report({
    total: count,
    keySuccessRate: rate,
    vertexSuccessRate: rate,
    compared: count,
    meanSimilarity: z.number().nullable(),
    minSimilarity: z.number().nullable(),
    finishReasonMismatches: count,
    promptTokenMismatches: count,
    jsonValidity: report({ samples: count, keyRate: z.number().nullable(), vertexRate: z.number().nullable(), vertexOnlyInvalid: count }),
    latency: report({ key: LatencySummarySchema.nullable(), vertex: LatencySummarySchema.nullable(), p50Ratio: z.number().nullable(), p95Ratio: z.number().nullable() }),
    modelVersions: z.array(report({ model: text(200), key: z.array(text(200)), vertex: z.array(text(200)), drift: z.boolean() })),
    expectationMisses: count,
  }),
  samples: z.array(
    report({
      model: text(200),
      prompt: count,
      sample: count,
      key: SideOutcomeSchema,
      vertex: SideOutcomeSchema,
      similarity: z.number().optional(),
      finishReasonMatch: z.boolean().optional(),
      promptTokensMatch: z.boolean().optional(),
      missingWords: z.array(text(200)).optional(),
    }),
  ),
  thresholds: report({ minSuccessRate: rate, minSimilarity: rate, maxLatencyRatio: z.number().positive(), allowModelVersionDrift: z.boolean() }),
  similarityMeasure: text(),
  prompts: z.array(text(20_000)),
});

const LeftAsFoundSchema = z.strictObject({ target: text(300), changedFields: z.array(text(100)), reason: text(), advice: text(4_000), at: iso });

const WorkloadIdentityProbeSchema = report({
  verified: z.enum(['chain', 'configuration']),
  checks: z.array(report({ check: text(200), ok: z.boolean(), detail: text() })),
});

export const MigrationFactsSchema = z.strictObject({
  keyUid: text(200).optional(),
  keySnapshot: KeySnapshotSchema.optional(),
  keyEtag: text(200).optional(),
  sharedWith: z.array(text(100)).optional(),
  serviceAccountEmail: text(200).optional(),
  serviceAccountUniqueId: text(100).optional(),
  accountCreated: z.boolean().optional(),
  roleAdded: z.boolean().optional(),
  roleGrantedAt: iso.optional(),
  tokenCreatorAdded: z.boolean().optional(),
  dualRun: DualRunReportSchema.optional(),
  probe: ProbeReportSchema.optional(),
  soak: SoakTrafficSchema.optional(),
  soakPassed: z.boolean().optional(),
  keyDeleted: z.boolean().optional(),
  blockCandidate: z.boolean().optional(),
  trafficAnchor: iso.optional(),
  stepBaseline: TrafficReportSchema.optional(),
  keyBeforeCanary: CredentialTrafficSchema.optional(),
  soakWindow: z.strictObject({ baseline: TrafficReportSchema, since: iso, quietUntil: iso }).optional(),
  watchBaseline: TrafficReportSchema.optional(),
  approvalSince: z.strictObject({ cutover: iso.optional(), finalize: iso.optional() }).optional(),
  leftAsFound: z.array(LeftAsFoundSchema).optional(),
  projectNumber: text(30).optional(),
  runtimeAccount: z.strictObject({ email: text(200), source: z.enum(['spec', 'cloud-run-job']), computeDefault: z.boolean() }).optional(),
  workloadIdentity: z.strictObject({ pool: text(300), provider: text(300), member: text(500), attributeCondition: text(4_000) }).optional(),
  workloadIdentityGrantedAt: iso.optional(),
  runtimeProbe: WorkloadIdentityProbeSchema.optional(),
});

const CanaryTrafficSchema = z.strictObject({ requests: count, errors: count, errorRate: rate });
const BaselineSourceSchema = z.enum(['key-this-step', 'key-whole-canary', 'key-before-canary', 'none']);
const ResponseClassesSchema = z.strictObject({ ok: count, identity: count, quota: count, server: count, notFound: count, other: count });
const LatencySummarySchemaOfAnalysis = z.strictObject({ count, p50Ms: z.number().nullable(), p95Ms: z.number().nullable() });
export const CanaryAnalysisSchema = z.strictObject({
  step: count,
  percent: z.number().int().min(0).max(100),
  at: iso,
  key: CanaryTrafficSchema,
  vertex: CanaryTrafficSchema,
  delta: z.number(),
  baseline: z.strictObject({ source: BaselineSourceSchema, errorRate: rate, requests: count }).optional(),
  allowedDelta: z.number().optional(),
  verdict: VerdictSchema,
  phase: z.enum(['bake', 'evidence-wait', 'approve-finalize', 'shared-key-wait']).optional(),
  breach: z.enum(['identity', 'error-rate', 'quota', 'latency']).optional(),
  classes: z.strictObject({ key: ResponseClassesSchema, vertex: ResponseClassesSchema }).optional(),
  quota: z.strictObject({ vertexRate: rate, baselineRate: rate, allowedDelta: z.number() }).optional(),
  latency: z
    .strictObject({
      vertex: LatencySummarySchemaOfAnalysis,
      baseline: LatencySummarySchemaOfAnalysis.extend({ source: BaselineSourceSchema }).strict(),
      ratio: z.number().nullable(),
      maxRatio: z.number(),
      z: z.number().nullable(),
      verdict: VerdictSchema,
    })
    .optional(),
  minRequests: count.optional(),
  historyLength: count.optional(),
});

export const CanaryStepRecordSchema = z.strictObject({
  ...StepEvidenceShape,
  startedAt: iso,
  endedAt: iso.optional(),
  advancedBy: z.enum(['evidence', 'promote', 'repair', 'time']).optional(),
  by: text(200).optional(),
  evidenceWaitSince: iso.optional(),
});

export const RollbackRecordSchema = z.strictObject({ reason: text(4_000), failureType: ErrorTypeSchema.optional(), by: text(200).optional(), at: iso });

const ApprovalRefusalSchema = z.strictObject({
  action: z.enum(['approve', 'reject', 'promote']),
  stage: text(64),
  by: text(200),
  at: iso,
  reason: text(),
});
export const ApprovalRefusalsSchema = z.strictObject({ total: count, recent: z.array(ApprovalRefusalSchema).max(100) });

const RouteInputSchema = z.strictObject({
  pipeline: text(100),
  generation: count,
  vertexPercent: z.number().int().min(0).max(100),
  project: text(100),
  location: text(500),
  serviceAccount: text(200),
  updatedAt: iso,
});

/** One undo per compensation activity, with that activity's input (contracts/undo.ts). */
const undo = <A extends string, I extends z.ZodType>(activity: A, input: I) => z.strictObject({ id: text(500), activity: z.literal(activity), input, doneAt: iso.optional() });
export const UndoSchema = z.discriminatedUnion('activity', [
  undo('undoKeyChanges', z.strictObject({ apiKey: text(300), snapshot: KeySnapshotSchema, expectedEtag: text(200), deleted: z.boolean() })),
  undo('removeVertexRole', z.strictObject({ project: text(100), member: text(300) })),
  undo('removeTokenCreator', z.strictObject({ serviceAccountEmail: text(200), orchestratorEmail: text(200).optional() })),
  undo('deleteServiceAccount', z.strictObject({ email: text(200) })),
  undo('deleteWorkloadIdentityProvider', z.strictObject({ name: text(500) })),
  undo('deleteWorkloadIdentityPool', z.strictObject({ name: text(500) })),
  undo('removeWorkloadIdentityUser', z.strictObject({ serviceAccountEmail: text(200), member: text(500) })),
  undo('publishRouteToKey', z.strictObject({ store: text(1_000), route: RouteInputSchema, path: z.enum(['project', 'legacy']).optional() })),
]);

/** A Google ID token already used on this workflow: its hash and when it expires (kept until then). */
export const UsedTokenSchema = z.strictObject({ hash: z.string().regex(/^[0-9a-f]{64}$/), exp: z.number().int() });

export const MigrationMemorySchema = z.strictObject({
  stage: StageSchema,
  repair: z.boolean(),
  mutations: z.array(MutationSchema).max(10_000),
  decisions: z.array(DecisionSchema).max(10_000),
  approvals: z.array(ApprovalReceiptSchema).max(APPROVAL_STAGES.length),
  facts: MigrationFactsSchema,
  canaryStep: count,
  bakeRemainingMs: z.number().optional(),
  routeGeneration: count,
  vertexPercent: z.number().int().min(0).max(100),
  analyses: z.array(CanaryAnalysisSchema).max(100_000),
  rollback: RollbackRecordSchema.optional(),
  refusals: ApprovalRefusalsSchema.optional(),
  undos: z.array(UndoSchema).max(1_000).optional(),
  warnings: z.array(text()).max(100).optional(),
  canarySteps: z.array(CanaryStepRecordSchema).max(1_000).optional(),
  analysesOmitted: count.optional(),
  promoteRequested: z.boolean().optional(),
  usedTokens: z.array(UsedTokenSchema).max(1_000).optional(),
});
export type MigrationMemoryInput = z.input<typeof MigrationMemorySchema>;

/** Where a memory's contents could not belong to the spec's pipeline (a forged or mixed-up memory). */
export function memoryProblems(memory: z.output<typeof MigrationMemorySchema>, spec: { pipeline: string; apiKey: string; accountEmail?: string }): string[] {
  const problems: string[] = [];
  const keyId = spec.apiKey.split('/').pop();
  const sameKey = (name: string) => name.split('/').pop() === keyId;
  const account = spec.accountEmail;
  if (account && memory.facts.serviceAccountEmail && memory.facts.serviceAccountEmail !== account) {
    problems.push(`facts.serviceAccountEmail is ${memory.facts.serviceAccountEmail}, not the spec's account ${account}`);
  }
  if (memory.facts.keySnapshot && !sameKey(memory.facts.keySnapshot.name)) problems.push(`facts.keySnapshot is of ${memory.facts.keySnapshot.name}, not the spec's key ${spec.apiKey}`);
  (memory.undos ?? []).forEach((u, i) => {
    const where = `undos[${i}] (${u.activity})`;
    if (u.activity === 'undoKeyChanges' && (u.input.apiKey !== spec.apiKey || !sameKey(u.input.snapshot.name))) problems.push(`${where} names another key`);
    if (u.activity === 'publishRouteToKey' && u.input.route.pipeline !== spec.pipeline) problems.push(`${where} is another pipeline's route`);
    if (account && u.activity === 'deleteServiceAccount' && u.input.email !== account) problems.push(`${where} would delete ${u.input.email}, not the spec's account`);
    if (account && (u.activity === 'removeTokenCreator' || u.activity === 'removeWorkloadIdentityUser') && u.input.serviceAccountEmail !== account) problems.push(`${where} names another account`);
    if (account && u.activity === 'removeVertexRole' && u.input.member !== `serviceAccount:${account}`) problems.push(`${where} names another member`);
  });
  return problems;
}
