"""``python -m keyless_route exec``: a per-run switch for any command, for runners with Python but no Node.

It reads the route (with the client's cache, timeout, last-known-good and generation rules; the
last route seen is kept on disk for the next run), decides this run's backend with the shared
split function, prints one line on stderr, and then *becomes* the command (``execvpe``): its exit
code, signals and stdio are the command's own, untouched, with no process in between.
"""

from __future__ import annotations

import os
import sys
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, NoReturn, Optional, Sequence, Tuple

from . import __version__
from .cache import DEFAULT_READ_TIMEOUT_SECONDS, DEFAULT_TTL_SECONDS, RouteCache, RouteView, default_cache_file
from .environment import (
    BACKEND_SWITCHES,
    KEY_VARIABLES,
    EmulatorAddressError,
    environment_conflicts,
    emulator_origin,
    looks_like_key_string,
)
from .route import PIPELINE_RE, PROJECT_RE
from .split import chooses_vertex
from .store import FileRouteSource, GcsRouteSource, RouteSource, StoreError, parse_store

PROG = "python -m keyless_route"
EXAMPLE = f"{PROG} exec --pipeline nightly-summarizer --store gs://my-project-keyless-routes --project my-project -- python summarize.py"

USAGE = f"""usage: {PROG} exec --pipeline <name> --store <file://dir|gs://bucket[/prefix]> [--project <id>] [--run-id <id>] [options] -- <command> [args...]

Reads the pipeline's route, decides this run's backend (Vertex AI or the API key) and runs the
command with the environment every google-genai SDK reads the same way.

options:
  --pipeline <name>              the pipeline's name, as in its keyless spec (required)
  --store <url>                  where keyless publishes routes: file://<dir> or gs://<bucket>[/<prefix>] (required)
  --project <id>                 the pipeline's project: the route is read at <store>/<project>/<pipeline>.json
                                 (then <store>/<pipeline>.json); without it only the latter
  --run-id <id>                  this run's id; default KEYLESS_RUN_ID, the CI's own run id, else random
  --expect-service-account <e>   refuse a route that names another account (allows another project's account)
  --ttl <seconds>                reuse a route read this recently, also by the previous run (default {DEFAULT_TTL_SECONDS:g})
  --read-timeout <seconds>       a slower read counts as failed (default {DEFAULT_READ_TIMEOUT_SECONDS:g})
  --cache-file <path>            where the last route seen is kept (default under $XDG_CACHE_HOME/keyless)

example:
  {EXAMPLE}
"""

#: Appended to the emulator origin for the Python SDK on Vertex runs (see child_environment).
PYTHON_SDK_VERTEX_BASE_SUFFIX = "#aiplatform.googleapis.com"


class BadInput(Exception):
    """Exit 2 with this message."""


@dataclass
class ExecArgs:
    pipeline: str
    store: str
    project: Optional[str]
    run_id: Optional[str]
    expect_service_account: Optional[str]
    ttl: float
    read_timeout: float
    cache_file: Optional[str]
    command: List[str]


_VALUE_FLAGS = {
    "--pipeline": "pipeline",
    "--store": "store",
    "--project": "project",
    "--run-id": "run_id",
    "--expect-service-account": "expect_service_account",
    "--ttl": "ttl",
    "--read-timeout": "read_timeout",
    "--cache-file": "cache_file",
}


