"""Rendering: spec + templates + images + variables -> task definition and AppSpec.

Templates are jinja2 in a sandboxed environment with StrictUndefined (a misspelt variable is an
error, never an empty string), autoescape off, loaded from the spec file's folder. Every problem
is reported with the template file and line, or the JSON path into the rendered document.

The AppSpec's TaskDefinition is the registered revision's ARN when known; before registration it
is the placeholder `<TASK_DEFINITION>` (PLACEHOLDER_TASK_DEFINITION), which the AppSpec schema
accepts and the deploy step replaces with the ARN it registered.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import subprocess
import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import CodeType
from typing import TYPE_CHECKING, Any, Protocol

from bluegreen.aws.model import LiveService
from bluegreen.errors import (
    BluegreenError,
    ImageError,
    SchemaError,
    SpecError,
    TemplateError,
    UsageError,
)
from bluegreen.release import flatten, raise_problems
from bluegreen.release.images import ImageRef, mutable_tag_notice, parse_image
from bluegreen.release.spec import (
    HOOK_EVENTS,
    JsonPath,
    LazyLines,
    Spec,
    deep_merge,
    display_path,
    fast_yaml,
    json_path,
    load_document,
    locate,
    plain,
    read_text,
    schema_problems,
    yaml_problem,
    yaml_where,
)
from bluegreen.release.taskdef import READ_ONLY_FIELDS

if TYPE_CHECKING:
    from jinja2 import BytecodeCache, Environment, Template

    from bluegreen.aws.session import Aws

PLACEHOLDER_TASK_DEFINITION = "<TASK_DEFINITION>"
DEFAULT_APPSPEC = "appspec_templates/ecs.yaml.j2"

_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Where a problem is, worked out only when a message names it: a spec file's line costs a
# parse of the file with the round-trip loader.
Where = Callable[[], str]
# Where CI systems put the branch name when the checkout is a detached HEAD.
_CI_BRANCH_VARS = ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BRANCH_NAME")


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


def appspec_content(appspec: dict[str, Any]) -> tuple[str, str]:
    """The AppSpec as CodeDeploy receives it inline: (JSON text, which is also YAML; sha256)."""
    text = json.dumps(appspec, indent=2, sort_keys=False)
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- jinja2 ---------------------------------------------------------------------------------
class _GitUnavailable(Exception):
    def __init__(self, name: str, reason: str) -> None:
        super().__init__(reason)
        self.name = name
        self.reason = reason


class _Git:
    """git_sha / git_branch, computed once and only when a template uses them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache: dict[str, str] = {}

    def get(self, name: str) -> str:
        if name not in self._cache:
            args = (
                ["rev-parse", "HEAD"]
                if name == "git_sha"
                else ["rev-parse", "--abbrev-ref", "HEAD"]
            )
            value = self._run(name, args)
            if name == "git_branch" and value == "HEAD":  # detached, as CI checkouts often are
                value = next((os.environ[v] for v in _CI_BRANCH_VARS if os.environ.get(v)), value)
            self._cache[name] = value
        return self._cache[name]

    def _run(self, name: str, args: list[str]) -> str:
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=self.folder,
                capture_output=True,
                text=True,
                timeout=15,
                check=False,
            )
        except FileNotFoundError:
            raise _GitUnavailable(name, "git is not installed") from None
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise _GitUnavailable(name, f"git failed: {exc}") from None
        if done.returncode != 0:
            detail = (done.stderr.strip().splitlines() or ["git failed"])[-1]
            raise _GitUnavailable(
                name, f"{display_path(self.folder)} is not in a usable git checkout ({detail})"
            )
        return done.stdout.strip()


# The git values of the render in progress (per thread: a context variable), read by the
# shared environments' context class.
_RENDERING_GIT: ContextVar[_Git | None] = ContextVar("bluegreen_rendering_git", default=None)


@contextmanager
def _rendering(git: _Git) -> Iterator[None]:
    token = _RENDERING_GIT.set(git)
    try:
        yield
    finally:
        _RENDERING_GIT.reset(token)


