// An unchanged headless job: @google/genai configured by its environment alone (GEMINI_API_KEY, or
// GOOGLE_GENAI_USE_VERTEXAI with GOOGLE_CLOUD_PROJECT/LOCATION and ADC). keyless exec runs it as is.
import { GoogleGenAI } from '@google/genai';

const ai = new GoogleGenAI({});
const response = await ai.models.generateContent({
  model: 'gemini-2.5-flash',
  contents: 'Summarise in one sentence: the printer on floor 3 jams every morning.',
});
console.log(response.text);