def parse_exec_args(argv: Sequence[str]) -> ExecArgs:
    if "--" not in argv:
        raise BadInput(f"put -- between the options and the command, e.g. {EXAMPLE}")
    split = list(argv).index("--")
    options, command = list(argv[:split]), list(argv[split + 1 :])
    values: Dict[str, str] = {}
    i = 0
    while i < len(options):
        arg = options[i]
        flag, eq, inline = arg.partition("=")
        if flag not in _VALUE_FLAGS:
            hint = " (the command goes after --)" if not arg.startswith("--") else ""
            raise BadInput(f"unknown option {arg}{hint}; see {PROG} exec --help")
        if eq:
            value = inline
        else:
            if i + 1 >= len(options):
                raise BadInput(f"{flag} needs a value")
            i += 1
            value = options[i]
        values[_VALUE_FLAGS[flag]] = value
        i += 1
    if not values.get("pipeline"):
        raise BadInput("--pipeline is required: the pipeline's name as in its keyless spec, e.g. --pipeline nightly-summarizer")
    if not PIPELINE_RE.fullmatch(values["pipeline"]):
        raise BadInput("--pipeline must be 2-63 characters: lowercase letters, digits and hyphens, starting with a letter")
    if not values.get("store"):
        raise BadInput("--store is required: where keyless publishes routes, file://<dir> or gs://<bucket>[/<prefix>] (the spec's route.store)")
    try:
        parse_store(values["store"])
    except StoreError as err:
        raise BadInput(f"--store: {err}") from None
    project = values.get("project")
    if project is not None and not PROJECT_RE.fullmatch(project):
        raise BadInput("--project must be a Google Cloud project id: 6-30 lowercase letters, digits and hyphens, starting with a letter")
    if not command:
        raise BadInput(f"no command after --; e.g. {EXAMPLE}")

    def seconds(name: str, default: float) -> float:
        raw = values.get(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not 0 <= value <= 3600:
            raise BadInput(f"--{name.replace('_', '-')} must be a number of seconds from 0 to 3600")
        return value

    return ExecArgs(
        pipeline=values["pipeline"],
        store=values["store"],
        project=project,
        run_id=values.get("run_id"),
        expect_service_account=values.get("expect_service_account"),
        ttl=seconds("ttl", DEFAULT_TTL_SECONDS),
        read_timeout=seconds("read_timeout", DEFAULT_READ_TIMEOUT_SECONDS),
        cache_file=values.get("cache_file"),
        command=command,
    )


# -- run ids -------------------------------------------------------------------------------------

#: Where a run id comes from when --run-id is not given, in order. Each entry: (variables, builder).
RUN_ID_SOURCES: List[Tuple[str, Callable[[Mapping[str, str]], Optional[str]]]] = [
    # Set by an outer keyless exec (or by hand): the same run, the same decision.
    ("KEYLESS_RUN_ID", lambda e: e.get("KEYLESS_RUN_ID") or None),
    # GitHub Actions: one workflow run attempt; a re-run is a new attempt and decides anew.
    ("GITHUB_RUN_ID", lambda e: f"{e['GITHUB_RUN_ID']}-{e.get('GITHUB_RUN_ATTEMPT') or '1'}" if e.get("GITHUB_RUN_ID") else None),
    # GitLab CI: the job.
    ("CI_JOB_ID", lambda e: e.get("CI_JOB_ID") or None),
    # Cloud Run jobs: the execution (all its tasks share one decision).
    ("CLOUD_RUN_EXECUTION", lambda e: e.get("CLOUD_RUN_EXECUTION") or None),
    # Jenkins: jenkins-<job>-<build number> (its JOB_NAME alone is the same for every build).
    ("BUILD_TAG", lambda e: e.get("BUILD_TAG") if e.get("JENKINS_URL") and e.get("BUILD_TAG") else None),
    # A Kubernetes Job: JOB_NAME, set from the downward API (label batch.kubernetes.io/job-name). A
    # CronJob makes a new Job per schedule. HOSTNAME is not used: a long-lived pod keeps it for every run.
    ("JOB_NAME", lambda e: e.get("JOB_NAME") if e.get("KUBERNETES_SERVICE_HOST") and e.get("JOB_NAME") else None),
]

_BIDI_CONTROLS = {chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]}


