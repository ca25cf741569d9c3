"""The `realtime-profiles` command line (also `python -m realtime_profiles`).

argparse, because it costs nothing at start-up and the commands are few; click or typer would
add their import time to every CI run for features we do not need. Only argparse is imported
at module level: each command imports the stages it uses, so `--help` stays instant and
`validate` never imports the SDK.

`main(argv, stdout, stderr) -> int` is the whole program: one place maps errors to a message
and an exit code (0 ok, 1 invalid, 2 usage), and tests call it in-process. Output goes
through streams that never raise: a closed pipe (`validate | head`) cannot turn a failed
validation into exit 0, and output that could not be written at all (`show >&-`,
`> /dev/full`) is an error of its own (exit 1), said on stderr.
"""

from __future__ import annotations

import argparse
import errno
import functools
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

if TYPE_CHECKING:
    from ._matrix import Combination
    from ._plugins import Loaded
    from .errors import Problem
    from .loader import Loader
    from .profile import CheckResult

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2

_EPILOG = """\
overrides (show, explain, wire):
  key=value      replace a key the profile sets      model_settings.voice=verse
  +key=value     add a key the profile does not set  +model_settings.speed=1.2
  ++key=value    add or replace                      ++model_config.url=wss://example
  ~key           delete a key                        ~model_settings.tracing
  key+=[a,b]     append to a list                    output_guardrails+=[no_refund_promises]
  key="'text'"   quote to keep a string              model_settings.voice="'123'"
  Keys are relative to run_config unless they start with run_config., model_config.,
  agent., vars., start_messages or client_messages; a key the schema does not know is
  refused with did-you-mean. Values are YAML 1.2: true, 0.5, [audio], {type: server_vad}.

plugins:
  --plugin module:attr     your resolvers (${name:...}) and Registry; repeatable. Also read
                           from [tool.realtime-profiles] plugins = [...] in pyproject.toml
                           (the nearest, from here up) unless --no-plugins. A Registry makes
                           validate and show check every tool, handoff, guardrail ... name.

environment:
  REALTIME_PROFILES_ROOT   default for --root (else ./profiles)
  REALTIME_PROFILES_ENV    default for --env
  REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__VOICE=verse
                           a layer above the files and below command-line overrides
  NO_COLOR                 never colour the output

exit status: 0 valid, 1 invalid profile (or differences, for diff; or the output could
not be written), 2 usage error.
"""


