"""`promote --from ENV --to ENV`: deploy to one environment exactly the image digests that run
in another.

The source service's live task definition is read, each container's image is mapped to a
digest-pinned reference, and the target is released through the ordinary deploy path with
those as image overrides. A source in the middle of a deployment is refused (what runs there
is not settled yet), and so is an image that has no digest and cannot be resolved to one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bluegreen.errors import DeploymentActive, ImageError, UsageError
from bluegreen.spec.images import parse_image

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws
    from bluegreen.engines.codedeploy.follow import CancelFlag
    from bluegreen.engines.model import Outcome, Output
    from bluegreen.engines.rolling.rollout import Loop
    from bluegreen.release.fanout import ReleaseRequest
    from bluegreen.render.release import ImageResolver
    from bluegreen.spec.model import Spec


@dataclass(frozen=True)
class SourceImages:
    cluster: str
    service: str
    task_definition_arn: str
    images: dict[str, str]  # container -> digest-pinned reference


def check_settled(service: Mapping[str, Any], where: str) -> None:
    """DeploymentActive (exit 1) while a deployment of the source is still going on: an ECS
    rollout or service deployment (more than one deployment listed, or the primary's rollout
    in progress), or a CodeDeploy one (a second task set)."""
    from bluegreen.aws.ecs import live_service
    from bluegreen.engines import EngineKind, engine_kind

    deployments = list(service.get("deployments") or [])
    live = live_service(dict(service), cluster="", service=where)
    ecs_controlled = (EngineKind.ROLLING, EngineKind.ECS_NATIVE)
    if engine_kind(live.deployment_controller, live.deployment_strategy) in ecs_controlled:
        if len(deployments) > 1:
            ids = ", ".join(str(d.get("id")) for d in deployments)
            raise DeploymentActive(
                f"the source service is in the middle of a deployment ({len(deployments)} "
                f"deployments: {ids}); what it runs is not settled",
                where=where,
                hint="wait until its rollout completes (`bluegreen status`), then promote",
            )
        primary = deployments[0] if deployments else {}
        if primary.get("rolloutState") == "IN_PROGRESS":
            raise DeploymentActive(
                f"the source service's deployment {primary.get('id')} is IN_PROGRESS",
                where=where,
                hint="wait until its rollout completes (`bluegreen status`), then promote",
            )
    task_sets = [t for t in service.get("taskSets") or [] if t.get("status") != "DRAINING"]
    if len(task_sets) > 1:
        raise DeploymentActive(
            f"the source service has {len(task_sets)} task sets: a blue/green deployment is "
            "in progress",
            where=where,
            hint="wait until it finishes (`bluegreen watch`), then promote",
        )


def pin_images(
    task_definition: Mapping[str, Any], resolver: ImageResolver | None, where: str
) -> dict[str, str]:
    """container -> digest-pinned image of a live task definition."""
    images: dict[str, str] = {}
    for i, container in enumerate(task_definition.get("containerDefinitions") or []):
        name = str(container.get("name"))
        text = str(container.get("image", ""))
        at = f"{where} containerDefinitions[{i}].image ({name})"
        ref = parse_image(text, at)
        if ref.digest:
            images[name] = text
            continue
        if resolver is None or not ref.is_ecr:
            raise ImageError(
                f"the source image {text} of container {name!r} has no digest and cannot be "
                "resolved to one (only Amazon ECR tags are resolved)",
                where=at,
                hint="deploy the source with a digest-pinned image (pin_digests: true), "
                "then promote",
            )
        resolved = resolver.resolve(ref, at)
        if not resolved.digest:  # pragma: no cover - a resolver returns a digest or raises
            raise ImageError(f"no digest found for {text}", where=at)
        images[name] = f"{resolved.name}@{resolved.digest}"
    return images


def source_images(aws: Aws, spec: Spec) -> SourceImages:
    """The settled, digest-pinned images of the source environment's live service."""
    from bluegreen.aws import codedeploy, ecs
    from bluegreen.aws.ecr import EcrResolver

    where = f"{spec.cluster}/{spec.service}"
    service = ecs.describe_service_raw(aws, spec.cluster, spec.service)
    check_settled(service, where)
    from bluegreen.engines import EngineKind, select

    if select(ecs.live_service(service, cluster=spec.cluster, service=spec.service)) is (
        EngineKind.CODEDEPLOY
    ):
        cd = spec.codedeploy
        active = codedeploy.active_deployments(aws, cd.application, cd.deployment_group)
        if active:
            raise DeploymentActive(
                f"CodeDeploy deployment {active[0]} of the source is still active",
                where=f"{cd.application}/{cd.deployment_group}",
                hint=f"wait for it (`bluegreen watch {active[0]}`), then promote",
            )
    arn = service.get("taskDefinition")
    if not arn:
        raise UsageError("the source service runs no task definition", where=where)
    td = ecs.describe_task_definition(aws, str(arn))
    images = pin_images(td, EcrResolver(aws), f"source {where} {arn}")
    return SourceImages(spec.cluster, spec.service, str(arn), images)


