"""Template lookups: values read while a template renders.

- `ssm('/path/name')`: an SSM parameter (GetParameter, WithDecryption). A SecureString's value is
  registered as a known secret (`known_secrets`), so it is redacted wherever it is printed.
- `cfn_output('stack', 'OutputKey')`: an output of a CloudFormation stack (DescribeStacks).
- `tfstate('path-or-s3-url', 'aws_lb_target_group.web.arn')`: an attribute of a resource in a
  Terraform state file (format version 4), a local file (relative to the spec's folder, never
  through a symlink) or `s3://bucket/key` (GetObject).
- `env_var('NAME')`, `env_var('NAME', 'default')`: an environment variable.

AWS is read through the run's session (the command's credential chain, profile and region),
and each value once a run (`Aws.lookup_cache`; a state file is read once for all its
addresses). A lookup that cannot be resolved raises LookupFailed, which the template renderer
turns into an error naming the template file and line: exit 2 (the parameter, stack, output,
state file, resource or attribute does not exist, access is denied, the variable is unset), or
exit 4 for other AWS failures (throttled beyond retries, unreachable endpoint, bad credentials).
"""

from __future__ import annotations

import difflib
import errno
import json
import os
import re
import stat
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bluegreen.errors import AccessDenied, AwsError, BluegreenError, ResourceNotFound
from bluegreen.render import known_secrets

if TYPE_CHECKING:
    from bluegreen.aws.session import Aws

NAMES = ("ssm", "cfn_output", "tfstate", "env_var")
_NO_DEFAULT: Any = object()
_FETCH_LOCK = threading.Lock()  # one AWS read per value, also when threads render side by side