class _Compiled:
    """Jinja2 environments (one per template folder) and compiled templates, kept for the
    process.

    A template file is found by its file name *and* its source text, read anew on every render,
    so an edited file is compiled again and never served stale. Compilation (jinja2 parsing,
    Python code generation, Python's compile) is shared between files with the same source: the
    code is compiled once per source and copied under each file's name, so tracebacks, and the
    file:line in our messages, still name the file being rendered. A thousand services that
    each keep a copy of one template compile it once.

    Included templates are not cached (cache_size=0): jinja2 reads them from disk on every
    render."""

    LIMIT = 4096  # compiled templates, and compiled sources, kept (least recently used first out)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._environments: dict[str, Environment] = {}
        self._templates: OrderedDict[tuple[Environment, str | None, str], Template] = OrderedDict()
        self._code: OrderedDict[tuple[Environment, str], CodeType] = OrderedDict()
        self._pieces: OrderedDict[tuple[Environment, str], _Pieces | None] = OrderedDict()

    def environment(self, folder: Path) -> Environment:
        key = str(folder)
        with self._lock:
            env = self._environments.get(key)
        if env is None:
            env = _environment(folder)
            with self._lock:
                env = self._environments.setdefault(key, env)
        return env

    def template(
        self, env: Environment, source: str, name: str | None, filename: str | None
    ) -> Template:
        """The compiled template; TemplateSyntaxError as jinja2 raises it."""
        key = (env, filename, source)  # the environment: one per folder, kept for the process
        found: Template | None = self._get(self._templates, key)
        if found is not None:
            return found
        code = self._get(self._code, (env, source))
        if code is None:
            code = DISK.code(env, source)  # named "<template>" until copied under a file's name
            self._put(self._code, (env, source), code)
        if filename is not None:
            code = _renamed(code, filename)
        template = env.template_class.from_code(env, code, env.make_globals(None))
        template.name = name
        self._put(self._templates, key, template)
        return template

    def pieces(self, env: Environment, source: str) -> _Pieces | None:
        """A string template as literal text and `{{ expression }}` templates, or None
        when it holds more than expressions (statements, comments, raw blocks) or does not lex:
        then it is compiled whole. Each expression is compiled once for every string it appears
        in, so `registry/svc0001:{{ vars.release }}` and `registry/svc0002:{{ vars.release }}`
        share one compiled template; their literal text is written as jinja2 writes data."""
        key = (env, source)
        with self._lock:
            if key in self._pieces:
                self._pieces.move_to_end(key)
                return self._pieces[key]
        pieces = _split_expressions(env, source)
        self._put(self._pieces, key, pieces)
        return pieces

    def _get(self, table: OrderedDict[Any, Any], key: Any) -> Any:
        with self._lock:
            found = table.get(key)
            if found is not None:
                table.move_to_end(key)
            return found

    def _put(self, table: OrderedDict[Any, Any], key: Any, value: Any) -> None:
        with self._lock:
            table[key] = value
            while len(table) > self.LIMIT:
                table.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._environments.clear()
            self._templates.clear()
            self._code.clear()
            self._pieces.clear()


CACHE_ENV_VAR = "BLUEGREEN_TEMPLATE_CACHE"
# What, besides the source, the compiled code depends on: the environment's compile-time settings
# (see _environment; bump the last field when they change) and the jinja2 release.
_CODE_FLAVOUR = "sandboxed;strict-undefined;autoescape-off;keep-trailing-newline;1"


class _DiskCode:
    """Compiled template code kept on disk between runs, in jinja2's own bytecode cache format
    (FileSystemBytecodeCache: the file names the source's digest and holds its checksum, the
    jinja2 bytecode version and the Python version; a mismatch or an unreadable entry is
    compiled again, and writes are atomic renames).

    The folder is `$BLUEGREEN_TEMPLATE_CACHE`, else `$XDG_CACHE_HOME/bluegreen/templates`, else
    `~/.cache/bluegreen/templates`; `BLUEGREEN_TEMPLATE_CACHE=off` turns the cache off. Loading
    cached code runs it, so a folder that is not the user's own, or that others may write to,
    is not used (nor is one that cannot be created: the cache is an optimisation, never a
    reason to fail)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._opened: dict[str, BytecodeCache | None] = {}

    def code(self, env: Environment, source: str) -> CodeType:
        """The compiled code of `source`: from disk when cached, else compiled (and cached)."""
        cache = self._cache()
        if cache is None:
            return env.compile(source)
        try:
            bucket = cache.get_bucket(env, code_key(source), None, source)
        except Exception:  # a damaged entry (the format has many ways to fail): compile anew
            bucket = None
        if bucket is not None and isinstance(bucket.code, CodeType):
            return bucket.code
        code: CodeType = env.compile(source)
        if bucket is not None:
            bucket.code = code
            with contextlib.suppress(OSError):
                cache.set_bucket(bucket)
        return code

    def _cache(self) -> BytecodeCache | None:
        setting = os.environ.get(CACHE_ENV_VAR)
        if setting is not None and setting.strip().lower() in ("", "off", "0", "no", "false"):
            return None
        try:
            if setting:
                folder = Path(setting).expanduser()
            else:
                base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
                folder = Path(base) / "bluegreen" / "templates"
        except RuntimeError:  # no home folder to find: no cache
            return None
        key = str(folder)
        with self._lock:
            if key not in self._opened:
                self._opened[key] = _open_code_cache(folder)
            return self._opened[key]


def code_key(source: str) -> str:
    """The name of a source's entry in the on-disk cache."""
    import jinja2

    return hashlib.sha256(f"{_CODE_FLAVOUR};{jinja2.__version__}\0{source}".encode()).hexdigest()


