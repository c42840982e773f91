"""Prints the variables keyless exec sets or removes, as JSON (key values replaced by their length)."""

import json
import os

NAMES = [
    "GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE",
    "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_GEMINI_BASE_URL", "GOOGLE_VERTEX_BASE_URL", "KEYLESS_RUN_ID", "KEYLESS_AUTH_MODE",
    "KEYLESS_ROUTE_GENERATION", "UNRELATED",
]
out = {}
for name in NAMES:
    if name in os.environ:
        value = os.environ[name]
        out[name] = f"<{len(value)} characters>" if name.endswith("API_KEY") else value
print(json.dumps(out))
