"""Rendering a release: the task definition and AppSpec to send, images applied and pinned."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bluegreen.aws.model import LiveService
from bluegreen.errors import (
    BluegreenError,
    ImageError,
    SchemaError,
    SpecError,
    TemplateError,
    UsageError,
    flatten,
    raise_problems,
)
from bluegreen.render.taskdef import READ_ONLY_FIELDS
from bluegreen.spec.images import ImageRef, mutable_tag_notice, parse_image
from bluegreen.spec.load import deep_merge
from bluegreen.spec.model import Spec
from bluegreen.spec.schema import schema_problems
from bluegreen.spec.yaml import (
    JsonPath,
    LazyLines,
    display_path,
    json_path,
    load_document,
    locate,
    read_text,
)

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws
from bluegreen.render.appspec import _appspec, without_load_balancer
from bluegreen.render.checks import check_semantics
from bluegreen.render.documents import _at, _environment_path, _parse_rendered
from bluegreen.render.lookups import Secure
from bluegreen.render.templates import Where, _Templates

_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ImageResolver(Protocol):
    def resolve(self, ref: ImageRef, where: str) -> ImageRef:
        """The same reference with its digest; ImageError (exit 2) when it does not exist."""
        ...


@dataclass(frozen=True)
class Rendered:
    task_definition: dict[str, Any]
    appspec: dict[str, Any]
    images: dict[str, str]
    notices: list[str] = field(default_factory=list)
    # what template lookups read: ("ssm", name), ("cfn", stack), ("s3", bucket, key)
    lookups: tuple[tuple[str, ...], ...] = ()


def appspec_content(appspec: dict[str, Any]) -> tuple[str, str]:
    """The AppSpec as CodeDeploy receives it inline: (JSON text, which is also YAML; sha256)."""
    text = json.dumps(appspec, indent=2, sort_keys=False)
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- the release ------------------------------------------------------------------------------
def render_release(
    spec: Spec,
    *,
    image_overrides: Mapping[str, str] | None = None,
    var_overrides: Mapping[str, str] | None = None,
    vars_files: Sequence[Path] = (),
    resolver: ImageResolver | None = None,
    live: LiveService | None = None,
    task_definition_arn: str | None = None,
    aws: Aws | None = None,
    no_aws: str | None = None,
) -> Rendered:
    """Render, pin and validate the task definition and the AppSpec. Raises exit-2 errors.

    Template lookups (`ssm()`, `cfn_output()`, `tfstate()` of S3) read AWS through `aws`; without
    it they fail (exit 2) saying why (`no_aws`, e.g. "--offline reads no AWS")."""
    from bluegreen.render.lookups import Lookups

    notices: list[str] = []
    lookups = Lookups(aws, spec.folder) if no_aws is None else Lookups(aws, spec.folder, no_aws)
    given = _Given()
    variables = _variables(spec, vars_files, var_overrides or {}, given)
    region = spec.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    base: dict[str, Any] = {
        "vars": variables,
        "env": spec.env,
        "cluster": spec.cluster,
        "service": spec.service,
        "region": region,
        **lookups.functions(),
    }
    templates = _Templates(spec, base)
    lookups.files = templates.files  # the lookups name the template line that calls them

    # 1. images: spec entries (jinja allowed) then --image overrides (literal). Problems are
    #    collected so that one run reports all of them.
    problems: list[BluegreenError] = []
    wanted: dict[str, tuple[str, Where]] = {}  # container -> (reference, where)
    unrendered: set[str] = set()  # reported once: not also as an invalid reference
    for name, text in spec.images.items():
        if name in (image_overrides or {}):
            continue
        where = _spec_place(spec, ("images", name))
        try:
            wanted[name] = (templates.render_string(text, where, base).strip(), where)
        except UsageError as exc:
            problems += flatten(exc)
            wanted[name] = (text, where)
            unrendered.add(name)
    for name, text in (image_overrides or {}).items():
        wanted[name] = (text, _fixed_place(f"--image {name}"))
    pinned: dict[str, str] = {}
    for name, (text, where) in wanted.items():
        if name in unrendered:
            pinned[name] = text
            continue
        try:
            pinned[name] = _pin(
                _parse_image(text, where), text, name, where, spec, resolver, notices
            )
        except UsageError as exc:
            problems += flatten(exc)
            pinned[name] = text
    templates.context = {**base, "images": dict(pinned)}

    # 2. task definition (a template that does not render or parse ends the checks here)
    td_display = display_path(spec.task_definition)
    try:
        td_text = templates.render_file(spec.task_definition)
        is_yaml = spec.task_definition.name.endswith((".yaml.j2", ".yml.j2", ".yaml", ".yml"))
        doc, td_lines = _parse_rendered(td_text, td_display, yaml=is_yaml)
        doc, td_lines = _strip_read_only(doc, td_lines, td_display, notices)
    except UsageError as exc:
        raise_problems([*problems, *flatten(exc)], subject=f"{spec.display} and its templates")
        raise
    final_images = _apply_images(doc, wanted, pinned, td_display, spec, resolver, notices, problems)

    def td_where(p: JsonPath) -> str:
        return locate(td_display, td_lines, p)

    notices += _secure_in_environment(doc, lookups.secure, td_where)

    from bluegreen.resources import load_schema

    def td_conceal(path: JsonPath) -> bool | str:
        """Environment values are never quoted, nor values that came from a variable."""
        if _environment_path(path):
            return True
        return given.source(_at(doc, path)) or False

    td_problems = schema_problems(
        doc, load_schema("taskdef"), td_where, error=SchemaError, conceal=td_conceal
    )
    problems += td_problems

    # 3. AppSpec, then what a schema cannot check (only on a schema-valid task definition).
    #    A service without a load balancer needs no AppSpec (CodeDeploy never deploys one).
    try:
        if without_load_balancer(spec, live):
            appspec: dict[str, Any] = {}
            notices.append(
                f"no AppSpec: service {spec.service} is deployed by the "
                f"{live.deployment_controller if live else '?'} controller and has no load balancer"
            )
        else:
            appspec = _appspec(spec, templates, live, task_definition_arn)
    except UsageError as exc:
        raise_problems([*problems, *flatten(exc)], subject=f"{spec.display} and its templates")
        raise
    if not td_problems:
        problems += check_semantics(spec, doc, appspec, td_where, given=given.source)
    raise_problems(problems, subject=f"{spec.display} and its templates")
    return Rendered(
        task_definition=doc,
        appspec=appspec,
        images=final_images,
        notices=notices,
        lookups=tuple(lookups.references),
    )


def _secure_in_environment(
    doc: Mapping[str, Any], secure: Sequence[Secure], where: Callable[[JsonPath], str]
) -> list[str]:
    """A warning for each SecureString value rendered into a container's `environment`: there
    it is stored in plain text in the task definition, where `secrets` would keep it out."""
    found: list[str] = []
    containers = doc.get("containerDefinitions")
    for secret in secure:
        for ci, container in enumerate(containers if isinstance(containers, list) else []):
            environment = container.get("environment") if isinstance(container, dict) else None
            for ei, entry in enumerate(environment if isinstance(environment, list) else []):
                value = entry.get("value") if isinstance(entry, dict) else None
                if not isinstance(value, str) or secret.value not in value:
                    continue
                # the line that puts it there (the ssm() call may be elsewhere: a {% set %})
                at = where(("containerDefinitions", ci, "environment", ei, "value"))
                found.append(
                    f"{at}: {secret.what} is rendered into the environment of container "
                    f"{container.get('name')!r} ({entry.get('name')}), where it is stored in plain "
                    "text in the task definition; give it to the container through `secrets` "
                    'instead: {"name": "' + str(entry.get("name")) + '", "valueFrom": '
                    '"<the parameter\'s name or ARN>"} (ECS reads it when the task starts)'
                )
    return found


def render_for_deploy(
    spec: Spec,
    aws: Aws,
    live: LiveService,
    *,
    image_overrides: Mapping[str, str] | None,
    var_overrides: Mapping[str, str] | None,
    vars_files: Sequence[Path],
) -> Rendered:
    """Render the release as a deploy does: against the live service, with images pinned to
    their ECR digests when the spec asks for that (`pin_digests`), and every image checked
    (see `_pin`) whatever it says."""
    from bluegreen.aws.ecr import EcrResolver

    return render_release(
        spec,
        image_overrides=image_overrides,
        var_overrides=var_overrides,
        vars_files=vars_files,
        resolver=EcrResolver(aws),
        live=live,
        aws=aws,
    )


class _Given:
    """The variables' values and where each came from (the spec's `vars`, a vars file, a
    --var): a message about a rendered value that holds one names the variable, never the
    value (it may be a secret)."""

    def __init__(self) -> None:
        self._leaves: dict[str, tuple[str, str]] = {}  # dotted name -> (origin, value text)

    def add(self, data: Mapping[str, Any], origin: str, prefix: str = "") -> None:
        """Values given by `origin`, merged over earlier ones as deep_merge merges them."""
        for key, value in data.items():
            name = f"{prefix}{key}"
            self._leaves.pop(name, None)
            if isinstance(value, Mapping):
                self.add(value, origin, f"{name}.")
                continue
            for below in [k for k in self._leaves if k.startswith(f"{name}.")]:
                del self._leaves[below]
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            self._leaves[name] = (origin, text)

    def source(self, value: Any) -> str | None:
        """`vars.NAME (ORIGIN)` when `value` holds a variable's value, else None."""
        if isinstance(value, str):
            text = value
        else:
            try:
                text = json.dumps(value, default=str)
            except (TypeError, ValueError):
                return None
        for name, (origin, given) in reversed(list(self._leaves.items())):
            if given == text or _holds(text, given) or _holds(given, text):
                return f"vars.{name} ({origin})"
        return None


