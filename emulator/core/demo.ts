// The built-in `demo` estate: project demo-project with a few headless pipelines' keys, the
// orchestrator's own service account, and models that differ between locations.
//
// nightly-summarizer  unrestricted key (block candidate), gemini-2.5-flash in global: migrates cleanly.
// ticket-triage       restricted key, gemini-2.5-flash-lite in europe-west4, which Vertex does not serve there.
// report-digest       unrestricted key shared with legacy-exporter, a job nobody migrates.
// feedback-tagger     restricted key of a Python job run through `keyless exec`; its runtime already
//                     runs as its own service account (attached, no roles yet), which the migration adopts.

import { demoBuckets, demoModels } from '../model/fixture';
import { parseFixture, type Fixture, type FixtureInput } from './fixture';

export const DEMO_PROJECT = 'demo-project';
export const DEMO_PROJECT_NUMBER = '480213697513';
export const DEMO_ORCHESTRATOR = `keyless@${DEMO_PROJECT}.iam.gserviceaccount.com`;
/** Annotation naming the pipelines that use a key (comma-separated when shared). */
export const PIPELINE_ANNOTATION = 'keyless.dev/pipeline';

/** The roles the orchestrator needs; also the README's list. */
export const ORCHESTRATOR_ROLES = [
  'roles/serviceusage.apiKeysAdmin',
  'roles/iam.serviceAccountAdmin',
  'roles/resourcemanager.projectIamAdmin',
  'roles/iam.serviceAccountTokenCreator',
  'roles/monitoring.viewer',
  'roles/storage.objectAdmin',
  // Federated runtimes: the project's workload identity pool and the pipelines' providers.
  'roles/iam.workloadIdentityPoolAdmin',
  // Google Cloud runtimes: the account a Cloud Run job runs as.
  'roles/run.viewer',
] as const;

const DAY_MS = 86_400_000;

export interface DemoOptions {
  /** When every standard key is rejected. Default: 90 days after `now`, so canaries have a healthy baseline. */
  standardKeysRejectedFrom?: Date | string;
  /** Both retirements already past: migrations repair pipelines that are down. */
  bothRetirementsPast?: boolean;
  /** The clock the relative default is computed from. */
  now?: Date;
  /** Seconds a new IAM binding takes to take effect (default 5, short enough for a live demo). */
  iamPropagationDelaySeconds?: number;
}

/** The demo fixture document, before validation. */
export function demoFixtureInput(options: DemoOptions = {}): FixtureInput {
  const now = options.now ?? new Date();
  const standardKeysRejectedFrom = options.bothRetirementsPast
    ? new Date(Math.min(Date.parse('2026-09-01T00:00:00Z'), now.getTime() - DAY_MS))
    : new Date(options.standardKeysRejectedFrom ?? new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS + 90 * DAY_MS));
  return {
    projects: [
      {
        id: DEMO_PROJECT,
        number: DEMO_PROJECT_NUMBER,
        iamPolicy: { bindings: [{ role: 'roles/owner', members: ['user:operator@example.com'] }] },
      },
    ],
    serviceAccounts: [
      {
        project: DEMO_PROJECT,
        accountId: 'keyless',
        displayName: 'keyless orchestrator',
        description: 'Runs the keyless worker: migrates pipelines off API keys.',
        uniqueId: '104683235001728811001',
        roles: [...ORCHESTRATOR_ROLES],
        attachable: true,
        downloadableKey: true,
      },
      {
        project: DEMO_PROJECT,
        accountId: 'ci-deployer',
        displayName: 'CI deployer',
        description: 'Deploys the pipelines; not part of any migration.',
        uniqueId: '104683235001728811002',
        roles: ['roles/viewer'],
        downloadableKey: true,
      },
      {
        project: DEMO_PROJECT,
        accountId: 'feedback-tagger',
        displayName: 'feedback tagger runtime',
        description: "The account the feedback-tagger job's runtime is attached to (its ADC).",
        uniqueId: '104683235001728811003',
        attachable: true,
      },
    ],
    keys: [
      {
        project: DEMO_PROJECT,
        keyId: 'nightly-summarizer',
        displayName: 'nightly summarizer (cron)',
        annotations: { [PIPELINE_ANNOTATION]: 'nightly-summarizer' },
        createTime: '2025-02-11T09:14:02Z',
      },
      {
        project: DEMO_PROJECT,
        keyId: 'ticket-triage',
        displayName: 'ticket triage (CI)',
        annotations: { [PIPELINE_ANNOTATION]: 'ticket-triage' },
        restrictions: { apiTargets: [{ service: 'generativelanguage.googleapis.com' }] },
        createTime: '2025-05-30T16:40:27Z',
      },
      {
        project: DEMO_PROJECT,
        keyId: 'report-digest',
        displayName: 'report digest + legacy exporter',
        annotations: { [PIPELINE_ANNOTATION]: 'report-digest,legacy-exporter' },
        createTime: '2024-11-03T07:02:55Z',
      },
      {
        project: DEMO_PROJECT,
        keyId: 'feedback-tagger',
        displayName: 'feedback tagger (Python cron)',
        annotations: { [PIPELINE_ANNOTATION]: 'feedback-tagger' },
        restrictions: { apiTargets: [{ service: 'generativelanguage.googleapis.com' }] },
        createTime: '2025-08-04T06:30:00Z',
      },
      {
        project: DEMO_PROJECT,
        keyId: 'website-maps',
        displayName: 'website maps widget',
        restrictions: {
          browserKeyRestrictions: { allowedReferrers: ['https://www.example.com/*'] },
          apiTargets: [{ service: 'maps-backend.googleapis.com' }],
        },
        createTime: '2023-08-19T12:00:00Z',
      },
    ],
    retirement: {
      unrestrictedKeysRejectedFrom: '2026-06-19T00:00:00Z',
      standardKeysRejectedFrom: standardKeysRejectedFrom.toISOString(),
    },
    iamPropagationDelaySeconds: options.iamPropagationDelaySeconds ?? 5,
    models: demoModels,
    buckets: demoBuckets,
  };
}

/** The validated demo fixture. */
export function demoFixture(options: DemoOptions = {}): Fixture {
  return parseFixture(demoFixtureInput(options), 'demo');
}
