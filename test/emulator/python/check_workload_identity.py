"""Python's google-auth loads external_account credential configurations (the same JSON a CI job
gets), exchanges the CI token at the emulator's STS, impersonates the pipeline's account and
reaches Vertex through google-genai and through an AuthorizedSession.

Reads KEYLESS_EMULATOR, PROJECT and three configuration paths from the environment (URL_CONFIG:
a GitHub-style url credential_source; FILE_CONFIG: a file credential_source; OTHER_REPO_CONFIG:
a job of a repository the provider refuses). Any attempt to resolve a host other than the
emulator's is refused and reported, so nothing can quietly fall back to Google. Prints one JSON
object; each check reports {"error": ...} instead of stopping the rest.
"""

import json
import os
import socket
import sys

BLOCKED = []
_getaddrinfo = socket.getaddrinfo


def _loopback_only(host, *args, **kwargs):
    if host not in ("127.0.0.1", "localhost", "::1"):
        BLOCKED.append(host)
        raise socket.gaierror(f"blocked by check_workload_identity.py: {host}")
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _loopback_only

import google.auth  # noqa: E402
import google.auth.transport.requests  # noqa: E402
from google import genai  # noqa: E402
from google.genai import types  # noqa: E402

BASE_URL = os.environ["KEYLESS_EMULATOR"]
PROJECT = os.environ["PROJECT"]
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
VERTEX = f"{BASE_URL}/v1/projects/{PROJECT}/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"


def adc(config_path):
    """Application Default Credentials, exactly as a job would get them."""
    os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = config_path
    return google.auth.default(scopes=SCOPES)


def check_url_source():
    creds, project = adc(os.environ["URL_CONFIG"])
    creds.refresh(google.auth.transport.requests.Request())
    client = genai.Client(vertexai=True, project=PROJECT, location="us-central1", credentials=creds, http_options=types.HttpOptions(base_url=BASE_URL))
    response = client.models.generate_content(model="gemini-2.5-flash", contents="Summarize last night in one line.")
    return {
        "credentials": f"{type(creds).__module__}.{type(creds).__name__}",
        "project": project,
        "serviceAccount": creds.service_account_email,
        "tokenPrefix": creds.token[:7],
        "text": response.text,
    }


def check_file_source():
    creds, _ = adc(os.environ["FILE_CONFIG"])
    session = google.auth.transport.requests.AuthorizedSession(creds)
    response = session.post(VERTEX, json={"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}, timeout=30)
    return {"status": response.status_code, "candidates": len(response.json().get("candidates", []))}


def check_other_repository():
    creds, _ = adc(os.environ["OTHER_REPO_CONFIG"])
    try:
        creds.refresh(google.auth.transport.requests.Request())
        return {"error": None}
    except google.auth.exceptions.OAuthError as err:
        return {"error": type(err).__name__, "message": str(err)[:400]}


def run(check):
    try:
        return check()
    except Exception as err:  # reported, so the test shows which step broke and how
        return {"error": type(err).__name__, "message": str(err)[:400]}


def main():
    results = {
        "urlSource": run(check_url_source),
        "fileSource": run(check_file_source),
        "otherRepository": run(check_other_repository),
    }
    results["blockedHosts"] = sorted(set(BLOCKED))
    json.dump(results, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
