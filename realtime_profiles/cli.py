"""The `realtime-profiles` command line (also `python -m realtime_profiles`).

argparse, because it costs nothing at start-up and the commands are few; click or typer would
add their import time to every CI run for features we do not need. Only argparse is imported
at module level: each command imports the stages it uses, so `--help` stays instant and
`validate` never imports the SDK.

`main(argv, stdout, stderr) -> int` is the whole program: one place maps errors to a message
and an exit code (0 ok, 1 invalid, 2 usage), and tests call it in-process.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from .errors import Problem
    from .loader import Loader
    from .profile import CheckResult

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2

_EPILOG = """\
overrides (show, explain):
  key=value      replace a key the profile sets      model_settings.voice=verse
  +key=value     add a key the profile does not set  +model_settings.speed=1.2
  ++key=value    add or replace                      ++model_config.url=wss://example
  ~key           delete a key                        ~model_settings.tracing
  key+=[a,b]     append to a list                    output_guardrails+=[no_refund_promises]
  key="'text'"   quote to keep a string              model_settings.voice="'123'"
  Keys are relative to run_config unless they start with run_config., model_config.,
  vars., start_messages or client_messages; a key the schema does not know is refused
  with did-you-mean. Values are YAML 1.2: true, 0.5, [audio], {type: server_vad}.

environment:
  REALTIME_PROFILES_ROOT   default for --root (else ./profiles)
  REALTIME_PROFILES_ENV    default for --env
  REALTIME_PROFILES__RUN_CONFIG__MODEL_SETTINGS__VOICE=verse
                           a layer above the files and below command-line overrides
  NO_COLOR                 never colour the output

exit status: 0 valid, 1 invalid profile (or differences, for diff), 2 usage error.
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
    # Long by nature: one declaration per command and option, read top to bottom like the
    # --help it produces; splitting it would only scatter the CLI's one description.
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
    from . import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    # The global options are accepted after the command too (`validate --no-local`); there
    # they default to "not given", so the values before the command stand.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("--no-local", action="store_true", default=argparse.SUPPRESS,
                        help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                parser_class=functools.partial(_Parser, stdout=stdout,
                                                               parents=[common]))  # type: ignore[call-overload]

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
    show.add_argument("overrides", nargs="*", default=[], metavar="OVERRIDE",
                      help="key=value, +key=value, ++key=value, ~key, key+=[...]")

    validate = sub.add_parser("validate", help="check every agent in every environment")
    validate.add_argument("agents", nargs="*", default=[], metavar="AGENT",
                          help="default: every agent")
    validate.add_argument("--env", action="append", dest="envs", metavar="ENV",
                          help="an environment to check (repeatable; default: all)")
    validate.add_argument("--strict", action="store_true", help="treat warnings as errors")
    validate.add_argument("--format", choices=("text", "json"), default="text",
                          help="json: one object with every problem, for CI tools")

    explain = sub.add_parser("explain", help="where a key's value comes from, layer by layer")
    explain.add_argument("agent", help="an agent under ROOT/agents")
    explain.add_argument("key", help="dotted, relative to run_config unless prefixed")
    explain.add_argument("--env", default=default_env,
                         help="an environment (default: $REALTIME_PROFILES_ENV)")
    explain.add_argument("overrides", nargs="*", default=[], metavar="OVERRIDE",
                         help="applied before explaining, shown as 'from the command line'")

    diff = sub.add_parser("diff", help="leaf-level differences between two profiles")
    diff.add_argument("profiles", nargs="+", metavar="AGENT[@ENV]",
                      help="one agent with two --env, or two AGENT@ENV")
    diff.add_argument("--env", action="append", dest="envs", metavar="ENV", default=[],
                      help="repeat for the two sides")

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
    return parser


