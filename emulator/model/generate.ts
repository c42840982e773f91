// The emulator's deterministic "model": text derived from the model version, the prompt, the system
// instruction and the generation config, so two identical deterministic requests (temperature 0 or
// a seed) always get identical answers, and the Gemini API and Vertex answer the same request with
// a configurable share of words changed. It is cheap by design: the benchmark target is ≥1,500
// generateContent requests/s on two cores, so no allocation-heavy work per request.

import { randomBytes } from 'node:crypto';

/** A request the model cannot process; surfaces answer it with 400 INVALID_ARGUMENT. */
export class ModelInputError extends Error {}

/** What the model needs to answer one generateContent request. */
export interface GenerateInput {
  /** The request body in the Gemini/Vertex JSON shape. */
  body: unknown;
  /** The resolved model version; it seeds the text, so an alias resolving differently answers differently. */
  modelVersion: string;
  /** 'vertex' answers with the configured share of words changed. */
  endpoint: 'gemini' | 'vertex';
  /** Share of words changed on Vertex, 0–1. */
  divergence: number;
}

export interface Candidate {
  content: { role: 'model'; parts: { text: string }[] };
  finishReason: 'STOP' | 'MAX_TOKENS';
  index: number;
}

export interface UsageMetadata {
  promptTokenCount: number;
  candidatesTokenCount: number;
  totalTokenCount: number;
  promptTokensDetails: { modality: 'TEXT'; tokenCount: number }[];
}

/** The generateContent response body (Vertex adds `createTime`). */
export interface GenerateResponse {
  candidates: Candidate[];
  usageMetadata: UsageMetadata;
  modelVersion: string;
  responseId: string;
  createTime?: string;
}

interface Part {
  text?: unknown;
  inlineData?: unknown;
  fileData?: unknown;
}
interface Content {
  role?: unknown;
  parts?: unknown;
}
interface GenerationConfig {
  temperature?: unknown;
  seed?: unknown;
  maxOutputTokens?: unknown;
  candidateCount?: unknown;
  stopSequences?: unknown;
  responseMimeType?: unknown;
  responseSchema?: unknown;
  responseJsonSchema?: unknown;
  response_json_schema?: unknown;
}

/** Tokens Google bills for one image or other inline media part. */
const MEDIA_PART_TOKENS = 258;

/** ≈ chars / 4, as Google's tokenizers average on English text; never 0 for non-empty text. */
export function tokensForText(chars: number): number {
  return chars === 0 ? 0 : Math.ceil(chars / 4);
}

/** The prompt's text and token count: every part of every content plus the system instruction. */
export function readPrompt(body: unknown): { text: string; system: string; tokens: number } {
  if (body === null || typeof body !== 'object') throw new ModelInputError('Invalid JSON payload received.');
  const b = body as { contents?: unknown; systemInstruction?: unknown; system_instruction?: unknown; generateContentRequest?: unknown };
  // countTokens may wrap the request: {generateContentRequest: {model, contents, …}}.
  if (b.contents === undefined && b.generateContentRequest !== undefined) return readPrompt(b.generateContentRequest);
  if (!Array.isArray(b.contents) || b.contents.length === 0) {
    throw new ModelInputError('* GenerateContentRequest.contents: contents is not specified\n');
  }
  let mediaParts = 0;
  const collect = (content: unknown): string => {
    if (typeof content === 'string') return content;
    const parts = (content as Content | null)?.parts;
    if (!Array.isArray(parts)) return '';
    let out = '';
    for (const part of parts as Part[]) {
      if (typeof part?.text === 'string') out += out ? `\n${part.text}` : part.text;
      else if (part?.inlineData !== undefined || part?.fileData !== undefined) mediaParts++;
    }
    return out;
  };
  let text = '';
  for (const content of b.contents) {
    const t = collect(content);
    text += text ? `\n${t}` : t;
  }
  const system = collect(b.systemInstruction ?? b.system_instruction);
  return { text, system, tokens: tokensForText(text.length + system.length) + mediaParts * MEDIA_PART_TOKENS };
}

