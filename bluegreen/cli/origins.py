"""Where the names in a not-found error came from: the spec file's key (or its environment's
overlay) for the cluster and the service, and --region, the spec, AWS_REGION /
AWS_DEFAULT_REGION or the profile's config for the region. The AWS layer says what is missing
and what exists; the CLI, which knows the spec and the options, adds this."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from bluegreen.errors import BluegreenError, ServiceNotFound

if TYPE_CHECKING:
    from bluegreen.cli.context import Options
    from bluegreen.spec.model import Spec


def region_origin(opts: Options, spec: Spec | None) -> str:
    """Where the region of this run's AWS session comes from (the session's own precedence:
    aws/session.py)."""
    if opts.region:
        return "--region"
    if spec is not None and spec.region:
        return spec.where(("region",))
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if os.environ.get(name):
            return name
    profile = opts.profile or os.environ.get("AWS_PROFILE") or "default"
    return f"the {profile!r} profile in the AWS config file"


def name_origin(spec: Spec, key: str) -> str:
    """`bluegreen.yaml:3: cluster`, with the environment when --env is given (its overlay
    may be what set the key: the line says which)."""
    where = spec.where((key,))
    return f"{where} (with --env {spec.env})" if spec.env else where


def _spec_of(opts: Options) -> Spec | None:
    """The run's spec, read again (it was valid: the command got as far as AWS)."""
    from bluegreen.spec.load import load_spec

    if not (opts.config_given or opts.config.exists()):
        return None
    try:
        return load_spec(opts.config, opts.env)
    except BluegreenError:
        return None


def with_origins(exc: BluegreenError, opts: Options) -> BluegreenError:
    """A ServiceNotFound of one of this run's specs, its hint extended with where the cluster,
    the service and the region came from; any other error as it is."""
    if not isinstance(exc, ServiceNotFound):
        return exc
    spec = _spec_of(opts)
    if spec is None or (spec.cluster, spec.service) != (exc.cluster, exc.service):
        return exc  # not the run's spec (a deployment id alone, another spec of a fan-out)
    lines = [
        f"cluster from {name_origin(spec, 'cluster')}",
        f"service from {name_origin(spec, 'service')}",
        f"region from {region_origin(opts, spec)}",
    ]
    exc.hint = "; ".join([*([exc.hint] if exc.hint else []), *lines])
    return exc
