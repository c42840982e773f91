// The sample headless jobs of the demo estate: what each one asks Gemini, with which key, and
// whether it calls through the route-aware client (migrated) or straight with its key (legacy).

/** One sample job. */
export interface SamplePipeline {
  name: string;
  /** The key the job reads from its secret store, by resource name. */
  apiKey: string;
  model: string;
  /** False for a job nobody migrates: it calls the Gemini API with the key directly. */
  followsRoute: boolean;
  /** The request of run `n` (varied so runs are not identical). */
  prompt(n: number): { contents: string; config?: { responseMimeType?: string; temperature?: number } };
}

const key = (id: string) => `projects/demo-project/locations/global/keys/${id}`;

export const SAMPLE_PIPELINES: SamplePipeline[] = [
  {
    name: 'nightly-summarizer',
    apiKey: key('nightly-summarizer'),
    model: 'gemini-2.5-flash',
    followsRoute: true,
    prompt: (n) => ({ contents: `Summarise in one sentence: ticket batch ${n}, the printer on floor 3 jams every morning.` }),
  },
  {
    name: 'ticket-triage',
    apiKey: key('ticket-triage'),
    model: 'gemini-2.5-flash-lite',
    followsRoute: true,
    prompt: (n) => ({
      contents: `Label ticket #${1000 + n} as billing, bug or question: I was charged twice this month.`,
      config: { responseMimeType: 'application/json', temperature: 0 },
    }),
  },
  {
    name: 'report-digest',
    apiKey: key('report-digest'),
    model: 'gemini-2.5-flash',
    followsRoute: true,
    prompt: (n) => ({ contents: `Digest in two sentences: week ${n}, revenue grew 4 percent, churn fell.` }),
  },
  {
    name: 'legacy-exporter',
    apiKey: key('report-digest'),
    model: 'gemini-2.5-flash',
    followsRoute: false,
    prompt: (n) => ({ contents: `Rewrite export row ${n} as one plain sentence: region=emea, units=42.` }),
  },
];

export function samplePipeline(name: string): SamplePipeline {
  const found = SAMPLE_PIPELINES.find((p) => p.name === name);
  if (!found) throw new Error(`no sample pipeline ${name} (known: ${SAMPLE_PIPELINES.map((p) => p.name).join(', ')})`);
  return found;
}
