"""What the release verbs share: the spec (when there is one), the group and the journal."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws
    from bluegreen.cli.context import Options
    from bluegreen.release.journal import Journal
    from bluegreen.release.operations import Target
    from bluegreen.release.spec import Spec


def load_target(
    opts: Options, deployment_id: str | None = None
) -> tuple[Aws, Spec | None, Target, Journal]:
    """With a deployment id and no spec file, the group comes from the deployment itself; with
    a spec, the id must be a deployment of the spec's group (else exit 2, before any write)."""
    from bluegreen.release.journal import Journal, journal_path
    from bluegreen.release.operations import (
        owned_deployment,
        target_from_deployment,
        target_from_spec,
    )
    from bluegreen.release.spec import load_spec

    spec: Spec | None = None
    if opts.config_given or opts.config.exists() or deployment_id is None:
        spec = load_spec(opts.config, opts.env)
    aws = opts.aws(spec.region if spec else None)
    if spec is not None:
        target = target_from_spec(aws, spec)
        if deployment_id is not None:
            owned_deployment(aws, target, deployment_id)
    else:
        assert deployment_id is not None
        target = target_from_deployment(aws, deployment_id)
    journal = Journal(journal_path(spec.path if spec else None))
    return aws, spec, target, journal


def load_rolling(opts: Options) -> tuple[Aws, Spec] | None:
    """The spec and session when the spec's service is an ECS-controller (rolling) service;
    None for CODE_DEPLOY services and when no spec file is there (a deployment id alone)."""
    from bluegreen.release.rolling_ops import is_rolling
    from bluegreen.release.spec import load_spec

    if not (opts.config_given or opts.config.exists()):
        return None
    spec = load_spec(opts.config, opts.env)
    aws = opts.aws(spec.region)
    return (aws, spec) if is_rolling(aws, spec) else None