def _holds(text: str, part: str) -> bool:
    """Whether `part` is in `text` and long enough (4 characters) to be telling."""
    return len(part) >= 4 and part in text


def _variables(
    spec: Spec, vars_files: Sequence[Path], overrides: Mapping[str, str], given: _Given
) -> dict[str, Any]:
    variables: dict[str, Any] = dict(spec.vars)
    given.add(variables, f"{spec.display} vars")
    for path in vars_files:
        text = read_text(Path(path), what="vars file")
        data, _lines = load_document(text, display_path(Path(path)))
        if data is None:
            continue
        if not isinstance(data, dict):
            raise SpecError(
                "a vars file must hold a mapping of names to values", where=display_path(Path(path))
            )
        variables = deep_merge(variables, data)
        given.add(data, f"vars file {display_path(Path(path))}")
    for key, value in overrides.items():
        if not _VAR_NAME.fullmatch(key):
            raise SpecError(
                f"invalid variable name {key!r}",
                where=f"--var {key}",
                hint="names are letters, digits and '_', not starting with a digit",
            )
        variables[key] = value
        given.add({key: value}, f"--var {key}")
    return variables


def _spec_place(spec: Spec, path: JsonPath) -> Where:
    found: list[str] = []

    def where() -> str:
        if not found:
            found.append(spec.where(path))
        return found[0]

    return where