class _Parser(argparse.ArgumentParser):
    """argparse that writes to the given stream and raises instead of exiting, so `main`
    owns every exit code and output stream (`--help` included)."""

    def __init__(self, *args: Any, stdout: TextIO | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stdout = stdout

    def error(self, message: str) -> Any:
        raise _ArgError(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        if message:
            raise _ArgError(message.strip())
        raise _HelpShown(status)

    def _print_message(self, message: str, file: Any = None) -> None:
        if message:
            (self._stdout or sys.stdout).write(message)


class _ArgError(Exception):
    pass


class _HelpShown(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _parser(stdout: TextIO | None = None) -> argparse.ArgumentParser:
    default_root = os.environ.get("REALTIME_PROFILES_ROOT", "profiles")
    default_env = os.environ.get("REALTIME_PROFILES_ENV") or None
    parser = _Parser(
        stdout=stdout,
        prog="realtime-profiles",
        description="Layered, validated YAML profiles for OpenAI Agents SDK realtime sessions.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--root", default=default_root,
                        help="profile tree (default: $REALTIME_PROFILES_ROOT or ./profiles)")
    parser.add_argument("--no-local", action="store_true",
                        help="ignore the untracked local.yaml (what CI sees)")
    parser.add_argument("--plugin", action="append", dest="plugins", default=[],
                        metavar="MODULE:ATTR",
                        help="load resolvers and a Registry from your code (repeatable)")
    parser.add_argument("--no-plugins", action="store_true",
                        help="ignore the plugins declared in pyproject.toml")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    # The global options are accepted after the command too (`validate --no-local`); there
    # they default to "not given", so the values before the command stand.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("--no-local", action="store_true", default=argparse.SUPPRESS,
                        help=argparse.SUPPRESS)
    common.add_argument("--plugin", action="append", dest="more_plugins",
                        default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("--no-plugins", action="store_true", default=argparse.SUPPRESS,
                        help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                parser_class=functools.partial(_Parser, stdout=stdout,
                                                               parents=[common]))  # type: ignore[call-overload]

    _add_inspection(sub, default_env)
    _add_validate(sub)
    _add_wire(sub, default_env)
    _add_fleet(sub)
    _add_schema(sub)
    return parser


def _add_inspection(sub: Any, default_env: str | None) -> None:
    """list, show, explain and diff: looking at one profile, or two side by side."""
    sub.add_parser("list", help="agents, environments and agent@env files")

    show = sub.add_parser("show", help="the composed document for one agent in one env")
    show.add_argument("agent", help="an agent under ROOT/agents")
    show.add_argument("--env", default=default_env,
                      help="an environment under ROOT/env (default: $REALTIME_PROFILES_ENV)")
    show.add_argument("--format", choices=("yaml", "json"), default="yaml",
                      help="json is exactly what load_profile returns")
    show.add_argument("--show-secrets", action="store_true",
                      help="print secrets instead of *** (requires them to be set)")
    show.add_argument("--strict", action="store_true", help="treat warnings as errors")
    show.add_argument("--fingerprint", action="store_true",
                      help="print only the profile's fingerprint")
    _facet_options(show)
    show.add_argument("overrides", nargs="*", default=[], metavar="OVERRIDE",
                      help="key=value, +key=value, ++key=value, ~key, key+=[...]")

    explain = sub.add_parser("explain", help="where a key's value comes from, layer by layer")
    explain.add_argument("agent", help="an agent under ROOT/agents")
    explain.add_argument("key", help="dotted, relative to run_config unless prefixed")
    explain.add_argument("--env", default=default_env,
                         help="an environment (default: $REALTIME_PROFILES_ENV)")
    _facet_options(explain)
    explain.add_argument("overrides", nargs="*", default=[], metavar="OVERRIDE",
                         help="applied before explaining, shown as 'from the command line'")

    diff = sub.add_parser("diff", help="leaf-level differences between two profiles")
    diff.add_argument("profiles", nargs="+", metavar="AGENT[@ENV]",
                      help="one agent with two --env, or two AGENT@ENV")
    diff.add_argument("--env", action="append", dest="envs", metavar="ENV", default=[],
                      help="repeat for the two sides")
    diff.add_argument("--wire", action="store_true",
                      help="print the session.update that moves a live session from the first "
                           "profile to the second, and what it cannot change (needs the sdk "
                           "extra)")
    diff.add_argument("--format", choices=("text", "json"), default="text",
                      help="with --wire: json is one object (event, fields, problems)")
    _registry_option(diff)
    _facet_options(diff)



def _add_validate(sub: Any) -> None:
    validate = sub.add_parser("validate", help="check every agent in every environment")
    validate.add_argument("agents", nargs="*", default=[], metavar="AGENT",
                          help="default: every agent")
    validate.add_argument("--env", action="append", dest="envs", metavar="ENV",
                          help="an environment to check (repeatable; default: all)")
    validate.add_argument("--strict", action="store_true", help="treat warnings as errors")
    validate.add_argument("--format", choices=("text", "json"), default="text",
                          help="json: one object with every problem, for CI tools")
    validate.add_argument("--facet", action="append", dest="facets", metavar="GROUP=OPTION",
                          default=[], help="check only this option of a facet group "
                          "(repeatable; default: every option each agent allows)")
    validate.add_argument("--max-combinations", type=int, default=10000, metavar="N",
                          help="refuse a matrix larger than N (default 10000) unless "
                               "--sample is given")
    validate.add_argument("--sample", type=int, metavar="N",
                          help="check an even, deterministic sample of N combinations of a "
                               "larger matrix (the summary says so)")



def _add_wire(sub: Any, default_env: str | None) -> None:
    """wire and snapshot: what the installed SDK sends, now and as stored in git."""
    wire = sub.add_parser("wire", help="the frames the SDK sends when a session starts with a "
                                       "profile (needs the sdk extra)")
    wire.add_argument("agent", help="an agent under ROOT/agents")
    wire.add_argument("--env", default=default_env,
                      help="an environment (default: $REALTIME_PROFILES_ENV)")
    wire.add_argument("--sip", action="store_true",
                      help="print the body that accepts a SIP call (calls.accept) instead")
    _registry_option(wire)
    _facet_options(wire)
    wire.add_argument("overrides", nargs="*", default=[], metavar="OVERRIDE",
                      help="key=value, +key=value, ++key=value, ~key, key+=[...]")

    snapshot = sub.add_parser("snapshot", help="store or check the wire of every combination "
                                               "under snapshots/ (needs the sdk extra)")
    snapshot.add_argument("agents", nargs="*", default=[], metavar="AGENT",
                          help="default: every agent")
    snapshot.add_argument("--env", action="append", dest="envs", metavar="ENV",
                          help="an environment (repeatable; default: all)")
    snapshot.add_argument("--facet", action="append", dest="facets", metavar="GROUP=OPTION",
                          default=[], help="only this option of a facet group (repeatable)")
    action = snapshot.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true",
                        help="store the current wire (and remove stale snapshots)")
    action.add_argument("--check", action="store_true",
                        help="exit 1 when a stored wire differs, is missing or is stale")
    snapshot.add_argument("--dir", default="snapshots", metavar="DIR",
                          help="where the snapshots live (default: ./snapshots)")
    snapshot.add_argument("--environ", action="append", default=[], metavar="NAME=VALUE",
                          help="a variable the profiles read (snapshots see no other "
                               "environment variable; repeatable)")
    snapshot.add_argument("--format", choices=("text", "json"), default="text",
                          help="json: one object with every finding, for CI tools")
    snapshot.add_argument("--max-combinations", type=int, default=10000, metavar="N",
                          help="refuse a matrix larger than N (default 10000)")
    _registry_option(snapshot)


def _registry_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--registry", metavar="MODULE:ATTR",
                         help="a realtime_profiles.sdk.Registry in your code: its real tools "
                              "and handoffs are bound (default: a plugin's registry, else "
                              "stand-ins of the same names)")


def _add_fleet(sub: Any) -> None:
    """build and export: the bundle a fleet of workers loads."""
    build = sub.add_parser("build", help="compile every combination into a bundle for a fleet")
    build.add_argument("--out", required=True, metavar="DIR",
                       help="the bundle folder (replaced whole, only when the build succeeds)")
    build.add_argument("--strict", action="store_true",
                       help="refuse warnings too (as validate --strict)")

    export = sub.add_parser("export", help="a bundle as Kubernetes ConfigMap manifests")
    export.add_argument("--format", choices=("configmap",), default="configmap",
                        help="what to print (configmap: one or more ConfigMaps)")
    export.add_argument("--bundle", metavar="DIR",
                        help="a bundle built before (default: build one from the tree now)")
    export.add_argument("--name", default="realtime-profiles",
                        help="the ConfigMap's name (with -1, -2, ... when split)")
    export.add_argument("--namespace", help="the ConfigMaps' namespace")
    export.add_argument("--max-bytes", type=int, default=900 * 1024, metavar="N",
                        help="data bytes per ConfigMap (default 921600; the limit is 1 MiB)")
    export.add_argument("--immutable", action="store_true",
                        help="immutable ConfigMaps named after the bundle's fingerprint")
    export.add_argument("--output", choices=("yaml", "json"), default="yaml",
                        help="YAML documents (kubectl apply -f -) or one JSON List")



def _add_schema(sub: Any) -> None:
    schema = sub.add_parser("schema", help="print, write or check schema.json")
    schema.add_argument("--layer", action="store_true",
                        help="the editor schema for layer files (yaml-language-server)")
    schema.add_argument("--write", action="store_true",
                        help="regenerate from the installed SDK and write it")
    schema.add_argument("--check", action="store_true",
                        help="exit 1 if the schema differs from the installed SDK's")
    schema.add_argument("--output", metavar="PATH",
                        help="file to write or check (default: ./schema.json, or "
                             "ROOT/layer-schema.json with --layer)")


def _facet_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--facet", action="append", dest="facets", metavar="GROUP=OPTION",
                         default=[], help="pick an option of a facet group (repeatable; "
                         "others take their default)")
    command.add_argument("--bucket", metavar="ID",
                         help="a call id or caller number: picks the option of each "
                              "weighted facet group (a traffic split) as a call would")


