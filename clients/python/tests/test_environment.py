"""The environments that would let google-genai pick a backend on its own are refused at start."""

from __future__ import annotations

import pytest

from keyless_route import ConflictingCredentialsError, environment_conflicts, route_client

# Shaped like a key so a leak into a message would be caught; not a real key.
FAKE_KEY = "AIza" + "Q" * 35


def refusal(env: dict) -> ConflictingCredentialsError:
    with pytest.raises(ConflictingCredentialsError) as err:
        route_client("nightly-summarizer", "file:///nonexistent", project="demo-project", env=env, disk_cache=False)
    return err.value


@pytest.mark.parametrize("value", ["true", "TRUE", "1", " True "])
def test_refuses_a_key_next_to_the_vertex_switch_naming_the_variable_to_remove(value: str) -> None:
    err = refusal({"GEMINI_API_KEY": FAKE_KEY, "GOOGLE_GENAI_USE_VERTEXAI": value})
    assert [c.remove for c in err.conflicts] == ["GOOGLE_GENAI_USE_VERTEXAI"]
    assert "remove GOOGLE_GENAI_USE_VERTEXAI" in str(err)
    assert FAKE_KEY not in str(err)


def test_refuses_google_api_key_next_to_the_enterprise_switch() -> None:
    err = refusal({"GOOGLE_API_KEY": FAKE_KEY, "GOOGLE_GENAI_USE_ENTERPRISE": "true"})
    assert [c.remove for c in err.conflicts] == ["GOOGLE_GENAI_USE_ENTERPRISE"]
    assert "GOOGLE_API_KEY" in err.conflicts[0].message


def test_refuses_two_different_keys_naming_google_api_key() -> None:
    err = refusal({"GEMINI_API_KEY": FAKE_KEY, "GOOGLE_API_KEY": FAKE_KEY[:-1] + "R"})
    assert [c.remove for c in err.conflicts] == ["GOOGLE_API_KEY"]
    assert FAKE_KEY not in str(err) and FAKE_KEY[:-1] + "R" not in str(err)


def test_accepts_a_key_alone_vertex_alone_or_the_switch_off() -> None:
    assert environment_conflicts({"GEMINI_API_KEY": FAKE_KEY}) == []
    assert environment_conflicts({"GOOGLE_GENAI_USE_VERTEXAI": "true", "GOOGLE_CLOUD_PROJECT": "demo-project"}) == []
    assert environment_conflicts({"GEMINI_API_KEY": FAKE_KEY, "GOOGLE_GENAI_USE_VERTEXAI": "false"}) == []
    assert environment_conflicts({"GEMINI_API_KEY": FAKE_KEY, "GOOGLE_API_KEY": FAKE_KEY}) == []
    client = route_client("p1", "file:///nonexistent", project="demo-project", env={"GEMINI_API_KEY": FAKE_KEY}, disk_cache=False)
    assert client.run_id


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"pipeline": "Nightly"}, "pipeline must be"),
        ({"project": "demo"}, "project must be"),
        ({"store": "https://example.com/routes"}, "file://<dir> or gs://<bucket>"),
        ({"store": "gs://"}, "gs://<bucket>"),
        ({"mode": "sometimes"}, "mode must be"),
    ],
)
def test_bad_arguments_are_refused_with_the_fix(kwargs: dict, message: str) -> None:
    args = {"pipeline": "nightly-summarizer", "store": "file:///tmp/routes", "project": "demo-project", **kwargs}
    with pytest.raises(ValueError, match=message):
        route_client(args.pop("pipeline"), args.pop("store"), env={}, disk_cache=False, **args)


@pytest.mark.parametrize("address", ["http://10.1.2.3:8085", "http://emulator.example:8085", "ftp://127.0.0.1:21", "http://127.0.0.1:8085/v1"])
def test_emulator_mode_only_on_a_loopback_origin(address: str) -> None:
    with pytest.raises(ValueError, match="KEYLESS_EMULATOR must be the emulator's loopback origin"):
        route_client("nightly-summarizer", "file:///tmp/routes", project="demo-project", env={"KEYLESS_EMULATOR": address}, disk_cache=False)