def check_run_id(value: str, source: str) -> str:
    if value == "":
        raise BadInput(f"{source} is empty; give a run id or leave it out for a random one")
    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _BIDI_CONTROLS for ch in value):
        raise BadInput(f"{source} contains control characters; a run id is printed in logs, use letters, digits and punctuation only")
    if len(value) > 256:
        raise BadInput(f"{source} is longer than 256 characters")
    if looks_like_key_string(value):
        raise BadInput(f"{source} looks like an API key; a run id is printed in logs, never put a key there")
    return value


def resolve_run_id(flag: Optional[str], env: Mapping[str, str]) -> Tuple[str, str]:
    """This run's id and where it came from ('--run-id', a variable's name, or 'random')."""
    if flag is not None:
        return check_run_id(flag, "--run-id"), "--run-id"
    for name, build in RUN_ID_SOURCES:
        value = build(env)
        if value is not None:
            return check_run_id(value, name), name
    return str(uuid.uuid4()), "random"


# -- the child's environment ---------------------------------------------------------------------


def child_environment(env: Mapping[str, str], view: RouteView, vertex: bool, run_id: str, emulator: Optional[str]) -> Dict[str, str]:
    """The command's environment: every google-genai SDK (Python, JS, Go, Java) reads it the same way."""
    child = dict(env)
    for switch in BACKEND_SWITCHES:
        child.pop(switch, None)
    if vertex and view.route is not None:
        route = view.route
        # The JS SDK sends a leftover key even in Vertex mode when Vertex is switched on only by the
        # environment; the Python SDK drops it. Remove it for both.
        for name in KEY_VARIABLES:
            child.pop(name, None)
        child["GOOGLE_GENAI_USE_VERTEXAI"] = "true"
        child["GOOGLE_CLOUD_PROJECT"] = route.project
        child["GOOGLE_CLOUD_LOCATION"] = route.location
        config = env.get("KEYLESS_CREDENTIAL_CONFIG")
        if config:
            child["GOOGLE_APPLICATION_CREDENTIALS"] = config
        # google-genai for Python reads GOOGLE_GEMINI_BASE_URL, not the Vertex one, when Vertex is
        # switched on by the environment, and treats it as an API gateway: left over, it would
        # send the Vertex calls there without their project path.
        child.pop("GOOGLE_GEMINI_BASE_URL", None)
    if emulator:
        child["GOOGLE_VERTEX_BASE_URL"] = emulator
        # See above: for a Vertex run the Python SDK takes this variable, and keeps Google's
        # project/location path only for a base URL that ends in ".googleapis.com". A fragment is
        # never sent over HTTP, so this still reaches the emulator's origin; the JS SDK (which
        # joins strings) reads GOOGLE_VERTEX_BASE_URL in Vertex mode and never sees it.
        child["GOOGLE_GEMINI_BASE_URL"] = emulator + "/" + PYTHON_SDK_VERTEX_BASE_SUFFIX if vertex else emulator
    child["KEYLESS_RUN_ID"] = run_id
    child["KEYLESS_AUTH_MODE"] = "vertex" if vertex else "api-key"
    if view.route is not None:
        child["KEYLESS_ROUTE_GENERATION"] = str(view.route.generation)
    else:
        child.pop("KEYLESS_ROUTE_GENERATION", None)
    return child


def decision_line(pipeline: str, run_id: str, view: RouteView, vertex: bool) -> str:
    route = f"route generation {view.route.generation}" if view.route is not None else "no route"
    stale = ""
    if view.stale:
        using = "using the last route seen" if view.route is not None else "using the API key"
        stale = f", stale: {view.error}; {using}"
    return f"keyless: {pipeline} run {run_id}: {'vertex' if vertex else 'api-key'} ({route}{stale})"


# -- exec ------------------------------------------------------------------------------------------


def _store_credentials(env: Mapping[str, str], emulator: Optional[str]) -> Callable[[], object]:
    def credentials() -> object:
        from google.auth import load_credentials_from_file

        from .client import CLOUD_PLATFORM, _credentials_for

        config = env.get("KEYLESS_CREDENTIAL_CONFIG")
        if config:
            # The job's own federated identity reads the route, as it will call Vertex.
            creds, _ = load_credentials_from_file(config, scopes=[CLOUD_PLATFORM])
            return creds
        return _credentials_for(None, emulator)

    return credentials


