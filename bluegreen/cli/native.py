"""The ECS-native ways of `stop`, `approve`, `watch`, `history` and `rollback`: each
verb looks its way up with `engines.pick` and lands here for an ECS-native service."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws
    from bluegreen.cli.context import Options
    from bluegreen.spec.model import Spec


def _found(opts: Options) -> tuple[Aws, Spec]:
    from bluegreen.cli.release_common import load_native

    found = load_native(opts)
    assert found is not None  # the verb picked this way for an ECS-native service
    return found


def _timeout(spec: Spec, given: str | None) -> float:
    from bluegreen.engines.ecs_native.plan import DEFAULT_TIMEOUT
    from bluegreen.spec.load import parse_duration

    if given:
        return parse_duration(given, "--timeout")
    return spec.timeout_seconds or DEFAULT_TIMEOUT


def stop(opts: Options, deployment_id: str | None, rollback: bool) -> None:
    from bluegreen.cli.following import following
    from bluegreen.engines.ecs_native import ops
    from bluegreen.engines.ecs_native.apply import Loop
    from bluegreen.journal import Journal, journal_path

    aws, spec = _found(opts)
    with following(opts, "stop") as f:
        outcome = ops.stop(
            aws,
            spec,
            Journal(journal_path(spec.path)),
            f.out,
            deployment_id=deployment_id,
            rollback_too=rollback,
            timeout=_timeout(spec, None),
            loop=f.loop(Loop),
        )
    f.finish(outcome)


def approve(opts: Options, deployment_id: str | None) -> None:
    from bluegreen.engines.ecs_native import ops
    from bluegreen.journal import Journal, journal_path

    aws, spec = _found(opts)
    hooks = ops.approve(aws, spec, Journal(journal_path(spec.path)), deployment_id)
    dep = deployment_id or ""
    opts.out().emit(
        {"event": "approved", "deploymentId": dep or None, "hookIds": hooks},
        f"continued pause hook{'s' if len(hooks) > 1 else ''} {', '.join(hooks)}; follow it "
        "with `bluegreen watch`",
    )


def watch(
    opts: Options, deployment_id: str | None, on_cancel: str | None, timeout: str | None
) -> None:
    from bluegreen.cli.following import following
    from bluegreen.cli.live import resolve_on_cancel
    from bluegreen.engines.ecs_native import ops
    from bluegreen.engines.ecs_native.apply import Loop
    from bluegreen.journal import Journal, journal_path
    from bluegreen.spec.load import parse_duration

    aws, spec = _found(opts)
    with following(opts, "watch", live=True) as f:
        outcome = ops.watch(
            aws,
            spec,
            Journal(journal_path(spec.path)),
            f.out,
            deployment_id=deployment_id,
            timeout=parse_duration(timeout, "--timeout") if timeout else None,
            loop=f.loop(Loop),
            on_cancel=resolve_on_cancel(on_cancel) if on_cancel else "detach",
        )
    f.finish(outcome)


def rollback(opts: Options, timeout: str | None) -> None:
    from bluegreen.cli.following import following
    from bluegreen.engines.ecs_native import ops
    from bluegreen.engines.ecs_native.apply import Loop
    from bluegreen.journal import Journal, journal_path

    aws, spec = _found(opts)
    with following(opts, "rollback") as f:
        outcome = ops.rollback(
            aws,
            spec,
            Journal(journal_path(spec.path)),
            f.out,
            timeout=_timeout(spec, timeout),
            loop=f.loop(Loop),
        )
    f.finish(outcome)


def history(opts: Options, limit: int) -> list[dict[str, object]]:
    from bluegreen.engines.ecs_native import ops
    from bluegreen.journal import Journal, journal_path

    aws, spec = _found(opts)
    return ops.history(aws, spec, Journal(journal_path(spec.path)), limit)
