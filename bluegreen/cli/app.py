"""The `bluegreen` command: global options, verb registration, and the one place where
errors become exit codes."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import click
import typer

from bluegreen import __version__
from bluegreen.cli.context import RESULT, Options, OutputFormat, color_default
from bluegreen.cli.options import no_symlink_loop, role_arn_option
from bluegreen.errors import BluegreenError, ExitCode

app = typer.Typer(
    name="bluegreen",
    help="Take a container build to production on Amazon ECS, safely: digest-pinned task "
    "definitions, CodeDeploy blue/green with a watched traffic shift, automatic rollback. "
    "Global options may also follow the verb.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: rich's markdown stack costs ~100 ms of start-up
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"bluegreen {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Spec file.  [default: bluegreen.yaml]",
            show_default=False,
            callback=no_symlink_loop,
        ),
    ] = None,
    env: Annotated[
        str | None, typer.Option("--env", "-e", help="Environment from the spec's `environments`.")
    ] = None,
    profile: Annotated[str | None, typer.Option(help="AWS profile.")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region (overrides the spec).")] = None,
    assume_role: Annotated[
        str | None,
        typer.Option(
            "--assume-role",
            metavar="ARN",
            help="IAM role to assume for every AWS call (overrides the spec's role_arn).",
            callback=role_arn_option,
        ),
    ] = None,
    output: Annotated[
        OutputFormat,
        typer.Option(
            "--output", "-o", help="text, or json: one object per line, the last line the result."
        ),
    ] = OutputFormat.text,
    no_color: Annotated[
        bool,
        typer.Option("--no-color", help="No colours or live view (NO_COLOR: no colours only)."),
    ] = False,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            show_default=False,
            help="More detail; tracebacks on errors.",
        ),
    ] = 0,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    # `run()` hands in the Options it reads back at the end (JSON mode, for the result line)
    opts = ctx.obj if isinstance(ctx.obj, Options) else Options()
    opts.config = config or Path("bluegreen.yaml")
    opts.config_given = config is not None
    opts.env = env
    opts.profile = profile
    opts.region = region
    opts.assume_role = assume_role
    opts.output = output
    opts.color = not no_color and color_default()
    opts.live = not no_color
    opts.verbose = verbose
    ctx.obj = opts


def _register() -> None:
    """Each verb module adds its commands; a verb is listed only once it works."""
    from bluegreen.cli import verbs

    verbs.register(app)


_register()


def _report(exc: BluegreenError, verbose: int) -> None:
    from bluegreen.render.known_secrets import redact_known

    if verbose:
        import traceback

        trace = "".join(traceback.format_exception(exc))
        print(redact_known(trace), end="", file=sys.stderr)
    message = redact_known(exc.render())
    print(f"error: {message}", file=sys.stderr, flush=True)
    if _in_github_actions():
        print(f"::error title=bluegreen::{annotation(message)}", file=sys.stderr, flush=True)


def annotation(text: str) -> str:
    """`text` as the message of a GitHub Actions workflow command: every line kept (a
    multi-line reason stays multi-line in the annotation), `%`, CR and LF escaped."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _in_github_actions() -> bool:
    import os

    return os.environ.get("GITHUB_ACTIONS") == "true"


def _verbosity(argv: list[str]) -> int:
    count = 0
    for arg in argv:
        if arg == "--verbose":
            count += 1
        elif arg.startswith("-") and not arg.startswith("--") and set(arg[1:]) == {"v"}:
            count += len(arg) - 1
    return count


_INTERRUPTED: list[int] = []  # the signals that ended the run by raising KeyboardInterrupt


def _terminated(signum: int, frame: object) -> None:
    """SIGINT or SIGTERM outside a verb's own handling (before or after a release): stop like
    Ctrl-C, and remember it (see `main`).

    Verbs that change things install their own handlers for the time they need them (e.g. to
    roll back); until then nothing has been written, so ending at once is safe."""
    del frame
    _INTERRUPTED.append(signum)
    raise KeyboardInterrupt


