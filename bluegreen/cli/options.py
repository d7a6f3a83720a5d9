"""Options that several verbs share, declared once so their names, metavars and help agree."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Annotated, TypeVar

import typer

P = TypeVar("P", Path, list[Path], None)


def no_symlink_loop(value: P) -> P:
    """A file option's paths, refused (exit 2, naming the path) when one is a symlink loop:
    reading it would fail deep inside, or resolving it raise, far from the option."""
    from bluegreen.errors import UsageError

    paths: list[Path] = value if isinstance(value, list) else [value] if value is not None else []
    for path in paths:
        try:
            os.stat(path)
            path.resolve()
        except RuntimeError:  # Path.resolve on a loop (Python < 3.13)
            pass
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                continue  # missing or unreadable: the reader says so, naming the file
        else:
            continue
        raise UsageError(
            "this path is a symlink loop (or too many symlinks deep)",
            where=str(path),
            hint="name the file itself, or fix the links",
        )
    return value


def role_arn_option(value: str | None) -> str | None:
    """--assume-role's ARN, refused (exit 2) unless it names an IAM role."""
    import re

    from bluegreen.aws.session import ROLE_ARN_PATTERN
    from bluegreen.errors import UsageError

    if value is not None and not re.match(ROLE_ARN_PATTERN, value):
        raise UsageError(
            f"{value!r} is not an IAM role ARN",
            where="--assume-role",
            hint="write arn:aws:iam::ACCOUNT:role/NAME (the role to assume for this release)",
        )
    return value


ImageOpt = Annotated[
    list[str] | None,
    typer.Option("--image", metavar="CONTAINER=REF", help="Image for one container (repeatable)."),
]
VarOpt = Annotated[
    list[str] | None,
    typer.Option("--var", metavar="K=V", help="Template variable vars.K (repeatable)."),
]
VarsFileOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--vars-file",
        metavar="FILE",
        help="YAML/JSON mapping of template variables (repeatable).",
        callback=no_symlink_loop,
    ),
]
OfflineOpt = Annotated[
    bool,
    typer.Option(
        "--offline", help="No AWS reads: no digest resolution, AppSpec defaults from the spec only."
    ),
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the plan; write nothing.")]
NoWaitOpt = Annotated[bool, typer.Option("--no-wait", help="Start the deployment and return.")]
RollbackOpt = Annotated[
    bool,
    typer.Option(
        "--rollback",
        help="Rolling update: return to the previous revision on failure when the service's "
        "circuit breaker does not.",
    ),
]
WaitForWindowOpt = Annotated[
    bool,
    typer.Option("--wait-for-window", help="Outside the release window: wait until it opens."),
]
ConfigsOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--config",
        "-c",
        help="Spec file or folder of specs; repeat for several (default: the global --config).",
        callback=no_symlink_loop,
    ),
]