def _open_code_cache(folder: Path) -> BytecodeCache | None:
    from jinja2 import FileSystemBytecodeCache

    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        found = folder.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(found.st_mode) or found.st_mode & 0o022:
        return None  # a symlink, or a folder others may write code into
    if hasattr(os, "getuid") and found.st_uid != os.getuid():
        return None
    return FileSystemBytecodeCache(str(folder), "%s.jinja2")


DISK = _DiskCode()


def _renamed(code: CodeType, filename: str) -> CodeType:
    """The compiled template module with every function in it belonging to `filename`."""
    consts = tuple(
        _renamed(const, filename) if isinstance(const, CodeType) else const
        for const in code.co_consts
    )
    return code.replace(co_filename=filename, co_consts=consts)


# literal text, or the source of one `{{ expression }}`
_Pieces = tuple[tuple[bool, str], ...]


# `{{ expression }}` with nothing inside that jinja2's lexer could read another way: no quotes
# (a string may hold "}}"), no braces, no whitespace-control signs.
_PLAIN_EXPRESSION = re.compile(r"\{\{([^{}'\"+\-]*)\}\}")
_OPENERS = ("{{", "{%", "{#")


def _split_expressions(env: Environment, source: str) -> _Pieces | None:
    simple = _split_plain(source)
    if simple is not None:
        return simple
    return _split_lexed(env, source)


def _split_plain(source: str) -> _Pieces | None:
    """The split without the lexer, for the common string: literal text (holding no
    opening delimiter, nor a "{" just before one) around plain `{{ expression }}`s; None for
    anything else, and for text jinja2 would change (a carriage return)."""
    if "\r" in source:
        return None
    pieces: list[tuple[bool, str]] = []
    at = 0
    for match in _PLAIN_EXPRESSION.finditer(source):
        text = source[at : match.start()]
        if any(opener in text for opener in _OPENERS) or text.endswith("{"):
            return None
        if text:
            pieces.append((False, text))
        pieces.append((True, match.group(0)))
        at = match.end()
    rest = source[at:]
    if any(opener in rest for opener in _OPENERS):
        return None
    if rest:
        pieces.append((False, rest))
    return tuple(pieces)


def _split_lexed(env: Environment, source: str) -> _Pieces | None:
    from jinja2 import TemplateSyntaxError

    pieces: list[tuple[bool, str]] = []
    expression: list[str] | None = None
    try:
        for _, kind, value in env.lex(source):
            if expression is None:
                if kind == "data":
                    pieces.append((False, value))
                elif kind == "variable_begin":
                    expression = []
                else:  # a statement, comment, raw block or line statement
                    return None
            elif kind == "variable_end":
                pieces.append((True, "{{" + "".join(expression) + "}}"))
                expression = None
            else:
                expression.append(value)
    except TemplateSyntaxError:
        return None
    return tuple(pieces) if expression is None else None


COMPILED = _Compiled()


def _environment(folder: Path) -> Environment:
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.runtime import Context
    from jinja2.sandbox import SandboxedEnvironment
    from jinja2.utils import missing

    class _Context(Context):
        def resolve_or_missing(self, key: str) -> Any:
            value = super().resolve_or_missing(key)
            if value is missing and key in ("git_sha", "git_branch"):
                git = _RENDERING_GIT.get()
                if git is not None:
                    return _LazyGit(git, key)
            return value

    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(folder)),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        cache_size=0,
    )
    env.context_class = _Context
    env.filters["tojson"] = _tojson
    return env