@contextmanager
def _signals_as_interrupt() -> Iterator[None]:
    try:
        previous = {s: signal.signal(s, _terminated) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code. Exit codes are decided here and only here.

    With `--output json` every exit ends with one result line on stdout,
    `{"event": "result", ..., "exitCode": N, "reason": "..."}`: the verb's own result fields
    (held back by `Out.json`, see `context.RESULT`) merged with the exit code decided here."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = _verbosity(args)
    opts = Options()  # filled by the root callback and by global options given after the verb
    RESULT.start()
    try:
        code, reason, extra = _invoke(args, opts, verbose)
    except BaseException as exc:  # a crash: the JSON contract still holds, then the traceback
        held = RESULT.take()
        if opts.json or _json_in_argv(args):
            _print_result(held, ExitCode.FAILED, f"internal error: {type(exc).__name__}", {})
        raise
    held = RESULT.take()
    asked_help = held is None and code == ExitCode.OK and _asks_for_help(args)
    if (opts.json or _json_in_argv(args)) and not asked_help:
        _print_result(held, code, reason, extra)
    return code


def _invoke(args: list[str], opts: Options, verbose: int) -> tuple[int, str, dict[str, Any]]:
    """Run the command; its exit code, the reason for it and the error's fields."""
    try:
        with _signals_as_interrupt():
            result = _command().main(
                args=args, prog_name="bluegreen", standalone_mode=False, obj=opts
            )
    except BluegreenError as exc:
        from bluegreen.cli.origins import with_origins

        exc = with_origins(exc, opts)  # a missing cluster/service: where its name came from
        _report(exc, verbose)
        return exc.exit_code, _head(exc), _error_fields(exc)
    except click.exceptions.Exit as exc:
        return _plain_exit(int(exc.exit_code))
    except click.exceptions.Abort:
        print("cancelled", file=sys.stderr)
        return ExitCode.CANCELLED, "cancelled", {"kind": "cancelled"}
    except click.ClickException as exc:
        exc.show()
        where = None
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            where = exc.ctx.command_path
        message = exc.format_message()
        return ExitCode.USAGE, f"{where}: {message}" if where else message, {"kind": "usage"}
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return ExitCode.CANCELLED, "cancelled", {"kind": "cancelled"}
    except Exception as exc:
        from bluegreen.aws.errors import is_aws_exception, translate

        if is_aws_exception(exc):
            error = translate(exc)
            _report(error, verbose)
            return ExitCode.AWS, _head(error), _error_fields(error)
        raise
    return _plain_exit(int(result) if isinstance(result, int) else ExitCode.OK)


def _plain_exit(code: int) -> tuple[int, str, dict[str, Any]]:
    """An exit with no error to report (typer turns Ctrl-C into exit 130 on its own)."""
    if code == ExitCode.CANCELLED:
        return code, "cancelled", {"kind": "cancelled"}
    return code, "ok" if code == ExitCode.OK else f"exit {code}", {}


def _head(exc: BluegreenError) -> str:
    return f"{exc.where}: {exc.message}" if exc.where else exc.message


def _error_fields(exc: BluegreenError) -> dict[str, Any]:
    fields: dict[str, Any] = {"kind": exc.kind}
    if exc.hint:
        fields["hint"] = exc.hint
    return fields


def _print_result(
    held: dict[str, Any] | None, code: int, reason: str, extra: dict[str, Any]
) -> None:
    """The last stdout line: the verb's result fields (if it had any) with the exit code this
    entry point decided, and the verb's reason when it is the reason for this exit."""
    import json

    line: dict[str, Any] = {"event": "result", **(held or {})}
    verb_reason = line.get("reason")
    keep = isinstance(verb_reason, str) and line.get("exitCode", code) == code
    line["exitCode"] = code
    line["reason"] = verb_reason if keep else reason
    for key, value in extra.items():
        line.setdefault(key, value)
    from bluegreen.render.known_secrets import redact_known_doc

    print(json.dumps(redact_known_doc(line), default=str), file=sys.stdout, flush=True)


def _json_in_argv(args: list[str]) -> bool:
    """`--output json` asked for on the command line (for exits before the options are read,
    e.g. a usage error of click's)."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg in ("--output", "-o"):
            if i + 1 < len(args) and args[i + 1] == "json":
                return True
        elif arg in ("--output=json", "-ojson", "-o=json"):
            return True
    return False


def _asks_for_help(args: list[str]) -> bool:
    """--help or --version: stdout carries the help text, not JSON lines."""
    return any(a in ("--help", "-h", "--version") for a in args)


_COMMAND: click.Command | None = None


def _command() -> click.Command:
    """The click command behind `app`, built once per process, with the global options
    accepted after the verb too."""
    global _COMMAND
    if _COMMAND is None:
        command = typer.main.get_command(app)
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                _accept_globals(sub)
        _COMMAND = command
    return _COMMAND


# The global options, as a verb accepts them after its name: (option strings, name, kind).
_GLOBALS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("--config", "-c"), "config", "path"),
    (("--env", "-e"), "env", "text"),
    (("--profile",), "profile", "text"),
    (("--region",), "region", "text"),
    (("--assume-role",), "assume_role", "text"),
    (("--output", "-o"), "output", "output"),
    (("--no-color",), "no_color", "flag"),
    (("--verbose", "-v"), "verbose", "count"),
)


def _accept_globals(command: click.Command) -> None:
    """Add the global options to `command` (and its subcommands) wherever the command has no
    option of that name itself (deploy's and validate's own repeatable `-c` stay theirs). Given
    after the verb they override what was given before it."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_globals(sub)
    taken = {opt for param in command.params for opt in param.opts + param.secondary_opts}
    for decls, name, kind in _GLOBALS:
        free = [d for d in decls if d not in taken]
        if not free:
            continue
        extra: dict[str, Any] = {}
        if kind == "flag":
            extra = {"is_flag": True, "default": False}
        elif kind == "count":
            extra = {"count": True, "default": 0}
        elif kind == "output":
            extra = {"type": click.Choice([f.value for f in OutputFormat]), "metavar": "FORMAT"}
        option = click.Option(
            [f"global_{name}", *free],
            expose_value=False,
            hidden=True,
            callback=_set_global,
            **extra,
        )
        command.params.append(option)


def _set_global(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Apply a global option given after the verb to the run's Options."""
    from click.core import ParameterSource

    if ctx.get_parameter_source(param.name or "") is not ParameterSource.COMMANDLINE:
        return
    opts = ctx.find_root().obj
    if not isinstance(opts, Options):  # pragma: no cover - run() and root() always set it
        return
    name = (param.name or "").removeprefix("global_")
    if name == "config":
        path = no_symlink_loop(Path(value))
        opts.config, opts.config_given = path, True
    elif name == "output":
        opts.output = OutputFormat(value)
    elif name == "no_color":
        opts.color = opts.color and not value
        opts.live = opts.live and not value
    elif name == "verbose":
        opts.verbose += int(value)
    elif name == "assume_role":
        opts.assume_role = role_arn_option(value)
    else:
        setattr(opts, name, value)


def main() -> None:
    code = run()
    if _INTERRUPTED:
        # A KeyboardInterrupt raised inside eval() or exec() of a string (typer reading the
        # verbs' annotations, a dataclass or namedtuple being made by a lazy import) leaves
        # CPython's "unhandled KeyboardInterrupt" flag set even though it was caught here, and
        # the interpreter would then end itself by SIGINT instead of with this exit code.
        # Everything is written and the release handled: flush and leave with the code.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