/** Answers one generateContent request. */
export function generate(input: GenerateInput): GenerateResponse {
  const prompt = readPrompt(input.body);
  const config = ((input.body as { generationConfig?: unknown }).generationConfig ?? {}) as GenerationConfig;
  const temperature = typeof config.temperature === 'number' ? config.temperature : undefined;
  const seed = typeof config.seed === 'number' ? config.seed : undefined;
  const maxOutputTokens = typeof config.maxOutputTokens === 'number' && config.maxOutputTokens > 0 ? config.maxOutputTokens : undefined;
  const candidateCount = Math.min(Math.max(typeof config.candidateCount === 'number' ? config.candidateCount : 1, 1), 8);
  const stops = Array.isArray(config.stopSequences) ? config.stopSequences.filter((s): s is string => typeof s === 'string' && s !== '') : [];
  const json = config.responseMimeType === 'application/json';
  const schema = config.responseJsonSchema ?? config.response_json_schema ?? config.responseSchema;

  // Sampling is deterministic when asked to be (temperature 0 or a seed); otherwise each call differs.
  const deterministic = temperature === 0 || seed !== undefined;
  let base = fnv1a(input.modelVersion, 0x811c9dc5);
  base = fnv1a(prompt.system, base);
  base = fnv1a(prompt.text, base);
  base = mix(base, seed ?? 0);
  base = mix(base, Math.round((temperature ?? 1) * 1000));
  if (json) base = fnv1a(schema === undefined ? 'json' : JSON.stringify(schema), base);
  if (!deterministic) base = mix(base, (Math.random() * 0x100000000) >>> 0);

  const keywords = promptKeywords(prompt.text);
  const candidates: Candidate[] = [];
  let candidatesTokenCount = 0;
  for (let index = 0; index < candidateCount; index++) {
    const words = new WordSource(mix(base, index), input.endpoint === 'vertex' ? input.divergence : 0);
    let text = json ? JSON.stringify(valueFor(schema, words, 0)) : prose(words, keywords);
    let finishReason: Candidate['finishReason'] = 'STOP';
    for (const stop of stops) {
      const at = text.indexOf(stop);
      if (at >= 0) text = text.slice(0, at);
    }
    let tokens = tokensForText(text.length);
    if (maxOutputTokens !== undefined && tokens > maxOutputTokens) {
      text = text.slice(0, maxOutputTokens * 4);
      tokens = maxOutputTokens;
      finishReason = 'MAX_TOKENS';
    }
    candidatesTokenCount += tokens;
    candidates.push({ content: { role: 'model', parts: [{ text }] }, finishReason, index });
  }
  return {
    candidates,
    usageMetadata: {
      promptTokenCount: prompt.tokens,
      candidatesTokenCount,
      totalTokenCount: prompt.tokens + candidatesTokenCount,
      promptTokensDetails: [{ modality: 'TEXT', tokenCount: prompt.tokens }],
    },
    modelVersion: input.modelVersion,
    responseId: randomBytes(16).toString('base64url').slice(0, 22),
  };
}

const VOCABULARY = (
  'the a model pipeline request response data result value system service account key project region ' +
  'token quota latency output input batch job schedule report summary signal trend metric record field ' +
  'table query index cache stream event window migration route canary rollout policy role binding access ' +
  'secure stable fast simple clear robust careful steady precise concise useful valid current recent ' +
  'first next each every many several few most some all this that these those ' +
  'shows returns keeps moves reads writes checks builds sends runs holds gives takes finds makes uses ' +
  'and but so while because when where which with without within across over under between through ' +
  'daily hourly weekly overall total average median peak expected observed measured estimated ' +
  'customer order invoice product price change growth decline increase decrease forecast analysis'
).split(' ');