def _tojson(value: Any, indent: int | None = None) -> str:
    """JSON of a value (plain json.dumps: no HTML escaping, autoescape is off); an undefined
    value fails as undefined instead of as "not JSON serializable"."""
    from jinja2 import Undefined

    def default(obj: Any) -> Any:
        if isinstance(obj, Undefined):
            obj._fail_with_undefined_error()
        if isinstance(obj, _LazyGit):
            return str(obj)
        raise TypeError(f"a {type(obj).__name__} cannot be written as JSON")

    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return json.dumps(value, default=default, indent=indent)


class _LazyGit:
    """Stands in for git_sha/git_branch; turns into the string when used."""

    def __init__(self, git: _Git, name: str) -> None:
        self._git = git
        self._name = name

    def _value(self) -> str:
        return self._git.get(self._name)

    def __str__(self) -> str:
        return self._value()

    def __html__(self) -> str:  # pragma: no cover - autoescape is off
        return self._value()

    def __getitem__(self, key: Any) -> str:
        value: str = self._value()[key]
        return value

    def __len__(self) -> int:
        return len(self._value())

    def __eq__(self, other: object) -> bool:
        return self._value() == other

    def __hash__(self) -> int:
        return hash(self._value())

    def __add__(self, other: str) -> str:
        return self._value() + other

    def __radd__(self, other: str) -> str:
        return other + self._value()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._value(), name)


def _template_line(
    exc: BaseException, files: Mapping[str, str], folder: Path
) -> tuple[str, int] | None:
    """(display name, line) of the innermost template frame in a rendering traceback: one of
    the templates we loaded, or one they included from the spec's folder."""
    found: tuple[str, int] | None = None
    root = str(folder) + os.sep
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.lineno is None:
            continue
        if frame.filename in files:
            found = (files[frame.filename], frame.lineno)
        elif frame.filename.startswith(root) and not frame.filename.endswith(".py"):
            found = (display_path(Path(frame.filename)), frame.lineno)
    return found


def _first_use(source: str, name: str) -> int | None:
    from jinja2 import nodes
    from jinja2.sandbox import SandboxedEnvironment

    try:
        tree = SandboxedEnvironment().parse(source)
    except Exception:
        return None
    lines = [n.lineno for n in tree.find_all(nodes.Name) if n.name == name]
    return min(lines) if lines else None


