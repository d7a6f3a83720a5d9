"""Options that several verbs share, declared once so their names, metavars and help agree."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
        "--vars-file", metavar="FILE", help="YAML/JSON mapping of template variables (repeatable)."
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
    ),
]
