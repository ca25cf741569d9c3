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
  key+=[a,b]     append to a list                    model_settings.output_guardrails+=[x]
  Keys are relative to run_config unless they start with run_config., model_config.,
  vars., start_messages or client_messages. Values are YAML: true, 0.5, [audio],
  {type: server_vad}; quote to keep a string: model_settings.voice="'123'".

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
    from .errors import printable

    tree = _loader(args).tree()
    print(f"root: {printable(str(tree.root))}", file=out)
    print("agents: " + (", ".join(tree.agents) or "(none)"), file=out)
    print("environments: " + (", ".join(tree.envs) or "(none)"), file=out)
    pairs = [f"{a}@{e}" for a, e in tree.agent_envs()]
    print("agent@env files: " + (", ".join(pairs) or "(none)"), file=out)
    return EXIT_OK


def _cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    loader = _loader(args)
    if args.show_secrets:
        profile = loader.load(args.agent, args.env, args.overrides, strict=args.strict)
        _print_problems(_capped(profile.warnings), err)
        document = profile.document()
    else:
        result = loader.check(args.agent, args.env, args.overrides, strict=args.strict)
        if result.profile is None:
            from .errors import summarize

            return _fail(f"{args.agent}@{args.env or '-'}: {summarize(result.problems)}",
                         EXIT_INVALID, result.problems, out, err,
                         json_wanted=args.format == "json")
        _print_problems(_capped(result.problems), err)
        document = result.profile.redacted()
    _dump(document, args.format, out)
    return EXIT_OK


def _dump(document: Any, fmt: str, out: TextIO) -> None:
    if fmt == "json":
        import json

        json.dump(document, out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        import yaml

        yaml.safe_dump(document, out, sort_keys=False, allow_unicode=True, width=100)


def _combinations(loader: Loader, agents: Sequence[str],
                  envs: Sequence[str] | None) -> list[tuple[str, str | None]]:
    from ._tree import unknown_name
    from .errors import UsageError

    tree = loader.tree()
    # each combination once, however often it is named (`validate a a --env p --env p`)
    chosen_agents = list(dict.fromkeys(agents)) or list(tree.agents)
    chosen_envs: list[str | None] = list(dict.fromkeys(envs)) if envs else \
        list(tree.envs) or [None]
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
    shown, omitted = _shown_per_combination(problems, where)
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
                          "warnings": len(r.problems) - len(r.errors),
                          "omitted": omitted.get(f"{r.agent}@{r.env or '-'}", 0)}
                         for r in results],
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
        print(summary, file=out)
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

    explanation = _loader(args).explain(args.agent, args.env, args.key, args.overrides)
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
    differences = loader.diff(sides[0], sides[1])  # each side composed once
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
