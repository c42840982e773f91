"""Python's official Google clients against the keyless emulator, configured only through their
own endpoint options, the way a user's script would point them anywhere else.

Reads KEYLESS_EMULATOR (base URL), KEY_FILE (a service-account key file whose token_uri is the
emulator's) and PROJECT from the environment; prints one JSON object with what each client saw.
Each check is independent: a failure is reported as {"error": ...} instead of stopping the rest.
Key strings never appear in the output.
"""

import json
import os
import sys
import time

import google.auth.transport.requests
from google.api_core import exceptions as api_exceptions
from google.cloud import api_keys_v2
from google.oauth2 import service_account
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

BASE_URL = os.environ["KEYLESS_EMULATOR"]
KEY_FILE = os.environ["KEY_FILE"]
PROJECT = os.environ["PROJECT"]
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
PROMPT = "Summarize last night's tickets in one line."


def credentials():
    return service_account.Credentials.from_service_account_file(KEY_FILE, scopes=SCOPES)


def failure(err):
    return {"error": type(err).__name__, "message": str(err)[:300]}


def check_auth():
    """google-auth's JWT-bearer grant, sent to the key file's token_uri."""
    creds = credentials()
    creds.refresh(google.auth.transport.requests.Request())
    return {
        "email": creds.service_account_email,
        "tokenUri": creds._token_uri,
        "tokenPrefix": creds.token[:5],
        "expiresInSeconds": int(creds.expiry.timestamp() - time.time()) if creds.expiry else None,
    }


def check_api_keys():
    """ApiKeysClient over REST with client_options.api_endpoint, plus one Google-shaped error."""
    client = api_keys_v2.ApiKeysClient(credentials=credentials(), transport="rest", client_options={"api_endpoint": BASE_URL})
    parent = f"projects/{PROJECT}/locations/global"
    keys = list(client.list_keys(request={"parent": parent, "page_size": 1}))
    # page_size=1 makes the client follow nextPageToken across pages.
    listed = [{"name": k.name, "displayName": k.display_name, "uid": k.uid} for k in keys]
    result = {"keys": sorted(listed, key=lambda k: k["name"])}
    try:
        client.get_key(name=f"{parent}/keys/no-such-key")
        result["missingKey"] = {"error": None}
    except api_exceptions.GoogleAPICallError as err:
        result["missingKey"] = {"error": type(err).__name__, "code": int(err.code) if err.code else None}
    return result


def check_genai():
    """google-genai in Vertex mode with http_options.base_url, and a model the location lacks."""
    client = genai.Client(
        vertexai=True,
        project=PROJECT,
        location="us-central1",
        credentials=credentials(),
        http_options=types.HttpOptions(base_url=BASE_URL),
    )
    config = types.GenerateContentConfig(temperature=0, seed=7)
    response = client.models.generate_content(model="gemini-2.5-flash", contents=PROMPT, config=config)
    result = {
        "text": response.text,
        "modelVersion": response.model_version,
        "promptTokens": response.usage_metadata.prompt_token_count,
        "candidatesTokens": response.usage_metadata.candidates_token_count,
    }
    europe = genai.Client(
        vertexai=True,
        project=PROJECT,
        location="europe-west4",
        credentials=credentials(),
        http_options=types.HttpOptions(base_url=BASE_URL),
    )
    try:
        europe.models.generate_content(model="gemini-2.5-flash-lite", contents=PROMPT)
        result["unservedModel"] = {"error": None}
    except genai_errors.APIError as err:
        result["unservedModel"] = {"error": type(err).__name__, "code": err.code, "status": err.status}
    return result


def check_monitoring(unique_id):
    """Cloud Monitoring's REST API through google-auth's AuthorizedSession: the Vertex calls above,
    per response code. (google-cloud-monitoring has no REST transport, and the emulator serves
    HTTP/JSON only, so its generated client cannot be pointed here.)"""
    session = google.auth.transport.requests.AuthorizedSession(credentials())
    now = time.time()
    params = {
        "filter": 'metric.type = "serviceruntime.googleapis.com/api/request_count" AND resource.type = "consumed_api"'
        f' AND resource.labels.credential_id = "serviceaccount:{unique_id}"',
        "interval.startTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600)),
        "interval.endTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 120)),
    }
    response = session.get(f"{BASE_URL}/v3/projects/{PROJECT}/timeSeries", params=params, timeout=30)
    response.raise_for_status()
    counts = {}
    for series in response.json().get("timeSeries", []):
        code = series["metric"]["labels"]["response_code"]
        counts[code] = counts.get(code, 0) + sum(int(p["value"]["int64Value"]) for p in series["points"])
    return {"requestCountByResponseCode": counts}


def run(check, *args):
    try:
        return check(*args)
    except Exception as err:  # reported, so the test shows which client broke and how
        return failure(err)


def main():
    with open(KEY_FILE) as f:
        unique_id = json.load(f)["client_id"]
    results = {
        "auth": run(check_auth),
        "apiKeys": run(check_api_keys),
        "genai": run(check_genai),
    }
    results["monitoring"] = run(check_monitoring, unique_id)
    json.dump(results, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
