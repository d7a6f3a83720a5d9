"""Templates: sandboxed, strict jinja2, compiled once per source (and kept on disk between runs)."""

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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from types import CodeType
from typing import TYPE_CHECKING, Any

from bluegreen.errors import (
    AwsError,
    BluegreenError,
    TemplateError,
)
from bluegreen.render.lookups import LookupFailed
from bluegreen.spec.model import Spec
from bluegreen.spec.yaml import (
    display_path,
)

if TYPE_CHECKING:
    from jinja2 import BytecodeCache, Environment, Template


# Where a problem is, worked out only when a message names it: a spec file's line costs a
# parse of the file with the round-trip loader.
Where = Callable[[], str]
# Where CI systems put the branch name when the checkout is a detached HEAD.
_CI_BRANCH_VARS = ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BRANCH_NAME")


# --- jinja2 ---------------------------------------------------------------------------------
class _GitUnavailable(Exception):
    def __init__(self, name: str, reason: str) -> None:
        super().__init__(reason)
        self.name = name
        self.reason = reason


class _Git:
    """git_sha / git_branch, computed once and only when a template uses them; a variable of
    the same name (`--var git_sha=...`, --vars-file, the spec's `vars`) gives the value instead,
    for a build outside a git checkout."""

    def __init__(self, folder: Path, given: Mapping[str, Any] | None = None) -> None:
        self.folder = folder
        self._cache: dict[str, str] = {
            name: str(value)
            for name, value in (given or {}).items()
            if name in ("git_sha", "git_branch") and isinstance(value, str | int) and str(value)
        }

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
        variables = context.get("vars")
        self.git = _Git(self.folder, variables if isinstance(variables, Mapping) else None)
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
        except LookupFailed as exc:
            raise _lookup_error(exc, where()) from None
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
        except LookupFailed as exc:
            at = _template_line(exc, self.files, self.folder)
            raise _lookup_error(exc, f"{at[0]}:{at[1]}" if at else display) from None
        except BluegreenError:
            raise
        except Exception as exc:
            at = _template_line(exc, self.files, self.folder)
            where = f"{at[0]}:{at[1]}" if at else display
            hint = None
            from jinja2 import TemplateNotFound, UndefinedError

            if isinstance(exc, UndefinedError):
                hint = _undefined_hint(exc, context)
            elif isinstance(exc, TemplateNotFound):
                hint = f"included templates are looked up in {display_path(self.folder)}"
            raise TemplateError(_describe(exc), where=where, hint=hint) from None

    def _git_error(self, exc: _GitUnavailable, where: str) -> TemplateError:
        return TemplateError(
            f"{exc.name} is used but cannot be computed: {exc.reason}",
            where=where,
            hint=f"run from a git checkout with a commit, or give the value: --var "
            f"{exc.name}=VALUE (or --image CONTAINER=REF for a spec image that uses it)",
        )


_MISSING = re.compile(r"has no attribute '([^']+)'|'([^']+)' is undefined")


def _undefined_hint(exc: BaseException, context: Mapping[str, Any]) -> str:
    """What is defined, and the closest name to the one that is not ("did you mean")."""
    import difflib

    found = _MISSING.search(str(exc))
    missing = next((g for g in found.groups() if g), None) if found else None
    variables = context.get("vars")
    names = sorted(str(k) for k in variables) if isinstance(variables, Mapping) else []
    near = difflib.get_close_matches(missing, names, n=1) if missing else []
    head = f"did you mean vars.{near[0]}? " if near else ""
    defined = ", ".join(f"vars.{n}" for n in names) or "no vars"
    return (
        f"{head}defined: {defined} (spec `vars`, --vars-file, --var K=V); also "
        "images.<container>, env, cluster, service, region, git_sha, git_branch; lookups "
        "ssm(), cfn_output(), tfstate(), env_var()"
    )


def _lookup_error(exc: LookupFailed, where: str) -> BluegreenError:
    """A lookup that failed, at the template line that called it: exit 2, or exit 4 for an AWS
    failure other than not-found / access denied."""
    if exc.aws_error:
        return AwsError(exc.message, where=where, hint=exc.hint)
    return TemplateError(exc.message, where=where, hint=exc.hint)


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