def _fixed_place(text: str) -> Where:
    return lambda: text


def _parse_image(text: str, where: Where) -> ImageRef:
    """parse_image, naming the place only in an error."""
    try:
        return parse_image(text)
    except ImageError:
        return parse_image(text, where())


def _pin(
    ref: ImageRef,
    text: str,
    container: str,
    where: Where,
    spec: Spec,
    resolver: ImageResolver | None,
    notices: list[str],
) -> str:
    """The final reference for one image: digest-pinned when it can be resolved.

    With a resolver (a deploy, and every render that reads AWS) an image that cannot be
    released as asked is refused (ImageError, exit 2): a digest that is not in its ECR
    repository, a tag given with a digest that names another image, and, while `pin_digests`
    is on, a tag that cannot be pinned because it is not in ECR. Offline these are notices."""
    if ref.digest:
        if resolver is not None and ref.is_ecr:
            _resolve(resolver, ref, text, container, where)  # the digest exists, the tag fits
        return text
    if not spec.pin_digests:
        return text
    if not ref.is_ecr:
        if resolver is None:
            notices.append(
                mutable_tag_notice(ref, container)
                + " (a deploy refuses it while pin_digests is on)"
            )
            return text
        raise ImageError(
            f"image for container {container!r} ({text}) cannot be pinned to a digest: "
            f"{ref.registry or 'Docker Hub'} is not a private Amazon ECR registry, whose tags "
            "are the only ones resolved, and pin_digests is on",
            where=where(),
            hint=f"name the build by digest ({ref.name}@sha256:<digest>), push the image to "
            "ECR, or set `pin_digests: false` in the spec to release the tag as it is",
        )
    if resolver is None:
        notices.append(
            f"image for container {container!r} ({text}) not resolved to a digest "
            "(offline); a deploy pins it"
        )
        return text
    resolved = _resolve(resolver, ref, text, container, where)
    if not resolved.digest:  # pragma: no cover - a resolver always returns one
        raise ImageError(f"no digest found for {text}", where=where())
    return str(replace(resolved, tag=None))


