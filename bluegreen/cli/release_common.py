"""What the release verbs share: the spec (when there is one), the group and the journal."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws
    from bluegreen.cli.context import Options
    from bluegreen.engines import EngineKind
    from bluegreen.engines.codedeploy.ops import Target
    from bluegreen.journal import Journal
    from bluegreen.spec.model import Spec


def load_target(
    opts: Options, deployment_id: str | None = None
) -> tuple[Aws, Spec | None, Target, Journal]:
    """With a deployment id and no spec file, the group comes from the deployment itself; with
    a spec, the id must be a deployment of the spec's group (else exit 2, before any write)."""
    from bluegreen.engines.codedeploy.ops import (
        owned_deployment,
        target_from_deployment,
        target_from_spec,
    )
    from bluegreen.journal import Journal, journal_path
    from bluegreen.spec.load import load_spec

    spec: Spec | None = None
    if opts.config_given or opts.config.exists() or deployment_id is None:
        spec = load_spec(opts.config, opts.env)
    aws = opts.aws(spec.region if spec else None, spec)
    if spec is not None:
        target = target_from_spec(aws, spec)
        if deployment_id is not None:
            owned_deployment(aws, target, deployment_id)
    else:
        assert deployment_id is not None
        target = target_from_deployment(aws, deployment_id)
    journal = Journal(journal_path(spec.path if spec else None))
    return aws, spec, target, journal


Found = tuple["Aws", "Spec", "EngineKind"]
# The command's answer, kept for the rest of the command: a verb that looks its way up and then
# loads what that way needs reads the spec and the live service once (one slot: one command).
_last: tuple[Options, Found | None] | None = None


def load_engine(opts: Options) -> Found | None:
    """The session, spec and engine of the spec's service (`engines.select`: exit 2 for a
    service no engine of bluegreen's releases); None when no spec file is there (a deployment
    id alone, which names a CodeDeploy deployment)."""
    global _last
    from bluegreen.engines import engine_of
    from bluegreen.spec.load import load_spec

    if _last is not None and _last[0] is opts:
        return _last[1]
    found: Found | None = None
    if opts.config_given or opts.config.exists():
        spec = load_spec(opts.config, opts.env)
        aws = opts.aws(spec.region, spec)
        found = (aws, spec, engine_of(aws, spec))
    _last = (opts, found)
    return found


def engine_kind(found: tuple[Aws, Spec, EngineKind] | None) -> EngineKind:
    """The engine `load_engine` found; CodeDeploy for a bare deployment id."""
    from bluegreen.engines import EngineKind

    return found[2] if found is not None else EngineKind.CODEDEPLOY


def load_rolling(opts: Options) -> tuple[Aws, Spec] | None:
    """The spec and session when the spec's service is an ECS-controller (rolling) service;
    None for CODE_DEPLOY services and when no spec file is there (a deployment id alone)."""
    from bluegreen.engines import EngineKind

    found = load_engine(opts)
    if found is None or found[2] is not EngineKind.ROLLING:
        return None
    return found[0], found[1]


def load_native(opts: Options) -> tuple[Aws, Spec] | None:
    """The spec and session when the spec's service is an ECS-native (BLUE_GREEN, LINEAR or
    CANARY) service; None otherwise."""
    from bluegreen.engines import EngineKind

    found = load_engine(opts)
    if found is None or found[2] is not EngineKind.ECS_NATIVE:
        return None
    return found[0], found[1]