class _Templates:
    """Renders the spec's templates with one context, turning failures into TemplateErrors."""

    def __init__(self, spec: Spec, context: dict[str, Any]) -> None:
        self.folder = spec.folder
        self.git = _Git(self.folder)
        self.env = COMPILED.environment(self.folder)
        self.context = context
        self.files: dict[str, str] = {}  # absolute filename -> display name
        self.sources: dict[str, str] = {}  # display name -> source

    def _load(self, path: Path) -> Template:
        display = display_path(path)
        from jinja2 import TemplateSyntaxError

        try:
            source = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TemplateError("template not found", where=display) from None
        except IsADirectoryError:
            raise TemplateError("template is a directory, not a file", where=display) from None
        except PermissionError:
            raise TemplateError(
                "template is not readable (permission denied)", where=display
            ) from None
        except UnicodeDecodeError as exc:
            raise TemplateError(
                f"template is not UTF-8 text: {exc.reason}", where=display
            ) from None
        filename = str(path)
        self.files[filename] = display
        self.sources[display] = source
        try:
            return COMPILED.template(self.env, source, path.name, filename)
        except TemplateSyntaxError as exc:
            raise TemplateError(
                f"template syntax error: {exc.message}", where=f"{display}:{exc.lineno}"
            ) from None

    def render_file(self, path: Path, extra: Mapping[str, Any] | None = None) -> str:
        template = self._load(path)
        return self._render(template, display_path(path), extra)

    def render_packaged(self, name: str, source: str, extra: Mapping[str, Any]) -> str:
        from jinja2 import TemplateSyntaxError

        filename = f"<bluegreen>/{name}"
        self.files[filename] = name
        self.sources[name] = source
        try:
            template = COMPILED.template(self.env, source, name, filename)
        except TemplateSyntaxError as exc:  # pragma: no cover - the packaged template is tested
            raise TemplateError(f"template syntax error: {exc.message}", where=name) from None
        return self._render(template, name, extra)

    def render_string(self, source: str, where: Where, context: Mapping[str, Any]) -> str:
        if "{" not in source and "\r" not in source:
            return source  # no jinja2 syntax (it all starts with "{") and no newline to convert
        from jinja2 import TemplateSyntaxError

        try:
            pieces = COMPILED.pieces(self.env, source)
            parts: list[Template | str]
            if pieces is None:
                parts = [COMPILED.template(self.env, source, None, None)]
            else:
                parts = [
                    COMPILED.template(self.env, text, None, None) if expression else text
                    for expression, text in pieces
                ]
        except TemplateSyntaxError as exc:
            raise TemplateError(f"template syntax error: {exc.message}", where=where()) from None
        try:
            with _rendering(self.git):
                return "".join(
                    part if isinstance(part, str) else part.render(dict(context)) for part in parts
                )
        except _GitUnavailable as exc:
            raise self._git_error(exc, where()) from None
        except Exception as exc:
            raise TemplateError(_describe(exc), where=where()) from None

    def _render(self, template: Template, display: str, extra: Mapping[str, Any] | None) -> str:
        context = {**self.context, **(extra or {})}
        try:
            with _rendering(self.git):
                return template.render(context)
        except _GitUnavailable as exc:
            at = _template_line(exc, self.files, self.folder)
            name = at[0] if at else display
            line = at[1] if at else _first_use(self.sources.get(name, ""), exc.name)
            raise self._git_error(exc, f"{name}:{line}" if line else name) from None
        except BluegreenError:
            raise
        except Exception as exc:
            at = _template_line(exc, self.files, self.folder)
            where = f"{at[0]}:{at[1]}" if at else display
            hint = None
            from jinja2 import TemplateNotFound, UndefinedError

            if isinstance(exc, UndefinedError):
                hint = (
                    "template variables: vars.<name> (spec `vars`, --vars-file, --var K=V), "
                    "images.<container>, env, cluster, service, region, git_sha, git_branch"
                )
            elif isinstance(exc, TemplateNotFound):
                hint = f"included templates are looked up in {display_path(self.folder)}"
            raise TemplateError(_describe(exc), where=where, hint=hint) from None

    def _git_error(self, exc: _GitUnavailable, where: str) -> TemplateError:
        return TemplateError(
            f"{exc.name} is used but cannot be computed: {exc.reason}",
            where=where,
            hint="run from a git checkout, or pass the value with --var / --image instead",
        )


def _describe(exc: BaseException) -> str:
    from jinja2 import TemplateNotFound, UndefinedError
    from jinja2.exceptions import SecurityError

    if isinstance(exc, UndefinedError):
        return f"undefined template variable: {exc.message}"
    if isinstance(exc, TemplateNotFound):
        return f"included template not found: {exc.name}"
    if isinstance(exc, SecurityError):
        return f"not allowed in a template: {exc}"
    return f"template failed: {type(exc).__name__}: {exc}"


# --- parsing rendered text ------------------------------------------------------------------------
def _parse_rendered(
    text: str, display: str, *, yaml: bool, error: type[BluegreenError] = TemplateError
) -> tuple[Any, Mapping[JsonPath, int]]:
    """Rendered text -> data plus the rendered line of every key (for schema messages; the
    lines are found only when a message asks for one)."""
    if yaml:
        sure, data = fast_yaml(text)
        if sure:
            return data, LazyLines(lambda: _yaml_lines(text, display, error))
        lines: dict[JsonPath, int] = {}
        return plain(_load_rendered_yaml(text, display, error), lines), lines
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                duplicates.append(key)
            seen[key] = value
        return seen

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise error(
            f"the rendered text is not valid JSON: {exc.msg} (column {exc.colno})"
            f"{_excerpt(text, exc.lineno)}",
            where=f"{display}:{exc.lineno}",
            hint="the line is counted in the rendered output; check commas and quoting around "
            "template expressions (the tojson filter quotes a value safely)",
        ) from None
    if duplicates:
        key = duplicates[0]
        rows = [
            i
            for i, row in enumerate(text.splitlines(), 1)
            if re.search(rf'"{re.escape(key)}"\s*:', row)
        ]
        line = rows[1] if len(rows) > 1 else 0
        raise error(
            f"the rendered JSON has the key {key!r} twice in one object (the last would win)"
            f"{_excerpt(text, line)}",
            where=f"{display}:{line}" if line else display,
        )
    return data, LazyLines(lambda: _json_lines(text))