def _parse(argv: list[str], out: TextIO) -> argparse.Namespace:
    """Overrides may come before or after options (`show a k=v --format json`)."""
    parser = _parser(out)
    args, extra = parser.parse_known_args(argv)
    if extra:
        if getattr(args, "overrides", None) is None or any(e.startswith("-") for e in extra):
            from ._secrets import masked_override

            # an override among them may carry a secret: its value is not echoed
            shown = (e if e.startswith("-") else masked_override(e, None) for e in extra)
            parser.error(f"unrecognized arguments: {' '.join(shown)}")
        args.overrides = [*args.overrides, *extra]
    return args


class _Stream:
    """A text stream that never raises: the first failure to write is kept and nothing more
    is written, so the command runs to its end and its result decides the exit status."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream
        self.error: OSError | None = None
        if stream is None:  # `>&-`: Python starts without a stdout
            self.error = OSError(errno.EBADF, "the stream is closed")

    def write(self, text: str) -> int:
        if self.error is None and self._stream is not None:
            try:
                self._stream.write(text)
            except (OSError, ValueError) as exc:  # ValueError: a closed file object
                self.error = exc if isinstance(exc, OSError) else OSError(errno.EBADF, str(exc))
        return len(text)

    def flush(self) -> None:
        if self.error is None and self._stream is not None:
            try:
                self._stream.flush()
            except (OSError, ValueError) as exc:
                self.error = exc if isinstance(exc, OSError) else OSError(errno.EBADF, str(exc))

    def isatty(self) -> bool:
        try:
            return self._stream is not None and self._stream.isatty()
        except (OSError, ValueError):
            return False


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Run one command; return its exit status. Never raises for a user's mistake."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out = _Stream(stdout if stdout is not None else sys.stdout)
    err = _Stream(stderr if stderr is not None else sys.stderr)
    code = _run(argv, cast("TextIO", out), cast("TextIO", err))
    out.flush()
    if out.error is not None and not isinstance(out.error, BrokenPipeError):
        # the reader closing the pipe early (`| head`) is its choice; anything else lost
        # the output: say so, and never report success
        reason = out.error.strerror or str(out.error)
        print(f"{_color('error', cast('TextIO', err))}: cannot write to standard output: "
              f"{reason}", file=err)
        code = max(code, EXIT_INVALID)
    err.flush()
    return code


def _run(argv: list[str], out: TextIO, err: TextIO) -> int:
    """Parse and run; every error becomes a message and an exit status (JSON on stdout as
    well when the command was asked for `--format json`)."""
    json_wanted = _wants_json(argv)
    try:
        args = _parse(argv, out)
    except _ArgError as exc:
        return _fail(str(exc), EXIT_USAGE, (), out, err, json_wanted=json_wanted)
    except _HelpShown as shown:
        return shown.status
    if args.command is None:
        _parser(out).print_help()
        return EXIT_USAGE
    from .errors import ProfileError

    json_wanted = getattr(args, "format", None) == "json"
    try:
        return int(_COMMANDS[args.command](args, out, err))
    except ProfileError as exc:
        return _fail(exc.message, exc.exit_code, exc.problems, out, err,
                     json_wanted=json_wanted)
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # an unreadable folder or file under the root: the machine's
        # state, not a bug; say which path and why, never a traceback
        where = f" {exc.filename!r}" if exc.filename else ""
        return _fail(f"cannot read{where}: {exc.strerror or exc}", EXIT_INVALID, (), out, err,
                     json_wanted=json_wanted)


def _wants_json(argv: Sequence[str]) -> bool:
    """`--format json` (or `--format=json`) among arguments that did not parse."""
    from itertools import pairwise

    return "--format=json" in argv or any(
        a == "--format" and b == "json" for a, b in pairwise(argv))


def _fail(message: str, code: int, problems: Sequence[Problem], out: TextIO, err: TextIO, *,
          json_wanted: bool) -> int:
    """Report an error: its problems and message on stderr, and, when JSON was asked for,
    one JSON object on stdout, so a CI tool parsing stdout always gets JSON."""
    from .errors import printable

    _print_problems(_capped(problems), err)
    if len(problems) > _shown_limit():
        print(f"... and {len(problems) - _shown_limit()} more", file=err)
    print(f"{_color('error', err)}: {printable(message, keep_newlines=True)}", file=err)
    if json_wanted:
        import json

        payload = {"ok": False, "exit_code": code, "error": message,
                   "problems": [p.as_dict() for p in _capped(problems)],
                   "omitted": max(len(problems) - _shown_limit(), 0)}
        json.dump(payload, out, indent=2)  # ASCII: a name may hold undecodable bytes
        out.write("\n")
    return code


def _shown_limit() -> int:
    from ._limits import MAX_SHOWN_PROBLEMS

    return MAX_SHOWN_PROBLEMS


def _capped(problems: Sequence[Problem]) -> Sequence[Problem]:
    return problems[:_shown_limit()]


def main_entry() -> None:
    """Console-script entry point."""
    code = main()
    # The interpreter flushes stdout once more on exit: after a broken pipe or a full disk
    # that flush would fail again and print a traceback-like notice (and exit 120). Point
    # the descriptor at /dev/null first (the recipe in Python's signal documentation).
    stream = sys.stdout
    if stream is not None:
        try:
            stream.flush()
        except (OSError, ValueError):
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, stream.fileno())
            except (OSError, ValueError):
                pass
    sys.exit(code)


# -- output helpers ------------------------------------------------------------------------

def _use_color(stream: TextIO) -> bool:
    try:
        return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()
    except (OSError, ValueError):
        return False


def _color(word: str, stream: TextIO, code: str = "31") -> str:
    return f"\033[{code}m{word}\033[0m" if _use_color(stream) else word


def _print_problems(problems: Sequence[Problem], stream: TextIO, suffix: dict[int, str] | None
                    = None) -> None:
    color = _use_color(stream)
    for index, problem in enumerate(problems):
        line = problem.render()
        if suffix and index in suffix:
            line += suffix[index]
        if color:
            code = "33" if problem.severity == "warning" else "31"
            line = f"\033[{code}m{line}\033[0m"
        print(line, file=stream)


def _plugins(args: argparse.Namespace) -> Loaded:
    """The declared plugins, imported once per run."""
    loaded: Loaded | None = getattr(args, "loaded_plugins", None)
    if loaded is None:
        from ._plugins import load_plugins

        specs = [*args.plugins, *getattr(args, "more_plugins", [])]
        loaded = load_plugins(specs, use_pyproject=not args.no_plugins)
        args.loaded_plugins = loaded
    return loaded


def _loader(args: argparse.Namespace, *, plugins: bool = True) -> Loader:
    from .errors import UsageError
    from .loader import Loader

    root = args.root
    if not Path(root).is_dir():
        raise UsageError(f"profile root {root!r} is not a directory (use --root DIR or set "
                         "REALTIME_PROFILES_ROOT)")
    resolvers = _plugins(args).resolvers if plugins else None
    return Loader(root, local=not args.no_local, resolvers=resolvers)


def _registry_problems(args: argparse.Namespace, result: CheckResult) -> CheckResult:
    """With a plugin's registry: every name the profile and its agent graph use that the
    registry does not know is an error of the profile."""
    registry = _plugins(args).registry
    if registry is None or result.profile is None:
        return result
    unknown = registry.problems(result.profile)
    if not unknown:
        return result
    from dataclasses import replace

    from .errors import sorted_problems

    return replace(result, problems=sorted_problems([*result.problems, *unknown]),
                   profile=None)


# -- commands ------------------------------------------------------------------------------

def _cmd_list(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .errors import printable

    tree = _loader(args, plugins=False).tree()
    print(f"root: {printable(str(tree.root))}", file=out)
    print("agents: " + (", ".join(tree.agents) or "(none)"), file=out)
    print("environments: " + (", ".join(tree.envs) or "(none)"), file=out)
    pairs = [f"{a}@{e}" for a, e in tree.agent_envs()]
    print("agent@env files: " + (", ".join(pairs) or "(none)"), file=out)
    return EXIT_OK


def _facets(args: argparse.Namespace) -> dict[str, str]:
    """`--facet GROUP=OPTION` arguments (one option per group here)."""
    from ._facets import parse_choices
    from .errors import UsageError

    chosen: dict[str, str] = {}
    for group, option in parse_choices(args.facets):
        if chosen.setdefault(group, option) != option:
            raise UsageError(f"--facet {group} given twice ({chosen[group]}, {option})")
    return chosen


def _note_no_env(loader: Loader, args: argparse.Namespace, err: TextIO) -> None:
    """Without --env (and REALTIME_PROFILES_ENV) a profile is composed with no environment
    layer; in a tree that has environments that is rarely meant, so say so, in one line."""
    if args.env is None:
        envs = loader.tree().envs
        if envs:
            print(f"{_color('note', err, '33')}: no --env (or REALTIME_PROFILES_ENV): "
                  f"{args.agent} is composed without an environment layer; environments: "
                  f"{', '.join(envs)}", file=err)


def _cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    loader = _loader(args)
    choice = {"facets": _facets(args), "bucket": args.bucket, "strict": args.strict}
    if args.show_secrets:
        profile = loader.load(args.agent, args.env, args.overrides, **choice)
        registry = _plugins(args).registry
        unknown = registry.problems(profile) if registry is not None else []
        if unknown:
            from .errors import ProfileValidationError, summarize

            raise ProfileValidationError(f"{args.agent}@{args.env or '-'}: "
                                         f"{summarize(unknown)}", unknown)
        _note_no_env(loader, args, err)
        _print_problems(_capped(profile.warnings), err)
        document = profile.document()
    else:
        result = _registry_problems(args, loader.check(args.agent, args.env, args.overrides,
                                                       **choice))
        _note_no_env(loader, args, err)
        if result.profile is None:
            from .errors import summarize

            return _fail(f"{args.agent}@{args.env or '-'}: {summarize(result.problems)}",
                         EXIT_INVALID, result.problems, out, err,
                         json_wanted=args.format == "json")
        _print_problems(_capped(result.problems), err)
        profile = result.profile
        document = profile.redacted()
    if args.fingerprint:
        print(profile.fingerprint, file=out)
        return EXIT_OK
    _dump(document, args.format, out)
    return EXIT_OK


def _dump(document: Any, fmt: str, out: TextIO) -> None:
    if fmt == "json":
        import json

        json.dump(document, out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        from ._yaml import dump

        dump(document, out, width=100)


def _combinations(loader: Loader, args: argparse.Namespace) -> list[Combination]:
    """The matrix `validate` checks: the agents and environments asked for (default: all)
    x every facet option each agent allows (or those given with --facet)."""
    from ._matrix import combinations, facet_filter
    from ._tree import unknown_name
    from .errors import UsageError

    tree = loader.tree()
    # each combination once, however often it is named (`validate a a --env p --env p`)
    agents = list(dict.fromkeys(args.agents)) or list(tree.agents)
    envs: list[str | None] = list(dict.fromkeys(args.envs or ())) or list(tree.envs) or [None]
    messages = [unknown_name("agent", a, tree.agents) for a in agents if not tree.has_agent(a)]
    messages += [unknown_name("environment", e, tree.envs) for e in envs
                 if e is not None and not tree.has_env(e)]
    if messages:
        raise UsageError("; ".join(messages))
    if not agents:
        raise UsageError(f"no agents under {tree.root / 'agents'}")
    return combinations(loader, agents, envs, facet_filter(loader, args.facets))


def _cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # Over 60 lines because text and JSON output share one walk over the matrix (sampling,
    # per-combination caps, the summary lines); each part is a few lines and only used here.
    from ._matrix import sample, summary
    from .errors import sorted_problems, summarize

    loader = _loader(args)
    matrix = _combinations(loader, args)
    total = len(matrix)
    if args.sample is not None and args.sample < total:
        matrix = sample(matrix, max(args.sample, 1))
    elif total > args.max_combinations:
        from .errors import UsageError

        raise UsageError(f"the matrix has {total} combinations, over --max-combinations "
                         f"{args.max_combinations}: narrow it (AGENT..., --env, --facet), "
                         "raise the limit, or check an even sample with --sample N")
    results: list[CheckResult] = [
        _registry_problems(args, result) for result in loader.check_many(
            ((c.agent, c.env, dict(c.facets)) for c in matrix), strict=args.strict)]
    labels = [c.label() for c in matrix]
    where: dict[Problem, list[str]] = {}
    for label, result in zip(labels, results, strict=True):
        for problem in result.problems:
            where.setdefault(problem, []).append(label)
    from dataclasses import replace

    from ._tree import stray_files

    strays = [replace(p, severity="error") if args.strict else p
              for p in stray_files(loader.tree())]
    for problem in strays:
        where.setdefault(problem, [])
    problems = sorted_problems(where)
    shown, omitted = _shown_per_combination(problems, where)
    invalid = sum(1 for r in results if not r.ok)
    sampled = f" (an even sample of {total})" if len(matrix) < total else ""
    result_line = (f"{len(results)} profile{'s' * (len(results) != 1)} checked{sampled}: "
                   f"{len(results) - invalid} valid, {invalid} invalid; {summarize(problems)}")
    if args.format == "json":
        import json

        payload = {
            "ok": invalid == 0,
            "summary": result_line,
            "matrix": {"combinations": total, "checked": len(results),
                       "dimensions": summary(matrix)},
            "profiles": [{"agent": r.agent, "env": r.env, "facets": dict(c.facets),
                          "label": c.label(), "ok": r.ok, "errors": len(r.errors),
                          "warnings": len(r.problems) - len(r.errors),
                          "omitted": omitted.get(c.label(), 0),
                          "fingerprint": r.profile.fingerprint if r.profile else None}
                         for c, r in zip(matrix, results, strict=True)],
            "problems": [{**p.as_dict(), "profiles": where[p]} for p in shown],
            "omitted": len(problems) - len(shown),
        }
        json.dump(payload, out, indent=2)
        out.write("\n")
    else:
        suffix = {i: _profiles_suffix(where[p]) for i, p in enumerate(shown)}
        _print_problems(shown, err, suffix)
        by_count: dict[int, list[str]] = {}
        for name, count in omitted.items():
            by_count.setdefault(count, []).append(name)
        for count, names in sorted(by_count.items(), reverse=True):
            print(f"... and {count} more problem{'s' * (count != 1)} in "
                  f"{_list_names(names)}", file=err)
        if any(c.facets for c in matrix):
            for line in summary(matrix):
                print(line, file=out)
        print(result_line, file=out)
    return EXIT_INVALID if invalid or any(p.severity == "error" for p in strays) else EXIT_OK


def _shown_per_combination(problems: Sequence[Problem], where: dict[Problem, list[str]]
                           ) -> tuple[list[Problem], dict[str, int]]:
    """The problems to print — each combination's first `MAX_SHOWN_PROBLEMS`, in reading
    order — and how many of each combination's are left out (one root cause in a large
    tree could otherwise print a line per value)."""
    limit = _shown_limit()
    printed: dict[str, int] = {}
    total: dict[str, int] = {}
    shown: list[Problem] = []
    for problem in problems:
        names = where[problem]
        for name in names:
            total[name] = total.get(name, 0) + 1
        if not names or any(printed.get(name, 0) < limit for name in names):
            shown.append(problem)
            for name in names:
                printed[name] = printed.get(name, 0) + 1
    omitted = {name: count - printed.get(name, 0) for name, count in total.items()
               if count > printed.get(name, 0)}
    return shown, omitted


def _profiles_suffix(names: Sequence[str]) -> str:
    return f" [{_list_names(names)}]" if names else ""


def _list_names(names: Sequence[str]) -> str:
    """`a@dev, a@prod`, or the first few and `and N more`."""
    from ._limits import MAX_SHOWN_PROFILES

    if len(names) <= MAX_SHOWN_PROFILES:
        return ", ".join(names)
    return (", ".join(names[:MAX_SHOWN_PROFILES])
            + f" and {len(names) - MAX_SHOWN_PROFILES} more")


def _cmd_explain(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .errors import printable

    loader = _loader(args)
    facets = _facets(args)
    if args.bucket is not None:
        facets = loader.check(args.agent, args.env, facets=facets, bucket=args.bucket).facets
    explanation = loader.explain(args.agent, args.env, args.key, args.overrides, facets=facets)
    _note_no_env(loader, args, err)
    print(printable(explanation.render(), keep_newlines=True), file=out)
    return EXIT_OK


def _split_profile(text: str, envs: list[str]) -> tuple[str, str | None]:
    if "@" in text:
        agent, env = text.split("@", 1)
        return agent, env or None
    return text, envs.pop(0) if envs else None


def _cmd_diff(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import json

    from ._paths import render_path
    from .errors import UsageError, printable
    from .profile import ABSENT

    envs = list(args.envs)
    specs = list(args.profiles)
    if len(specs) == 1 and len(envs) == 2:
        specs = [f"{specs[0]}@{envs[0]}", f"{specs[0]}@{envs[1]}"]
        envs = []
    if len(specs) != 2:
        raise UsageError("diff compares two profiles: diff AGENT --env A --env B, or "
                         "diff AGENT@A AGENT@B")
    loader = _loader(args)
    sides = [_split_profile(s, envs) for s in specs]
    if args.wire:
        return _wire_diff(args, loader, sides, out, err)
    differences = loader.diff(sides[0], sides[1], facets=_facets(args),
                              bucket=args.bucket)  # each side composed once
    labels = [f"{a}@{e or '-'}" for a, e in sides]
    width = max(len(label) for label in labels)
    for difference in differences:
        note = "  (masked: the values or their sources differ)" if difference.masked else ""
        print(printable(render_path(difference.path)) + note, file=out)
        for label, value, origin in ((labels[0], difference.left, difference.left_origin),
                                     (labels[1], difference.right, difference.right_origin)):
            shown = "(absent)" if value is ABSENT else json.dumps(value, ensure_ascii=False)
            where = f"  {printable(origin)}" if origin else ""
            print(f"  {label.ljust(width)}  {shown}{where}", file=out)
    count = len(differences)
    print(f"{count} difference{'s' * (count != 1)} between {labels[0]} and {labels[1]}",
          file=out)
    return EXIT_INVALID if differences else EXIT_OK


def _cmd_build(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ._build import compile_bundle, write_bundle
    from .errors import ProfileError

    loader = _loader(args)
    files = compile_bundle(loader, strict=args.strict,
                           source_date_epoch=os.environ.get("SOURCE_DATE_EPOCH"))
    out_dir = Path(args.out)
    try:
        write_bundle(files, out_dir)
    except OSError as exc:
        raise ProfileError(f"cannot write the bundle to {out_dir}: {exc.strerror or exc} (the "
                           "previous bundle, if any, is unchanged)") from None
    import json

    manifest = json.loads(files["manifest.json"])
    size = sum(len(data) for data in files.values())
    print(f"built {out_dir}: {len(manifest['combinations'])} combinations, {len(files)} files, "
          f"{size} bytes; fingerprint {manifest['fingerprint']}", file=out)
    return EXIT_OK


def _cmd_export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import json

    from ._configmap import configmaps, render

    if args.bundle:
        from .bundle import iter_bundle_files

        files = list(iter_bundle_files(Path(args.bundle)))
    else:
        from ._build import compile_bundle

        files = list(compile_bundle(_loader(args), source_date_epoch=os.environ.get(
            "SOURCE_DATE_EPOCH")).items())
    manifest = json.loads(dict(files)["manifest.json"])
    objects = configmaps(files, manifest, name=args.name, namespace=args.namespace,
                         part_bytes=args.max_bytes, immutable=args.immutable)
    out.write(render(objects, args.output))
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from . import _schema_files as schema_files

    if args.write and args.check:
        from .errors import UsageError

        raise UsageError("choose one of --write and --check")
    if args.write:
        for line in schema_files.write(args.layer, args.output, args.root):
            print(line, file=out)
        return EXIT_OK
    if args.check:
        report = schema_files.check(args.layer, args.output, args.root)
        for line in report:
            print(line, file=out if not report.drift else err)
        return EXIT_INVALID if report.drift else EXIT_OK
    out.write(schema_files.packaged_text(args.layer))
    return EXIT_OK


# -- the wire (needs the sdk extra) ----------------------------------------------------------

def _require_sdk(command: str) -> None:
    """The SDK builds the wire: without it, say how to get it (exit 2), never a traceback."""
    import importlib.util

    from .errors import UsageError

    try:
        found = importlib.util.find_spec("agents.realtime") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise UsageError(f"{command} runs the profile through the openai-agents SDK, which is "
                         "not installed: install the sdk extra: pip install -e '.[sdk]' in your "
                         "clone (it installs openai-agents>=0.24,<0.25)")


def _registry(args: argparse.Namespace) -> tuple[Any, str]:
    """The registry names are bound with, and its label: --registry, a plugin's, or None
    (stand-ins)."""
    from ._snapshot import STAND_INS
    from .errors import UsageError

    if args.registry:
        from ._plugins import load_plugins

        loaded = load_plugins([args.registry], use_pyproject=False)
        if loaded.registry is None:
            raise UsageError(f"--registry {args.registry!r} is not a "
                             "realtime_profiles.sdk.Registry (nor a function returning one)")
        return loaded.registry, args.registry
    plugins = _plugins(args)
    if plugins.registry is not None:
        return plugins.registry, plugins.registry_spec or "plugin"
    return None, STAND_INS


def _wire_profile(args: argparse.Namespace, loader: Loader, side: tuple[str, str | None],
                  overrides: Sequence[str], err: TextIO) -> Any:
    """The profile a wire is taken of: checked (an unset secret is a placeholder), names
    known to the registry; exits 1 through ProfileValidationError otherwise."""
    from .errors import ProfileValidationError, summarize

    agent, env = side
    result = loader.check(agent, env, overrides, facets=_facets(args), bucket=args.bucket)
    registry, _ = _registry(args)
    if result.profile is not None and registry is not None:
        result = _with_problems(result, registry.problems(result.profile))
    if result.profile is None:
        raise ProfileValidationError(f"{agent}@{env or '-'}: {summarize(result.problems)}",
                                     [p for p in result.problems if p.severity == "error"])
    _print_problems([p for p in result.problems if p.code != "secret-unavailable"], err)
    return result.profile


def _with_problems(result: CheckResult, found: Sequence[Problem]) -> CheckResult:
    if not found:
        return result
    from dataclasses import replace

    from .errors import sorted_problems

    return replace(result, problems=sorted_problems([*result.problems, *found]), profile=None)


def _cmd_wire(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import json

    _require_sdk("wire")
    from .wire import sdk_versions, session_wire, sip_accept_body

    loader = _loader(args)
    profile = _wire_profile(args, loader, (args.agent, args.env), args.overrides, err)
    registry, label = _registry(args)
    if args.sip:
        data: Any = sip_accept_body(profile, registry)
    else:
        wire = session_wire(profile, registry)
        data = {"profile": {"agent": profile.agent, "env": profile.env,
                            "facets": profile.facets, "fingerprint": profile.fingerprint},
                "versions": sdk_versions(), "registry": label, **wire.to_data()}
    json.dump(data, out, indent=2, ensure_ascii=False)
    out.write("\n")
    return EXIT_OK


def _cmd_snapshot(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    _require_sdk("snapshot")
    from . import _snapshot
    from ._matrix import facet_filter
    from .errors import UsageError
    from .loader import Loader

    environ: dict[str, str] = {}
    for text in args.environ:
        name, sep, value = text.partition("=")
        if not sep or not name:
            raise UsageError(f"--environ {text!r}: write it as NAME=VALUE")
        environ[name] = value
    _loader(args)  # the root exists, the plugins import
    # sealed: no local.yaml, no variable but those given (see _snapshot)
    loader = Loader(args.root, local=False, environ=environ,
                    resolvers=_plugins(args).resolvers or None)
    matrix = _combinations(loader, args)
    if len(matrix) > args.max_combinations:
        raise UsageError(f"the matrix has {len(matrix)} combinations, over "
                         f"--max-combinations {args.max_combinations}: narrow it (AGENT..., "
                         "--env, --facet) or raise the limit")
    registry, label = _registry(args)
    taken = _snapshot.take(loader, matrix, registry, label)
    scope = _snapshot.in_scope_of(args.agents or None, args.envs or None,
                                  facet_filter(loader, args.facets))
    directory = Path(args.dir)
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"--dir {args.dir!r} is not a directory")
    if args.check:
        report = _snapshot.check(directory, taken, scope, _snapshot.replayer(registry))
        summary = report.summary()
    else:
        report = _snapshot.write(directory, taken, scope)
        summary = _written(report, directory)
    if args.format == "json":
        import json

        json.dump({"ok": report.ok if args.check else not report.count("invalid"),
                   "summary": summary, "directory": str(directory),
                   "snapshots": [f.to_data() for f in report.findings]}, out, indent=2,
                  ensure_ascii=False)
        out.write("\n")
    else:
        for line in _snapshot.render(report) if args.check else _write_lines(report):
            print(line, file=out)
        print(summary, file=out)
    if args.check:
        return EXIT_OK if report.ok else EXIT_INVALID
    return EXIT_INVALID if report.count("invalid") or report.count("unreadable") else EXIT_OK


def _written(report: Any, directory: Path) -> str:
    if report.count("unreadable"):
        return f"nothing written to {directory}: {report.count('unreadable')} in the way"
    if report.count("invalid"):
        return (f"nothing written to {directory}: {report.count('invalid')} profile"
                f"{'s' * (report.count('invalid') != 1)} do not validate")
    written = report.count("changed") + report.count("missing")
    total = len(report.findings) - report.count("stale")
    return (f"{total} snapshot{'s' * (total != 1)} in {directory}: {written} written, "
            f"{report.count('match')} unchanged, {report.count('stale')} removed")


def _write_lines(report: Any) -> Any:
    from . import _snapshot

    for finding in report.findings:
        if finding.status in ("invalid", "unreadable"):
            yield from _snapshot.render(type(report)([finding]))
        elif finding.status in ("changed", "missing"):
            yield f"wrote {finding.name} ({finding.label})"
        elif finding.status == "stale":
            yield f"removed {finding.name} ({finding.label})"


def _wire_diff(args: argparse.Namespace, loader: Loader, sides: list[tuple[str, str | None]],
               out: TextIO, err: TextIO) -> int:
    """`diff A B --wire`: the live update from A to B, and what it cannot change."""
    import json

    _require_sdk("diff --wire")
    from .live import plan_update

    profiles = [_wire_profile(args, loader, side, (), err) for side in sides]
    registry, _ = _registry(args)
    plan = plan_update(profiles[0], profiles[1], registry)
    labels = [f"{a}@{e or '-'}" for a, e in sides]
    if args.format == "json":
        json.dump({"from": labels[0], "to": labels[1], **plan.to_data()}, out, indent=2,
                  ensure_ascii=False)
        out.write("\n")
    else:
        fields = ", ".join(plan.fields) or "none"
        print(f"# the session.update that moves a live session from {labels[0]} to "
              f"{labels[1]} (fields: {fields})", file=out)
        print(plan.render(), file=out)
        refused = len(plan.refusals)
        print(f"{len(plan.fields)} field{'s' * (len(plan.fields) != 1)} to send, {refused} "
              f"refused, {len(plan.problems) - refused} for new sessions only", file=out)
    return EXIT_OK if plan.event is None and not plan.problems else EXIT_INVALID


_COMMANDS = {
    "list": _cmd_list,
    "show": _cmd_show,
    "validate": _cmd_validate,
    "explain": _cmd_explain,
    "diff": _cmd_diff,
    "schema": _cmd_schema,
    "wire": _cmd_wire,
    "snapshot": _cmd_snapshot,
    "build": _cmd_build,
    "export": _cmd_export,
}
