"""A headless job of the demo estate, written the way teams write them: a cron job that tags one
piece of customer feedback per run with Gemini, through google-genai configured by its
environment alone (GEMINI_API_KEY; or GOOGLE_GENAI_USE_VERTEXAI with GOOGLE_CLOUD_PROJECT and
GOOGLE_CLOUD_LOCATION, and Application Default Credentials). It knows nothing of keyless:
`keyless exec --pipeline feedback-tagger ... -- python3 feedback_tagger.py` picks each run's backend.

Prints one JSON line (the tag and the backend the SDK used, never a key); exits 1 when the call fails.
"""

import json
import sys

from google import genai

FEEDBACK = [
    "The export button does nothing on Safari.",
    "Love the new dashboard, it saves me an hour a week.",
    "Could you add a dark mode to the reports page?",
]

run = int(sys.argv[1]) if len(sys.argv) > 1 else 0
client = genai.Client()
try:
    response = client.models.generate_content(
        model="gemini-2.5-flash",
        contents=f"Tag this feedback as praise, bug or request, one word: {FEEDBACK[run % len(FEEDBACK)]}",
    )
except Exception as err:  # the job's own error handling: report and fail this run
    print(json.dumps({"ok": False, "status": getattr(err, "code", 0)}), flush=True)
    sys.exit(1)
print(json.dumps({"ok": True, "vertex": client.vertexai, "tag": (response.text or "").strip()[:40]}), flush=True)