def _resolve(
    resolver: ImageResolver, ref: ImageRef, text: str, container: str, where: Where
) -> ImageRef:
    """resolver.resolve, its errors naming the container and the reference."""
    try:
        return resolver.resolve(ref, where())
    except ImageError as exc:
        raise ImageError(
            f"image for container {container!r} ({text}): {exc.message}",
            where=exc.where,
            hint=exc.hint,
        ) from None


def _strip_read_only(
    doc: Any, lines: Mapping[JsonPath, int], display: str, notices: list[str]
) -> tuple[Any, Mapping[JsonPath, int]]:
    if not isinstance(doc, dict):
        raise TemplateError(
            f"the rendered task definition must be a JSON object, got {type(doc).__name__}",
            where=display,
        )
    if isinstance(doc.get("taskDefinition"), dict):
        inner = dict(doc["taskDefinition"])
        if isinstance(doc.get("tags"), list) and doc["tags"] and "tags" not in inner:
            inner["tags"] = doc["tags"]
        extra = [k for k in doc if k not in ("taskDefinition", "tags")]
        notices.append(
            f"{display}: unwrapped the describe-task-definition output "
            '{"taskDefinition": ...}' + (f" (ignored: {', '.join(extra)})" if extra else "")
        )
        outer = lines
        lines = LazyLines(
            lambda: {p[1:]: n for p, n in outer.items() if p and p[0] == "taskDefinition"}
        )
        doc = inner
    removed = [k for k in READ_ONLY_FIELDS if k in doc]
    if removed:
        for key in removed:
            del doc[key]
        notices.append(
            f"{display}: removed read-only fields of describe-task-definition output: "
            + ", ".join(removed)
        )
    return doc, lines


def _apply_images(
    doc: dict[str, Any],
    wanted: Mapping[str, tuple[str, Where]],
    pinned: Mapping[str, str],
    display: str,
    spec: Spec,
    resolver: ImageResolver | None,
    notices: list[str],
    problems: list[BluegreenError],
) -> dict[str, str]:
    """Set each container's image (from `images`, else pinned from the template's own)."""
    containers = doc.get("containerDefinitions")
    if not isinstance(containers, list):
        return dict(pinned)  # the schema check reports it
    names = [c.get("name") for c in containers if isinstance(c, dict)]
    for name, (_text, where) in wanted.items():
        if name not in names:
            known = ", ".join(str(n) for n in names) or "(none)"
            problems.append(
                ImageError(
                    f"no container named {name!r} in the task definition {display}; "
                    f"its containers: {known}",
                    where=where(),
                    hint="the keys of `images` and --image NAME=REF are container names",
                )
            )
    final: dict[str, str] = {}
    for i, container in enumerate(containers):
        if not isinstance(container, dict) or not isinstance(container.get("name"), str):
            continue
        name = container["name"]
        if name in pinned:
            container["image"] = pinned[name]
        elif isinstance(container.get("image"), str):
            at = _fixed_place(f"{display}: {json_path(('containerDefinitions', i, 'image'))}")
            text = container["image"]
            try:
                ref = _parse_image(text, at)
                container["image"] = _pin(ref, text, name, at, spec, resolver, notices)
            except UsageError as exc:
                problems += flatten(exc)
        if isinstance(container.get("image"), str):
            final[name] = container["image"]
    return final
