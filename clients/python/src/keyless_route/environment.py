"""Environments that make a google-genai SDK pick a backend on its own, as gemini-client/environment.ts.

The SDKs read these variables whatever their caller says, and with an API key next to
``GOOGLE_GENAI_USE_VERTEXAI=true`` they silently prefer one over the other: exactly the "both
configured, the SDK picked the wrong one" failure a migration must not have. Messages name the
variable to remove, never a value (it may be a key string).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import List, Mapping, Optional
from urllib.parse import urlsplit

KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
BACKEND_SWITCHES = ("GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE")
#: The Python SDK takes "1" as true too (the JS one only "true"): refuse both.
TRUE_VALUES = ("true", "1")


@dataclass(frozen=True)
class EnvironmentConflict:
    """One conflicting setting, with the variable the operator should remove."""

    remove: str
    message: str


def _is_set(value: Optional[str]) -> bool:
    return value is not None and value.strip() != ""


def environment_conflicts(env: Mapping[str, str]) -> List[EnvironmentConflict]:
    """Conflicts in ``env``; never includes a variable's value."""
    conflicts: List[EnvironmentConflict] = []
    keys = [name for name in KEY_VARIABLES if _is_set(env.get(name))]
    for switch in BACKEND_SWITCHES:
        value = env.get(switch)
        if value is None or value.strip().lower() not in TRUE_VALUES or not keys:
            continue
        conflicts.append(
            EnvironmentConflict(
                remove=switch,
                message=(
                    f"{' and '.join(keys)} and {switch}={value.strip()} are both set, so google-genai would choose between "
                    f"the API key and Vertex by itself; remove {switch}: keyless chooses Vertex per run from the route"
                ),
            )
        )
    if len(keys) == 2 and env["GEMINI_API_KEY"].strip() != env["GOOGLE_API_KEY"].strip():
        conflicts.append(
            EnvironmentConflict(
                remove="GOOGLE_API_KEY",
                message=(
                    "GEMINI_API_KEY and GOOGLE_API_KEY hold different keys and google-genai silently prefers GOOGLE_API_KEY; "
                    "remove GOOGLE_API_KEY and keep the pipeline's key in GEMINI_API_KEY"
                ),
            )
        )
    return conflicts


class ConflictingCredentialsError(ValueError):
    """Raised when the environment would confuse the SDK; ``conflicts`` says what to remove."""

    def __init__(self, conflicts: List[EnvironmentConflict]) -> None:
        super().__init__("refusing to start: " + "; ".join(c.message for c in conflicts))
        self.conflicts = conflicts


def assert_no_conflicting_credentials(env: Mapping[str, str]) -> None:
    conflicts = environment_conflicts(env)
    if conflicts:
        raise ConflictingCredentialsError(conflicts)


def api_key_from_env(env: Mapping[str, str]) -> Optional[str]:
    """The API key from the environment, the way google-genai picks it (GOOGLE_API_KEY first)."""
    for name in ("GOOGLE_API_KEY", "GEMINI_API_KEY"):
        value = env.get(name)
        if _is_set(value):
            return value.strip()  # type: ignore[union-attr]
    return None


def looks_like_key_string(value: str) -> bool:
    """Shaped like an API key (standard ``AIza…`` or auth key ``AQ.…``), as contracts/spec.ts says."""
    import re

    return bool(re.search(r"AIza[0-9A-Za-z_-]{20,}", value) or re.fullmatch(r"AQ\.[0-9A-Za-z_.-]{10,}", value.strip()))


class EmulatorAddressError(ValueError):
    """KEYLESS_EMULATOR is set to something that is not an http(s) loopback origin."""


def emulator_origin(env: Mapping[str, str]) -> Optional[str]:
    """The emulator's origin from KEYLESS_EMULATOR (None: Google's endpoints).

    Only a loopback address is accepted: emulator mode sends tokens and prompts to that address.
    """
    raw = (env.get("KEYLESS_EMULATOR") or "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme not in ("http", "https") or not loopback or parts.username or parts.password or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise EmulatorAddressError(
            "KEYLESS_EMULATOR must be the emulator's loopback origin, such as http://127.0.0.1:8085; "
            "unset it to use Google's endpoints"
        )
    port = f":{parts.port}" if parts.port else ""
    bracketed = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{bracketed}{port}"