def overrides_for(target_containers: list[str], source: SourceImages) -> dict[str, str]:
    """The source images for the containers the target's task definition has.

    Every target container must get one: a container the source does not run would be
    deployed with whatever the target's spec says, which is not a promotion.
    """
    missing = [c for c in target_containers if c not in source.images]
    if missing:
        raise UsageError(
            f"the target's task definition has container(s) {', '.join(missing)} that the "
            f"source {source.cluster}/{source.service} does not run "
            f"(source containers: {', '.join(sorted(source.images))})",
            hint="promote between environments that run the same containers",
        )
    return {c: source.images[c] for c in target_containers}


def target_containers(aws: Aws, spec: Spec) -> list[str]:
    """The container names of the target's rendered task definition (no writes)."""
    from bluegreen.aws import ecs
    from bluegreen.render.release import render_release

    live = ecs.describe_service(aws, spec.cluster, spec.service)
    rendered = render_release(spec, live=live, aws=aws)
    return [
        str(c.get("name"))
        for c in rendered.task_definition.get("containerDefinitions") or []
        if isinstance(c, dict)
    ]


def promote(
    source: Spec,
    target: Spec,
    source_aws: Aws,
    target_aws: Aws,
    out: Output,
    request: ReleaseRequest,
    *,
    loop: Loop | None = None,
    cancel: CancelFlag | None = None,
) -> Outcome:
    """Release to `target` exactly the digests live in `source`, through the deploy path."""
    import dataclasses

    from bluegreen.release.fanout import prepare_release

    if (source.region, source.cluster, source.service) == (
        target.region,
        target.cluster,
        target.service,
    ):
        raise UsageError(
            f"--from {source.env} and --to {target.env} name the same service "
            f"{source.cluster}/{source.service}",
            where=source.display,
            hint="promote between environments whose cluster or service differ",
        )
    found = source_images(source_aws, source)
    overrides = overrides_for(target_containers(target_aws, target), found)
    out.emit(
        {
            "event": "promote",
            "from": source.env,
            "to": target.env,
            "source": f"{found.cluster}/{found.service}",
            "sourceTaskDefinitionArn": found.task_definition_arn,
            "images": overrides,
        },
        f"promote {source.env} ({found.cluster}/{found.service}, "
        f"{found.task_definition_arn.rsplit('/', 1)[-1]}) -> {target.env} "
        f"({target.cluster}/{target.service}):\n"
        + "\n".join(f"  {name}: {ref}" for name, ref in sorted(overrides.items())),
    )
    runner = prepare_release(
        target,
        target_aws,
        dataclasses.replace(request, image_overrides=overrides),
        loop=loop,
        cancel=cancel,
    )
    return runner(out)