/** A deterministic word stream; with divergence > 0 some positions pick a different word. */
class WordSource {
  private state: number;
  private position = 0;
  private readonly divergenceSeed: number;
  constructor(
    seed: number,
    private readonly divergence: number,
  ) {
    this.state = seed >>> 0 || 1;
    this.divergenceSeed = mix(seed, 0x5bd1e995);
  }
  /** A uniform 32-bit integer (mulberry32). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  below(n: number): number {
    return this.next() % n;
  }
  word(): string {
    const pick = this.below(VOCABULARY.length);
    const position = this.position++;
    if (this.divergence > 0) {
      // Keyed by seed and position, never by the main stream, so both endpoints stay aligned word for word.
      const h = mix(this.divergenceSeed, position);
      if (h / 0x100000000 < this.divergence) return VOCABULARY[(pick + 1 + (h % (VOCABULARY.length - 1))) % VOCABULARY.length]!;
    }
    return VOCABULARY[pick]!;
  }
  words(n: number): string {
    let out = this.word();
    for (let i = 1; i < n; i++) out += ` ${this.word()}`;
    return out;
  }
}

function prose(words: WordSource, keywords: string[]): string {
  const sentences = 2 + words.below(4);
  let out = keywords.length > 0 ? `On ${keywords.join(' and ')}: ` : '';
  for (let s = 0; s < sentences; s++) {
    const sentence = words.words(6 + words.below(9));
    out += `${s > 0 ? ' ' : ''}${sentence[0]!.toUpperCase()}${sentence.slice(1)}.`;
  }
  return out;
}

/** Up to three of the prompt's longest words, so answers visibly relate to their prompt. */
function promptKeywords(text: string): string[] {
  const found: string[] = [];
  const re = /[A-Za-z][A-Za-z-]{5,}/g;
  let m: RegExpExecArray | null;
  let scanned = 0;
  while ((m = re.exec(text)) !== null && scanned++ < 200) {
    const w = m[0].toLowerCase();
    if (!found.includes(w)) found.push(w);
  }
  return found.sort((a, b) => b.length - a.length || (a < b ? -1 : 1)).slice(0, 3);
}

/** A value matching a Gemini `Schema` (OBJECT, STRING, …) or a JSON Schema (object, string, …). */
function valueFor(schema: unknown, words: WordSource, depth: number): unknown {
  if (schema === null || typeof schema !== 'object' || depth > 6) {
    return depth === 0 ? { response: words.words(8 + words.below(8)) } : words.words(3);
  }
  const s = schema as Record<string, unknown>;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[words.below(s.enum.length)];
  if (Array.isArray(s.anyOf) && s.anyOf.length > 0) return valueFor(s.anyOf[0], words, depth);
  let type = s.type;
  if (Array.isArray(type)) type = type.find((t) => String(t).toLowerCase() !== 'null') ?? 'null';
  switch (String(type ?? (s.properties ? 'object' : 'string')).toLowerCase()) {
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, unknown>;
      const order = Array.isArray(s.propertyOrdering) ? (s.propertyOrdering as string[]) : Object.keys(props);
      const out: Record<string, unknown> = {};
      for (const key of order) if (key in props) out[key] = valueFor(props[key], words, depth + 1);
      return out;
    }
    case 'array': {
      const min = typeof s.minItems === 'number' ? s.minItems : Number(s.minItems ?? 1);
      const max = typeof s.maxItems === 'number' ? s.maxItems : Number(s.maxItems ?? 3);
      const lo = Math.max(0, Math.min(min, 5));
      const n = lo + words.below(Math.max(1, Math.min(max, 5) - lo + 1));
      return Array.from({ length: n }, () => valueFor(s.items, words, depth + 1));
    }
    case 'integer': {
      const lo = typeof s.minimum === 'number' ? s.minimum : 0;
      const hi = typeof s.maximum === 'number' ? s.maximum : lo + 100;
      return Math.ceil(lo) + words.below(Math.max(1, Math.floor(hi) - Math.ceil(lo) + 1));
    }
    case 'number': {
      const lo = typeof s.minimum === 'number' ? s.minimum : 0;
      const hi = typeof s.maximum === 'number' ? s.maximum : lo + 100;
      return Math.round((lo + (words.next() / 0x100000000) * (hi - lo)) * 100) / 100;
    }
    case 'boolean':
      return words.below(2) === 1;
    case 'null':
      return null;
    default:
      if (s.format === 'date-time') return new Date(Date.UTC(2026, 0, 1) + words.below(365) * 86_400_000).toISOString();
      if (s.format === 'date') return new Date(Date.UTC(2026, 0, 1) + words.below(365) * 86_400_000).toISOString().slice(0, 10);
      return words.words(2 + words.below(4));
  }
}

function fnv1a(text: string, hash: number): number {
  let h = hash >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function mix(a: number, b: number): number {
  let h = (a ^ Math.imul(b | 0, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
