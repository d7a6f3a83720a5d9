"""The `bluegreen` command: global options, verb registration, and the one place where
errors become exit codes."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import click
import typer

from bluegreen import __version__
from bluegreen.cli.context import Options, OutputFormat, color_default
from bluegreen.cli.options import no_symlink_loop
from bluegreen.errors import BluegreenError, ExitCode

app = typer.Typer(
    name="bluegreen",
    help="Take a container build to production on Amazon ECS, safely: digest-pinned task "
    "definitions, CodeDeploy blue/green with a watched traffic shift, automatic rollback.",
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
    output: Annotated[
        OutputFormat,
        typer.Option(
            "--output", "-o", help="text, or json: one object per line, the last line the result."
        ),
    ] = OutputFormat.text,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colours or live view.")] = False,
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
    ctx.obj = Options(
        config=config or Path("bluegreen.yaml"),
        config_given=config is not None,
        env=env,
        profile=profile,
        region=region,
        output=output,
        color=not no_color and color_default(),
        verbose=verbose,
    )


def _register() -> None:
    """Each verb module adds its commands; a verb is listed only once it works."""
    from bluegreen.cli import verbs

    verbs.register(app)


_register()


def _report(exc: BluegreenError, verbose: int) -> None:
    if verbose:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    print(f"error: {exc.render()}", file=sys.stderr, flush=True)
    if _in_github_actions():
        first = exc.render().splitlines()[0].replace("%", "%25").replace("\n", "%0A")
        print(f"::error title=bluegreen::{first}", file=sys.stderr, flush=True)


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


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM outside a verb's own handling (before or after a release): stop like Ctrl-C.

    Verbs that change things install their own handlers for the time they need them (e.g. to
    roll back); until then nothing has been written, so ending at once is safe."""
    del signum, frame
    raise KeyboardInterrupt


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    try:
        previous = signal.signal(signal.SIGTERM, _terminated)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code. Exit codes are decided here and only here."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = _verbosity(args)
    try:
        with _sigterm_as_interrupt():
            result = app(args=args, prog_name="bluegreen", standalone_mode=False)
    except BluegreenError as exc:
        _report(exc, verbose)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        print("cancelled", file=sys.stderr)
        return ExitCode.CANCELLED
    except click.ClickException as exc:
        exc.show()
        return ExitCode.USAGE
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return ExitCode.CANCELLED
    except Exception as exc:
        from bluegreen.aws.errors import is_aws_exception, translate

        if is_aws_exception(exc):
            _report(translate(exc), verbose)
            return ExitCode.AWS
        raise
    return int(result) if isinstance(result, int) else ExitCode.OK


def main() -> None:
    sys.exit(run())