def prepare_exec(args: ExecArgs, env: Mapping[str, str]) -> Tuple[List[str], Dict[str, str], str]:
    """Everything exec does before it becomes the command: (command, environment, stderr line)."""
    for conflict in environment_conflicts(env):
        raise BadInput(f"refusing to run: {conflict.message}")
    try:
        emulator = emulator_origin(env)
    except EmulatorAddressError as err:
        raise BadInput(str(err)) from None
    config = env.get("KEYLESS_CREDENTIAL_CONFIG")
    if config and not os.path.isfile(config):
        raise BadInput("KEYLESS_CREDENTIAL_CONFIG names no file: set it to the path of the Workload Identity Federation credential configuration (an external_account JSON), or unset it")
    run_id, _ = resolve_run_id(args.run_id, env)

    url = parse_store(args.store)
    source: RouteSource
    if url.scheme == "file":
        source = FileRouteSource(url, args.pipeline, args.project)
    else:
        source = GcsRouteSource(url, args.pipeline, args.project, _store_credentials(env, emulator), emulator, args.read_timeout)
    cache = RouteCache(
        pipeline=args.pipeline,
        project=args.project,
        store=args.store,
        source=source,
        ttl=args.ttl,
        read_timeout=args.read_timeout,
        expect={"serviceAccount": args.expect_service_account} if args.expect_service_account else None,
        cache_file=args.cache_file if args.cache_file else default_cache_file(args.store, args.pipeline, args.project, env),
    )
    # exec says what happened in its one line; the library's own warning would be a second one.
    import logging

    logging.getLogger("keyless_route").addHandler(logging.NullHandler())
    logging.getLogger("keyless_route").propagate = False
    view = cache.current()
    vertex = view.route is not None and chooses_vertex(view.route.vertex_percent, args.pipeline, run_id)
    return args.command, child_environment(env, view, vertex, run_id, emulator), decision_line(args.pipeline, run_id, view, vertex)


def _become(command: List[str], env: Dict[str, str]) -> NoReturn:
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name != "posix":
        # No execve that keeps the process: run it and hand its exit code back.
        import subprocess

        try:
            sys.exit(subprocess.call(command, env=env))
        except OSError as err:
            _cannot_start(command, err)
    # Python ignores SIGPIPE and SIGXFSZ for itself, and an ignored signal stays ignored across
    # execve: give the command the default dispositions it gets when started directly (as
    # subprocess's restore_signals does).
    import signal

    for name in ("SIGPIPE", "SIGXFSZ"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    try:
        os.execvpe(command[0], command, env)
    except OSError as err:
        _cannot_start(command, err)


def _cannot_start(command: List[str], err: OSError) -> NoReturn:
    sys.stderr.write(f"keyless exec: cannot start {command[0]}: {err.strerror or err}\n")
    sys.stderr.flush()
    os._exit(127)


def exec_main(argv: Sequence[str], env: Optional[Mapping[str, str]] = None) -> int:
    env = os.environ if env is None else env
    if argv[:1] in (["-h"], ["--help"]):
        sys.stdout.write(USAGE)
        return 0
    try:
        args = parse_exec_args(argv)
        command, child_env, line = prepare_exec(args, env)
    except BadInput as err:
        sys.stderr.write(f"keyless exec: {err}\n")
        return 2
    sys.stderr.write(line + "\n")
    _become(command, child_env)


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0 if argv else 2
    if argv[0] in ("--version", "version"):
        sys.stdout.write(f"keyless-route {__version__}\n")
        return 0
    if argv[0] == "exec":
        return exec_main(argv[1:])
    sys.stderr.write(f"keyless: unknown command {argv[0]}; the command is exec, see {PROG} --help\n")
    return 2