def _load_rendered_yaml(text: str, display: str, error: type[BluegreenError]) -> Any:
    """Rendered YAML through the round-trip loader (aliases bounded); its errors name the
    rendered line."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    from bluegreen.release.spec import round_trip_load

    try:
        return round_trip_load(text, display, error)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise error(
            f"the rendered text is not valid YAML: {yaml_problem(exc)}{_excerpt(text, line)}",
            where=yaml_where(exc, display),
        ) from None
    except YAMLError as exc:
        raise error(f"the rendered text is not valid YAML: {exc}", where=display) from None


def _yaml_lines(text: str, display: str, error: type[BluegreenError]) -> dict[JsonPath, int]:
    lines: dict[JsonPath, int] = {}
    plain(_load_rendered_yaml(text, display, error), lines)
    return lines


def _json_lines(text: str) -> dict[JsonPath, int]:
    """JSON is YAML: the round-trip loader finds the line of every key and item."""
    lines: dict[JsonPath, int] = {}
    try:
        from ruamel.yaml import YAML

        plain(YAML(typ="rt").load(text.replace("\t", " ")), lines)
    except Exception:  # noqa: S110 - line numbers are a nicety
        pass
    return lines


# One token of a rendered JSON/YAML line: a key (quoted or bare, with its colon), punctuation,
# white space, a quoted string, or a bare value.
_ROW_TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"\s*:(?!\S)|"(?:[^"\\]|\\.)*"\s*:(?=[\s{\[])'
    r"|[A-Za-z_][\w.-]*\s*:(?=\s|$)"
    r"|[{}\[\],]|\s+|-(?=\s)"
    r'|"(?:[^"\\]|\\.)*"?|[^\s{}\[\],"]+'
)


def _masked_row(row: str) -> str:
    """The structure of a rendered line with every value masked: the line may carry an
    environment value or a secret, and only its shape helps find the mistake."""
    out = []
    key_may_follow = True  # at the start, and after `{`, `,` or `- `
    for m in _ROW_TOKEN.finditer(row):
        piece = m.group(0)
        if piece.isspace():
            out.append(piece)
        elif piece in "{,-":
            out.append(piece)
            key_may_follow = True
        elif piece in "}[]" or (key_may_follow and piece.rstrip().endswith(":")):
            out.append(piece)
            key_may_follow = False
        else:
            out.append("…")
            key_may_follow = False
    return "".join(out)


def _excerpt(text: str, line: int) -> str:
    rows = text.splitlines()
    if 1 <= line <= len(rows):
        row = _masked_row(rows[line - 1].strip())
        if len(row) > 100:
            row = row[:97] + "..."
        return f"\n  rendered line {line} (values hidden): {row}"
    return ""


def _at(doc: Any, path: JsonPath) -> Any:
    """The value at `path` in `doc` (None when there is none)."""
    for step in path:
        try:
            doc = doc[step]
        except (KeyError, IndexError, TypeError):
            return None
    return doc


def _environment_path(path: JsonPath) -> bool:
    """Paths whose values schema messages must not quote: container environment entries."""
    return "environment" in path


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
) -> Rendered:
    """Render, pin and validate the task definition and the AppSpec. Raises exit-2 errors."""
    notices: list[str] = []
    given = _Given()
    variables = _variables(spec, vars_files, var_overrides or {}, given)
    region = spec.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    base: dict[str, Any] = {
        "vars": variables,
        "env": spec.env,
        "cluster": spec.cluster,
        "service": spec.service,
        "region": region,
    }
    templates = _Templates(spec, base)

    # 1. images: spec entries (jinja allowed) then --image overrides (literal). Problems are
    #    collected so that one run reports all of them.
    problems: list[BluegreenError] = []
    wanted: dict[str, tuple[str, Where]] = {}  # container -> (reference, where)
    for name, text in spec.images.items():
        if name in (image_overrides or {}):
            continue
        where = _spec_place(spec, ("images", name))
        try:
            wanted[name] = (templates.render_string(text, where, base).strip(), where)
        except UsageError as exc:
            problems += flatten(exc)
            wanted[name] = (text, where)
    for name, text in (image_overrides or {}).items():
        wanted[name] = (text, _fixed_place(f"--image {name}"))
    pinned: dict[str, str] = {}
    for name, (text, where) in wanted.items():
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
    #    A service that CodeDeploy does not deploy needs no AppSpec when it has no load balancer.
    try:
        if _rolling_without_load_balancer(spec, live):
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
    return Rendered(task_definition=doc, appspec=appspec, images=final_images, notices=notices)


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


# --- AppSpec ----------------------------------------------------------------------------------
def _rolling_without_load_balancer(spec: Spec, live: LiveService | None) -> bool:
    from bluegreen.engines import EngineKind, engine_kind

    return (
        live is not None
        and engine_kind(live.deployment_controller, live.deployment_strategy)
        is not EngineKind.CODEDEPLOY
        and spec.load_balancer is None
        and not live.load_balancers
    )


def _appspec(
    spec: Spec, templates: _Templates, live: LiveService | None, task_definition_arn: str | None
) -> dict[str, Any]:
    lb = _load_balancer(spec, live)
    extra: dict[str, Any] = {
        "task_definition_arn": task_definition_arn or PLACEHOLDER_TASK_DEFINITION,
        "load_balancer": lb,
        "platform_version": live.platform_version if live else None,
        "network_configuration": _network(live.network_configuration if live else None),
        "capacity_provider_strategy": [
            {
                key: item[src]
                for key, src in (
                    ("CapacityProvider", "capacityProvider"),
                    ("Base", "base"),
                    ("Weight", "weight"),
                )
                if src in item
            }
            for item in (live.capacity_provider_strategy if live else [])
        ],
        "hooks": {e: spec.codedeploy.hooks[e] for e in HOOK_EVENTS if e in spec.codedeploy.hooks},
    }
    if spec.appspec is not None:
        display = display_path(spec.appspec)
        text = templates.render_file(spec.appspec, extra)
    else:
        from bluegreen.resources import appspec_template

        display = DEFAULT_APPSPEC
        source = appspec_template("ecs.yaml.j2")
        text = templates.render_packaged(DEFAULT_APPSPEC, source, extra)
    is_json = display.endswith((".json.j2", ".json"))
    doc, lines = _parse_rendered(text, display, yaml=not is_json)
    from bluegreen.resources import load_schema

    def where(p: JsonPath) -> str:
        return locate(display, lines, p)

    raise_problems(
        schema_problems(doc, load_schema("appspec"), where, error=SchemaError), subject=display
    )
    result: dict[str, Any] = doc
    return result


def _load_balancer(spec: Spec, live: LiveService | None) -> dict[str, Any]:
    if spec.load_balancer is not None:
        return {
            "container_name": spec.load_balancer.container_name,
            "container_port": spec.load_balancer.container_port,
        }
    if live and live.load_balancers:
        first = live.load_balancers[0]
        if "containerName" in first and "containerPort" in first:
            return {
                "container_name": first["containerName"],
                "container_port": int(first["containerPort"]),
            }
    source = "the live service has no load balancer" if live else "no live service was read"
    raise SpecError(
        f"the AppSpec needs the load balancer's container and port, and {source}",
        where=f"{spec.display}: load_balancer",
        hint="add `load_balancer: {container_name: ..., container_port: ...}` to the spec"
        + (" or drop --offline" if live is None else ""),
    )


def _network(config: dict[str, Any] | None) -> dict[str, Any] | None:
    vpc = (config or {}).get("awsvpcConfiguration")
    if not vpc:
        return None
    out: dict[str, Any] = {"Subnets": list(vpc.get("subnets") or [])}
    if vpc.get("securityGroups"):
        out["SecurityGroups"] = list(vpc["securityGroups"])
    if vpc.get("assignPublicIp"):
        out["AssignPublicIp"] = vpc["assignPublicIp"]
    return {"AwsvpcConfiguration": out}


# --- semantics --------------------------------------------------------------------------------
# Fargate task sizes: cpu units -> allowed memory (MiB).
FARGATE_SIZES: dict[int, list[int]] = {
    256: [512, 1024, 2048],
    512: list(range(1024, 4096 + 1, 1024)),
    1024: list(range(2048, 8192 + 1, 1024)),
    2048: list(range(4096, 16384 + 1, 1024)),
    4096: list(range(8192, 30720 + 1, 1024)),
    8192: list(range(16384, 61440 + 1, 4096)),
    16384: list(range(32768, 122880 + 1, 8192)),
}


def _units(value: Any, unit: str, scale: int) -> int | None:
    """'1024' / 1024 / '1 vCPU' / '2 GB' -> cpu units or MiB; None when unreadable."""
    text = str(value).strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    m = re.fullmatch(rf"(\d+(?:\.\d+)?)\s*{unit}", text, re.IGNORECASE)
    return round(float(m.group(1)) * scale) if m else None


def check_semantics(
    spec: Spec,
    td: dict[str, Any],
    appspec: dict[str, Any],
    td_where: Callable[[JsonPath], str],
    *,
    given: Callable[[Any], str | None] | None = None,
) -> list[BluegreenError]:
    """What a schema cannot check: load balancer container/port, Fargate sizes, essentials.
    `given` names the variable a value came from: such a value is named, never quoted."""
    problems: list[BluegreenError] = []
    containers = [c for c in td.get("containerDefinitions", []) if isinstance(c, dict)]
    if containers and not any(c.get("essential", True) for c in containers):
        problems.append(
            SchemaError(
                "no container is essential; ECS requires at least one",
                where=td_where(("containerDefinitions",)),
                hint="set `essential: true` on the main container (true is the default)",
            )
        )
    if containers and appspec:
        problems += _load_balancer_port(spec, containers, appspec, td_where)
    if "FARGATE" in (td.get("requiresCompatibilities") or []):
        problems += _fargate(td, td_where, given or (lambda value: None))
    return problems


def _load_balancer_port(
    spec: Spec,
    containers: list[dict[str, Any]],
    appspec: dict[str, Any],
    td_where: Callable[[JsonPath], str],
) -> list[BluegreenError]:
    problems: list[BluegreenError] = []
    by_name = {c.get("name"): c for c in containers}
    props = appspec["Resources"][0]["TargetService"]["Properties"]
    lb = props["LoadBalancerInfo"]

    def lb_where() -> str:
        if spec.load_balancer:
            return spec.where(("load_balancer",))
        return "live service loadBalancers[0]"

    container = by_name.get(lb["ContainerName"])
    if container is None:
        problems.append(
            SchemaError(
                f"load balancer container {lb['ContainerName']!r} is not in the task definition; "
                "its containers: " + ", ".join(str(n) for n in by_name),
                where=lb_where(),
            )
        )
    else:
        ports = [
            p.get("containerPort")
            for p in container.get("portMappings") or []
            if isinstance(p, dict)
        ]
        if lb["ContainerPort"] not in ports:
            index = containers.index(container)
            problems.append(
                SchemaError(
                    f"load balancer port {lb['ContainerPort']} is not in the portMappings of "
                    f"container {lb['ContainerName']!r} (ports: "
                    + (", ".join(str(p) for p in ports) or "none")
                    + ")",
                    where=td_where(("containerDefinitions", index, "portMappings")),
                    hint="add a portMappings entry with that containerPort, or fix "
                    "load_balancer.container_port",
                )
            )
    return problems


def _fargate(
    td: dict[str, Any],
    td_where: Callable[[JsonPath], str],
    given: Callable[[Any], str | None],
) -> list[BluegreenError]:
    problems: list[BluegreenError] = []

    def shown(value: Any) -> str:
        source = given(value)
        return f"from {source} (value hidden)" if source else repr(value)

    if td.get("networkMode") != "awsvpc":
        problems.append(
            SchemaError(
                "Fargate requires networkMode awsvpc",
                where=td_where(("networkMode",)),
            )
        )
    if "cpu" not in td or "memory" not in td:
        missing = " and ".join(k for k in ("cpu", "memory") if k not in td)
        problems.append(
            SchemaError(
                f"Fargate requires task-level {missing}",
                where=td_where(()),
                hint='e.g. "cpu": "256", "memory": "512"',
            )
        )
        return problems
    cpu = _units(td["cpu"], "vcpu", 1024)
    memory = _units(td["memory"], "gb", 1024)
    if cpu not in FARGATE_SIZES:
        problems.append(
            SchemaError(
                f"Fargate cpu {shown(td['cpu'])} is not a valid size; valid: "
                + ", ".join(str(c) for c in FARGATE_SIZES),
                where=td_where(("cpu",)),
            )
        )
    elif memory not in FARGATE_SIZES[cpu]:
        allowed = FARGATE_SIZES[cpu]
        problems.append(
            SchemaError(
                f"Fargate memory {shown(td['memory'])} does not fit cpu {shown(td['cpu'])}; "
                f"with {cpu} cpu "
                f"units memory is {allowed[0]}-{allowed[-1]} MiB"
                + (f" in steps of {allowed[1] - allowed[0]}" if len(allowed) > 2 else "")
                + " ("
                + ", ".join(str(m) for m in allowed[:3])
                + ", ...)",
                where=td_where(("memory",)),
            )
        )
    return problems