class LookupFailed(Exception):
    """A lookup that cannot be resolved; `aws_error`: an AWS failure other than not-found or
    access denied (exit 4 instead of 2)."""

    def __init__(self, message: str, hint: str | None = None, *, aws_error: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.aws_error = aws_error


@dataclass(frozen=True)
class Secure:
    """A SecureString (or sensitive state attribute) a template used, and where."""

    value: str
    what: str  # "SSM parameter /app/db"
    where: str | None  # "taskdef.json.j2:12"


@dataclass
class Lookups:
    """The lookup functions of one render, bound to the run's AWS session (None: the command
    reads no AWS, and `no_aws` says why)."""

    aws: Aws | None
    folder: Path
    no_aws: str = "this command renders without AWS access"
    files: Mapping[str, str] = field(default_factory=dict)  # template filename -> display name
    secure: list[Secure] = field(default_factory=list)
    # what was looked up, for iam-policy: ("ssm", name) / ("cfn", stack) / ("s3", bucket, key)
    references: list[tuple[str, ...]] = field(default_factory=list)
    _local: dict[tuple[str, ...], Any] = field(default_factory=dict)

    def functions(self) -> dict[str, Callable[..., Any]]:
        return {
            "ssm": self.ssm,
            "cfn_output": self.cfn_output,
            "tfstate": self.tfstate,
            "env_var": self.env_var,
        }

    # --- the template functions ---------------------------------------------------------------
    def ssm(self, name: Any) -> str:
        name = _text_argument("ssm", "the parameter name", name)
        self._refer(("ssm", name))
        from bluegreen.aws.lookups import get_parameter

        aws = self._need_aws(f"ssm({name!r})")
        parameter = self._cached(("ssm", name), lambda: get_parameter(aws, name))
        if parameter.type == "SecureString":
            self._secret(parameter.value, f"SSM parameter {name} (SecureString)")
        return str(parameter.value)

    def cfn_output(self, stack: Any, key: Any) -> str:
        stack = _text_argument("cfn_output", "the stack name", stack)
        key = _text_argument("cfn_output", "the output key", key)
        self._refer(("cfn", stack))
        from bluegreen.aws.lookups import stack_outputs

        aws = self._need_aws(f"cfn_output({stack!r}, {key!r})")
        outputs: dict[str, str] = self._cached(("cfn", stack), lambda: stack_outputs(aws, stack))
        if key not in outputs:
            near = difflib.get_close_matches(key, list(outputs), n=1)
            listed = ", ".join(sorted(outputs)) or "none"
            raise LookupFailed(
                f"CloudFormation stack {stack} has no output {key!r}",
                (f"did you mean {near[0]!r}? " if near else "") + f"its outputs: {listed}",
            )
        return outputs[key]

    def tfstate(self, source: Any, address: Any) -> Any:
        source = _text_argument("tfstate", "the state file (a path or s3://bucket/key)", source)
        address = _text_argument("tfstate", "the resource attribute address", address)
        try:
            parsed = parse_address(address)
        except ValueError as exc:
            raise LookupFailed(
                f"tfstate address {address!r} cannot be read: {exc}",
                "e.g. 'aws_lb_target_group.web.arn', 'module.net.aws_subnet.a[0].id', "
                "'aws_s3_bucket.b[\"logs\"].arn'",
            ) from None
        state = self._state(source)
        value, sensitive = resolve(state, parsed, address, source)
        if sensitive:
            for text in _strings(value):
                self._secret(text, f"sensitive attribute {address} of {source}")
        return value

    def env_var(self, name: Any, default: Any = _NO_DEFAULT) -> Any:
        name = _text_argument("env_var", "the variable name", name)
        if name in os.environ:
            return os.environ[name]
        if default is _NO_DEFAULT:
            raise LookupFailed(
                f"environment variable {name} is not set",
                f"set it, or give a default: env_var({name!r}, 'value')",
            )
        return default

    # --- helpers ------------------------------------------------------------------------------
    def _refer(self, reference: tuple[str, ...]) -> None:
        if reference not in self.references:
            self.references.append(reference)

    def _need_aws(self, call: str) -> Aws:
        if self.aws is None:
            raise LookupFailed(
                f"{call} reads AWS, and {self.no_aws}",
                "run the command where AWS credentials are available (without --offline); "
                "env_var() and tfstate() of a local file need no AWS",
            )
        return self.aws

    def _cache(self) -> dict[tuple[str, ...], Any]:
        return self.aws.lookup_cache if self.aws is not None else self._local

    def _cached(self, key: tuple[str, ...], read: Callable[[], Any]) -> Any:
        cache = self._cache()
        with _FETCH_LOCK:
            if key not in cache:
                try:
                    cache[key] = read()
                except BluegreenError as exc:
                    cache[key] = _failure(exc)
                except LookupFailed as exc:
                    cache[key] = exc
        found = cache[key]
        if isinstance(found, LookupFailed):
            raise LookupFailed(found.message, found.hint, aws_error=found.aws_error)
        return found

    def _secret(self, value: str, what: str) -> None:
        known_secrets.add(value)
        if value and not any(s.value == value for s in self.secure):
            self.secure.append(Secure(value, what, calling_template_line(self.files)))

    def _state(self, source: str) -> dict[str, Any]:
        if source.startswith("s3://"):
            bucket, _, key = source[len("s3://") :].partition("/")
            if not bucket or not key:
                raise LookupFailed(
                    f"tfstate source {source!r} is not s3://bucket/key",
                    "e.g. s3://my-tf-state/prod/terraform.tfstate",
                )
            self._refer(("s3", bucket, key))
            from bluegreen.aws.lookups import get_object

            aws = self._need_aws(f"tfstate({source!r}, ...)")
            raw = self._cached(("s3", bucket, key), lambda: get_object(aws, bucket, key))
            parsed: dict[str, Any] = self._cached(
                ("tfstate", source), lambda: _parse_state(raw, source)
            )
            return parsed
        path = Path(source).expanduser()
        path = path if path.is_absolute() else self.folder / path
        local: dict[str, Any] = self._cached(
            ("tfstate-file", os.path.normpath(str(path))),
            lambda: _parse_state(read_local(path, self.folder, source), source),
        )
        return local


def _failure(exc: BluegreenError) -> LookupFailed:
    where = f"{exc.where}: " if exc.where else ""
    if isinstance(exc, ResourceNotFound | AccessDenied):
        return LookupFailed(f"{where}{exc.message}", exc.hint)
    return LookupFailed(f"{where}{exc.message}", exc.hint, aws_error=isinstance(exc, AwsError))


def _text_argument(function: str, what: str, value: Any) -> str:
    from jinja2 import Undefined

    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if not isinstance(value, str) or not value.strip():
        raise LookupFailed(
            f"{function}() needs {what} as a non-empty string, got {type(value).__name__}"
        )
    return value.strip()


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if value is None or isinstance(value, bool):
        return []
    return [str(value)]


def calling_template_line(files: Mapping[str, str]) -> str | None:
    """`name:line` of the innermost template being rendered on this thread's stack (the line
    of the lookup's call), or None outside a template file."""
    frame = sys._getframe(1)
    while frame is not None:
        template = frame.f_globals.get("__jinja_template__")
        if template is not None:
            filename = frame.f_code.co_filename
            name = files.get(filename) or template.name
            if not name:
                return None
            return f"{name}:{template.get_corresponding_lineno(frame.f_lineno)}"
        frame = frame.f_back  # type: ignore[assignment]
    return None


# --- local files ------------------------------------------------------------------------------
MAX_STATE_BYTES = 64 * 1024 * 1024


def read_local(path: Path, folder: Path, source: str) -> bytes:
    """The file's bytes, never through a symlink (no component below the spec's folder, or
    below / for a path outside it, may be one) and only a regular file."""
    absolute = Path(os.path.normpath(str(path.absolute())))
    base = Path(os.path.normpath(str(folder.absolute())))
    start = base if absolute.is_relative_to(base) else Path(absolute.anchor)
    current = start
    for part in absolute.relative_to(start).parts[:-1]:
        current = current / part
        try:
            if stat.S_ISLNK(current.lstat().st_mode):
                raise LookupFailed(
                    f"state file {source}: {current} is a symlink, which is not followed"
                )
        except FileNotFoundError:
            break  # reported by the open below
    try:
        fd = os.open(absolute, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LookupFailed(f"state file {source} is a symlink, which is not followed") from None
        if exc.errno == errno.ENOENT:
            raise LookupFailed(
                f"state file {source} not found ({absolute})",
                "a relative path is read from the spec file's folder; an S3 state is "
                "s3://bucket/key",
            ) from None
        raise LookupFailed(f"state file {source} cannot be read: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise LookupFailed(f"state file {source} is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read(MAX_STATE_BYTES + 1)
    finally:
        os.close(fd)


# --- Terraform state --------------------------------------------------------------------------
def _parse_state(raw: bytes, source: str) -> dict[str, Any]:
    if len(raw) > MAX_STATE_BYTES:
        raise LookupFailed(f"state file {source} is larger than {MAX_STATE_BYTES} bytes")
    try:
        state = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LookupFailed(f"state file {source} is not JSON: {exc}") from None
    if not isinstance(state, dict) or not isinstance(state.get("resources", []), list):
        raise LookupFailed(f"state file {source} is not a Terraform state (no resources list)")
    version = state.get("version")
    if version != 4:
        raise LookupFailed(
            f"state file {source} has format version {version!r}; only version 4 is read",
            "Terraform 0.12 and later write version 4 (`terraform state pull` prints it)",
        )
    return state


Index = int | str | None


@dataclass(frozen=True)
class Address:
    """`module.a["x"].module.b.data.aws_foo.bar[0].attr.list[1].key`, parsed."""

    module: tuple[tuple[str, Index], ...]
    mode: str  # managed | data
    type: str
    name: str
    index: Index
    attribute: tuple[str | int, ...]

    @property
    def resource(self) -> str:
        return _resource_text(self.module, self.mode, self.type, self.name, self.index)


def _index_text(index: Index) -> str:
    return "" if index is None else f"[{json.dumps(index)}]"


def _resource_text(
    module: tuple[tuple[str, Index], ...], mode: str, type_: str, name: str, index: Index
) -> str:
    parts = [f"module.{m}{_index_text(i)}" for m, i in module]
    parts.append(("data." if mode == "data" else "") + f"{type_}.{name}{_index_text(index)}")
    return ".".join(parts)


_TOKEN = re.compile(
    r"""\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_-]*)|(?P<dot>\.)|\[\s*(?:(?P<int>\d+)"""
    r"""|"(?P<str>(?:[^"\\]|\\.)*)")\s*\])"""
)


def _tokens(text: str) -> list[tuple[str, str | int]]:
    out: list[tuple[str, str | int]] = []
    at = 0
    while at < len(text):
        m = _TOKEN.match(text, at)
        if m is None or m.end() == at:
            raise ValueError(f"unexpected {text[at : at + 10]!r} at character {at + 1}")
        if m.group("name") is not None:
            out.append(("name", m.group("name")))
        elif m.group("dot") is not None:
            out.append(("dot", "."))
        elif m.group("int") is not None:
            out.append(("index", int(m.group("int"))))
        else:
            out.append(("index", str(json.loads(f'"{m.group("str")}"'))))
        at = m.end()
    return out


def _steps(text: str) -> list[str | int | tuple[str, Index]]:
    """Names (with the index that follows each, as (name, index)) and further indexes."""
    steps: list[str | int | tuple[str, Index]] = []
    expect_name = True
    for kind, value in _tokens(text):
        if kind == "dot":
            if expect_name:
                raise ValueError("two dots in a row, or a leading dot")
            expect_name = True
        elif kind == "name":
            if not expect_name:
                raise ValueError(f"a dot is missing before {value!r}")
            steps.append((str(value), None))
            expect_name = False
        else:
            if expect_name:
                raise ValueError("an index must follow a name")
            last = steps[-1]
            if isinstance(last, tuple) and last[1] is None:
                steps[-1] = (last[0], value)
            else:
                steps.append(value)
    if expect_name:
        raise ValueError("it ends with a dot" if steps else "it is empty")
    return steps


def parse_module(text: str) -> tuple[tuple[str, Index], ...]:
    """A state resource's `module` (e.g. `module.a["x"].module.b`) as (name, index) pairs."""
    if not text:
        return ()
    steps = _steps(text)
    out: list[tuple[str, Index]] = []
    for i in range(0, len(steps), 2):
        word, label = steps[i], steps[i + 1] if i + 1 < len(steps) else None
        if word != ("module", None) or not isinstance(label, tuple):
            raise ValueError(f"{text!r} is not a module address")
        out.append(label)
    return tuple(out)


def parse_address(text: str) -> Address:
    """`[module.NAME[IDX].]...[data.]TYPE.NAME[IDX].ATTR[.ATTR|[IDX]]...`"""
    steps = _steps(text.strip())
    module: list[tuple[str, Index]] = []
    at = 0
    while at + 1 < len(steps) and steps[at] == ("module", None):
        label = steps[at + 1]
        if not isinstance(label, tuple):
            raise ValueError("module needs a name")
        module.append(label)
        at += 2
    mode = "managed"
    if at < len(steps) and steps[at] == ("data", None):
        mode = "data"
        at += 1
    if len(steps) < at + 3:
        raise ValueError("expected TYPE.NAME.ATTRIBUTE (e.g. aws_lb_target_group.web.arn)")
    type_step, name_step = steps[at], steps[at + 1]
    if not isinstance(type_step, tuple) or type_step[1] is not None:
        raise ValueError("a resource type takes no index")
    if not isinstance(name_step, tuple):
        raise ValueError("expected a resource name after the type")
    attribute: list[str | int] = []
    for step in steps[at + 2 :]:
        if isinstance(step, tuple):
            attribute.append(step[0])
            if step[1] is not None:
                attribute.append(step[1])
        else:
            attribute.append(step)
    if not attribute or not isinstance(attribute[0], str):
        raise ValueError("an attribute name must follow the resource")
    return Address(tuple(module), mode, type_step[0], name_step[0], name_step[1], tuple(attribute))


def resolve(state: Mapping[str, Any], address: Address, text: str, source: str) -> tuple[Any, bool]:
    """The attribute's value, and whether the state marks it sensitive."""
    known: list[str] = []
    resource: Mapping[str, Any] | None = None
    for r in state.get("resources") or []:
        if not isinstance(r, dict):
            continue
        try:
            module = parse_module(str(r.get("module") or ""))
        except ValueError:
            continue
        mode = str(r.get("mode") or "managed")
        known.append(_resource_text(module, mode, str(r.get("type")), str(r.get("name")), None))
        if (module, mode, r.get("type"), r.get("name")) == (
            address.module,
            address.mode,
            address.type,
            address.name,
        ):
            resource = r
    bare = _resource_text(address.module, address.mode, address.type, address.name, None)
    if resource is None:
        near = difflib.get_close_matches(bare, known, n=1, cutoff=0.5)
        raise LookupFailed(
            f"state file {source} has no resource {bare}",
            (f"did you mean {near[0]}? " if near else "")
            + f"it holds {len(known)} resource{'' if len(known) == 1 else 's'}",
        )
    instances = [i for i in resource.get("instances") or [] if isinstance(i, dict)]
    keys = [i.get("index_key") for i in instances]
    chosen = [i for i in instances if _same_key(i.get("index_key"), address.index)]
    if not chosen:
        listed = ", ".join(f"{bare}{_index_text(k)}" for k in keys) or "none"
        hint = f"its instances: {listed}"
        what = (
            f"has {len(keys)} instances: say which"
            if address.index is None and keys
            else f"has no instance {address.resource}"
        )
        raise LookupFailed(f"state file {source}: {bare} {what}", hint)
    instance = chosen[0]
    value: Any = instance.get("attributes")
    if not isinstance(value, dict):
        raise LookupFailed(f"state file {source}: {address.resource} has no attributes")
    walked = address.resource
    for step in address.attribute:
        in_object = isinstance(step, str) and isinstance(value, dict) and step in value
        in_list = isinstance(step, int) and isinstance(value, list) and 0 <= step < len(value)
        if in_object or in_list:
            value = value[step]
        elif isinstance(step, str) and isinstance(value, list) and len(value) == 1:
            # a nested block of one (`aws_lb.x.access_logs.bucket`) is a list in the state
            inner = value[0]
            if isinstance(inner, dict) and step in inner:
                value = inner[step]
            else:
                raise _no_attribute(source, text, walked, step, inner)
        else:
            raise _no_attribute(source, text, walked, step, value)
        walked += f".{step}" if isinstance(step, str) else f"[{step}]"
    return value, _sensitive(instance, address.attribute)


def _same_key(key: Any, wanted: Index) -> bool:
    if wanted is None:
        return key is None
    return type(key) is type(wanted) and key == wanted


def _no_attribute(source: str, text: str, walked: str, step: str | int, value: Any) -> LookupFailed:
    if isinstance(value, dict):
        near = difflib.get_close_matches(str(step), [str(k) for k in value], n=1)
        shown = ", ".join(sorted(str(k) for k in value)[:30]) or "none"
        hint = (f"did you mean {near[0]!r}? " if near else "") + f"{walked} has: {shown}"
    elif isinstance(value, list):
        hint = f"{walked} is a list of {len(value)}: use an index, e.g. {walked}[0]"
    else:
        hint = f"{walked} is a {type(value).__name__}, not an object"
    return LookupFailed(f"state file {source}: {text}: no attribute {step!r} in {walked}", hint)


def _sensitive(instance: Mapping[str, Any], attribute: tuple[str | int, ...]) -> bool:
    """Whether the state's `sensitive_attributes` marks the attribute (or a part of it)."""
    for path in instance.get("sensitive_attributes") or []:
        steps: list[Any] = []
        if isinstance(path, list):
            for s in path:
                if isinstance(s, dict):
                    value = s.get("value")
                    steps.append(value.get("value") if isinstance(value, dict) else value)
        elif isinstance(path, str):
            steps = [p for p in re.split(r"[.\[\]\"]+", path) if p]
        n = min(len(steps), len(attribute))
        if n and [str(s) for s in steps[:n]] == [str(a) for a in attribute[:n]]:
            return True
    return False
