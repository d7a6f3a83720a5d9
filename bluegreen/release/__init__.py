"""Use cases and pure decisions: spec, images, render, plan, monitor, journal."""

from __future__ import annotations

from collections.abc import Sequence

from bluegreen.errors import BluegreenError, UsageError


class Problems(UsageError):
    """Several bad-input findings reported together (exit 2), each one a BluegreenError."""

    kind = "problems"

    def __init__(self, problems: Sequence[BluegreenError], *, subject: str) -> None:
        self.problems = list(problems)
        lines = [f"{len(self.problems)} problems in {subject}:"]
        lines += [f"  - {p.render()}".replace("\n", "\n    ") for p in self.problems]
        super().__init__("\n".join(lines))


def raise_problems(problems: Sequence[BluegreenError], *, subject: str) -> None:
    """Raise nothing, the one problem, or all of them as `Problems`."""
    if not problems:
        return
    if len(problems) == 1:
        raise problems[0]
    raise Problems(problems, subject=subject)


def flatten(exc: BluegreenError) -> list[BluegreenError]:
    """The individual findings inside an error (itself when it is a single one)."""
    return list(exc.problems) if isinstance(exc, Problems) else [exc]
