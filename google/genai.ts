// Gemini clients for one target each: an API key on the Gemini API, or a principal on Vertex.
// Never one client with both, which is how an SDK ends up choosing the wrong credential.

import { GoogleGenAI } from '@google/genai';
import type { AuthClient } from 'google-auth-library';
import type { EndpointConfig } from './endpoints';

/** How a Gemini client authenticates: an API key on the Gemini API, or a principal on Vertex. */
export type GenAiTarget = { kind: 'gemini'; apiKey: string } | { kind: 'vertex'; project: string; location: string };

/** A Gemini client for `target`, pointed where `config` says; `authClient` makes a Vertex client act as someone else. */
export function createGenAi(config: EndpointConfig, target: GenAiTarget, authClient?: AuthClient): GoogleGenAI {
  const httpOptions = config.mode === 'emulator' ? { httpOptions: { baseUrl: config.baseUrl } } : {};
  if (target.kind === 'gemini') return new GoogleGenAI({ vertexai: false, apiKey: target.apiKey, ...httpOptions });
  return new GoogleGenAI({
    vertexai: true,
    project: target.project,
    location: target.location,
    ...httpOptions,
    ...(authClient ? { googleAuthOptions: { authClient } } : {}),
  });
}
