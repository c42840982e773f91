// One live Gemini API call with the pipeline's own key: does Google still accept it? A rejection
// is an answer here, not a failure: it tells the workflow the pipeline is down (repair mode).

import { ErrorType } from '../../contracts/errors';
import type { GoogleClients } from '../clients';
import { describeGoogleError, googleError, isApiKeyRejection } from '../errors';
import { callApiKeys } from './read';
import type { CheckKeyWorksInput, CheckKeyWorksResult } from '../../contracts/activities';

export type { CheckKeyWorksInput, CheckKeyWorksResult } from '../../contracts/activities';

export async function checkKeyWorks(clients: GoogleClients, input: CheckKeyWorksInput): Promise<CheckKeyWorksResult> {
  const context = `checkKeyWorks ${input.apiKey}`;
  const [response] = await callApiKeys(`${context}: reading the key string`, () => clients.apiKeys.getKeyString({ name: input.apiKey }));
  // The key string lives only in this local and the client built from it.
  const keyString = response.keyString ?? '';
  const gemini = clients.genai({ kind: 'gemini', apiKey: keyString });
  try {
    await gemini.models.generateContent({
      model: input.model,
      contents: 'Reply with the single word: ok',
      config: { maxOutputTokens: 8, temperature: 0 },
    });
    return { ok: true, httpStatus: 200 };
  } catch (err) {
    const info = describeGoogleError(err);
    // 401/403 on the Gemini API are about the key (retired, blocked, restricted), whatever the reason says.
    if (isApiKeyRejection(info) || info.httpStatus === 401 || info.httpStatus === 403) {
      return { ok: false, httpStatus: info.httpStatus, status: info.status, ...(info.reason ? { reason: info.reason } : {}) };
    }
    throw googleError(err, { context: `${context}: generateContent ${input.model}`, notFound: ErrorType.InvalidRequest });
  }
}
