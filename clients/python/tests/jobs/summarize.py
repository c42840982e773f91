"""An unchanged headless job: google-genai configured by its environment alone (GEMINI_API_KEY, or
GOOGLE_GENAI_USE_VERTEXAI with GOOGLE_CLOUD_PROJECT/LOCATION and ADC). keyless exec runs it as is."""

from google import genai

client = genai.Client()
response = client.models.generate_content(
    model="gemini-2.5-flash",
    contents="Summarise in one sentence: the printer on floor 3 jams every morning.",
)
print(response.text)