def _parse(argv: list[str], out: TextIO) -> argparse.Namespace:
    """Overrides may come before or after options (`show a k=v --format json`)."""
    parser = _parser(out)
    args, extra = parser.parse_known_args(argv)
    if extra:
        if getattr(args, "overrides", None) is None or any(e.startswith("-") for e in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = [*args.overrides, *extra]
    return args


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Run one command; return its exit status. Never raises for a user's mistake."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    try:
        args = _parse(list(sys.argv[1:] if argv is None else argv), out)
    except _ArgError as exc:
        print(exc, file=err)
        return EXIT_USAGE
    except _HelpShown as shown:
        return shown.status
    if args.command is None:
        _parser(out).print_help()
        return EXIT_USAGE
    from .errors import ProfileError

    try:
        return int(_COMMANDS[args.command](args, out, err))
    except ProfileError as exc:
        _print_problems(exc.problems, err)
        print(f"{_color('error', err)}: {exc.message}", file=err)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:  # an unreadable folder or file under the root: the machine's
        # state, not a bug; say which path and why, never a traceback
        where = f" {exc.filename!r}" if exc.filename else ""
        print(f"{_color('error', err)}: cannot read{where}: {exc.strerror or exc}", file=err)
        return 1


def main_entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


# -- output helpers ------------------------------------------------------------------------

def _use_color(stream: TextIO) -> bool:
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


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


def _loader(args: argparse.Namespace) -> Loader:
    from .errors import UsageError
    from .loader import Loader

    root = args.root
    if not Path(root).is_dir():
        raise UsageError(f"profile root {root!r} is not a directory (use --root DIR or set "
                         "REALTIME_PROFILES_ROOT)")
    return Loader(root, local=not args.no_local)


# -- commands ------------------------------------------------------------------------------

def _cmd_list(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    tree = _loader(args).tree()
    print(f"root: {tree.root}", file=out)
    print("agents: " + (", ".join(tree.agents) or "(none)"), file=out)
    print("environments: " + (", ".join(tree.envs) or "(none)"), file=out)
    pairs = [f"{a}@{e}" for a, e in tree.agent_envs()]
    print("agent@env files: " + (", ".join(pairs) or "(none)"), file=out)
    return EXIT_OK


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
    if args.show_secrets:
        profile = loader.load(args.agent, args.env, args.overrides, strict=args.strict)
        _note_no_env(loader, args, err)
        _print_problems(profile.warnings, err)
        document = profile.document()
    else:
        result = loader.check(args.agent, args.env, args.overrides, strict=args.strict)
        _note_no_env(loader, args, err)
        _print_problems(result.problems, err)
        if result.profile is None:
            from .errors import summarize

            print(f"{_color('error', err)}: {args.agent}@{args.env or '-'}: "
                  f"{summarize(result.problems)}", file=err)
            return EXIT_INVALID
        document = result.profile.redacted()
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


def _combinations(loader: Loader, agents: Sequence[str],
                  envs: Sequence[str] | None) -> list[tuple[str, str | None]]:
    from ._tree import unknown_name
    from .errors import UsageError

    tree = loader.tree()
    chosen_agents = list(agents) or list(tree.agents)
    chosen_envs: list[str | None] = list(envs) if envs else list(tree.envs) or [None]
    messages = [unknown_name("agent", a, tree.agents) for a in chosen_agents
                if not tree.has_agent(a)]
    messages += [unknown_name("environment", e, tree.envs) for e in chosen_envs
                 if e is not None and not tree.has_env(e)]
    if messages:
        raise UsageError("; ".join(messages))
    if not chosen_agents:
        raise UsageError(f"no agents under {tree.root / 'agents'}")
    return [(a, e) for a in chosen_agents for e in chosen_envs]


def _cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .errors import sorted_problems, summarize

    loader = _loader(args)
    results: list[CheckResult] = [
        loader.check(agent, env, strict=args.strict)
        for agent, env in _combinations(loader, args.agents, args.envs)
    ]
    where: dict[Problem, list[str]] = {}
    for result in results:
        for problem in result.problems:
            where.setdefault(problem, []).append(f"{result.agent}@{result.env or '-'}")
    from dataclasses import replace

    from ._tree import stray_files

    strays = [replace(p, severity="error") if args.strict else p
              for p in stray_files(loader.tree())]
    for problem in strays:
        where.setdefault(problem, [])
    problems = sorted_problems(where)
    invalid = sum(1 for r in results if not r.ok)
    summary = (f"{len(results)} profile{'s' * (len(results) != 1)} checked: "
               f"{len(results) - invalid} valid, {invalid} invalid; {summarize(problems)}")
    if args.format == "json":
        import json

        payload = {
            "ok": invalid == 0,
            "summary": summary,
            "profiles": [{"agent": r.agent, "env": r.env, "ok": r.ok,
                          "errors": len(r.errors),
                          "warnings": len(r.problems) - len(r.errors)} for r in results],
            "problems": [{**p.as_dict(), "profiles": where[p]} for p in problems],
        }
        json.dump(payload, out, indent=2)
        out.write("\n")
    else:
        suffix = {i: f" [{', '.join(where[p])}]" if where[p] else ""
                  for i, p in enumerate(problems)}
        _print_problems(problems, err, suffix)
        print(summary, file=out)
    return EXIT_INVALID if invalid or any(p.severity == "error" for p in strays) else EXIT_OK


def _cmd_explain(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    loader = _loader(args)
    explanation = loader.explain(args.agent, args.env, args.key, args.overrides)
    _note_no_env(loader, args, err)
    print(explanation.render(), file=out)
    return EXIT_OK


def _split_profile(text: str, envs: list[str]) -> tuple[str, str | None]:
    if "@" in text:
        agent, env = text.split("@", 1)
        return agent, env or None
    return text, envs.pop(0) if envs else None


def _cmd_diff(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .errors import UsageError

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
    documents = []
    for agent, env in sides:
        result = loader.check(agent, env)
        if result.profile is None:
            _print_problems(result.problems, err)
            raise UsageError(f"{agent}@{env or '-'} does not validate; fix it before diffing")
        documents.append(result.profile.redacted())
    labels = [f"{a}@{e or '-'}" for a, e in sides]
    width = max(len(label) for label in labels)
    differences = 0
    import json

    for path, left, right in _leaf_diff(documents[0], documents[1], ()):
        differences += 1
        from ._paths import render_path

        key = render_path(path)
        print(key, file=out)
        for (agent, env), label, value in zip(sides, labels, (left, right), strict=True):
            shown = "(absent)" if value is _ABSENT else json.dumps(value, ensure_ascii=False)
            origin = ""
            if value is not _ABSENT:
                writes = loader.explain_path(agent, env, path).writes
                origin = f"  {writes[-1].describe()}" if writes else ""
            print(f"  {label.ljust(width)}  {shown}{origin}", file=out)
    print(f"{differences} difference{'s' * (differences != 1)} between {labels[0]} and "
          f"{labels[1]}", file=out)
    return EXIT_INVALID if differences else EXIT_OK


_ABSENT: Any = object()


def _leaf_diff(left: Any, right: Any, path: tuple[Any, ...]) -> list[tuple[Any, Any, Any]]:
    if isinstance(left, dict) and isinstance(right, dict):
        found = []
        for key in [*left, *(k for k in right if k not in left)]:
            found += _leaf_diff(left.get(key, _ABSENT), right.get(key, _ABSENT), (*path, key))
        return found
    if left != right or type(left) is not type(right):
        return [(path, left, right)]
    return []


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


_COMMANDS = {
    "list": _cmd_list,
    "show": _cmd_show,
    "validate": _cmd_validate,
    "explain": _cmd_explain,
    "diff": _cmd_diff,
    "schema": _cmd_schema,
}
