"""The fast paths of load_spec / render_release give exactly what the slow ones gave.

- the fast YAML loader: whenever it vouches for a document, its data is the round-trip
  loader's (and it steps aside for everything it cannot vouch for);
- the fast JSON Schema check: its yes/no is jsonschema's, over many mutated documents;
- line numbers are found only when a message needs one, and then they are right;
- compiled templates are reused, and an edited template is never served stale.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from bench.render_bench import generate
from bluegreen.errors import BluegreenError, SpecError, flatten
from bluegreen.render.release import render_release
from bluegreen.render.templates import COMPILED
from bluegreen.resources import load_schema
from bluegreen.spec.load import load_spec
from bluegreen.spec.schema import _fast_check
from bluegreen.spec.yaml import LazyLines, fast_yaml, parse_yaml, plain

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "web"

SNIPPETS = [
    "a: true\nb: True\nc: TRUE\nd: false\ne: yes\nf: no\ng: on\nh: off\n",
    "a: 1\nb: -0\nc: +1\nd: 012\ne: 0o17\nf: 0x1F\ng: 1_000\nh: 1.50\ni: .5\nj: 1.\nk: 1e3\n",
    "a: .inf\nb: -.Inf\nc: .nan\nd: 1:30\ne: 2024-01-01\nf: 2024-01-01T10:00:00Z\n",
    "a: ~\nb: null\nc: Null\nd:\ne: ''\nf: \"\"\n",
    "1: x\ntrue: y\n~: z\n",
    "a: !!str 1\nb: !!int '2'\nc: !custom x\nd: ! e\n",
    "base: &b {x: 1, y: [1, 2]}\nother: *b\n",
    "base: &b {x: 1}\nmerged:\n  <<: *b\n  y: 2\n",
    "a: &x [*x]\n",
    "a: 1\na: 2\n",
    "a: 1\n'a': 2\n",
    'a: 1\n"a": 2\n',
    "%YAML 1.1\n---\na: yes\n",
    "---\na: 1\n---\nb: 2\n",
    "? [a, b]\n: 1\n",
    "a: b: c\n",
    "a:\n  - x\n - y\n",
    "a: 'it''s'\nb: \"tab\\there \\u00e9 \\/ \\x41\"\nc: plain # comment\n",
    "a: |\n  literal\n  text\n\nb: >-\n  folded\n  text\nc: |+\n  keep\n\n",
    "a: multi\n  line\n  plain\n",
    "a: [1, {b: c}, [d, e], '', \"\"]\nb: {}\nc: []\n",
    "a: \t1\n",
    "\ta: 1\n",
    "a: \x07bell\n",
    "\ufeffa: 1\n",
    "a: 1\r\nb: 2\r\n",
    "",
    "# only a comment\n",
    "- 1\n- two\n- 3.0\n",
    "just a string\n",
    "a: @x\n",
    "a: `x`\n",
    'a: "unterminated\n',
    "{a: 1, b: [2, 3], 'c': {d: e}}\n",
    '{"family": "x", "n": 1, "l": [true, null, 1.5, "s"], "o": {}}\n',
    "a: -\nb: - x\n",
    "key with spaces: value with: colon\n",
    "a: 0.0\nb: -0.0\nc: 00\nd: 1.0e+3\n",
    "emoji: 😀\nnel: \u0085x\n",
    "a: 'x'\n...\n",
    "a: 2001-12-14 21:59:43.10 -5\n",
]


def _round_trip(text: str) -> tuple[bool, Any]:
    try:
        return True, plain(parse_yaml(text, "doc.yaml"), {})
    except SpecError:
        return False, None


def _documents() -> list[str]:
    texts = list(SNIPPETS)
    texts += [p.read_text() for p in EXAMPLE.rglob("*.yaml")]
    texts += [p.read_text() for p in Path(__file__).resolve().parents[1].rglob("*.yaml")]
    return texts


@pytest.mark.parametrize("text", _documents())
def test_the_fast_loader_reads_what_the_round_trip_loader_reads(text: str) -> None:
    sure, data = fast_yaml(text)
    if not sure:
        return  # the round-trip loader reads it, as before
    ok, expected = _round_trip(text)
    assert ok, "the fast loader accepted a document the round-trip loader rejects"
    assert data == expected
    assert json.dumps(data, sort_keys=True) == json.dumps(expected, sort_keys=True)  # types


def test_the_fast_loader_vouches_for_ordinary_documents() -> None:
    plain_ones = [SNIPPETS[i] for i in (0, 3, 6, 17, 18, 19, 20, 33, 34)]
    assert all(fast_yaml(text)[0] for text in plain_ones)
    for text in (SNIPPETS[2], SNIPPETS[5], SNIPPETS[7], SNIPPETS[9], SNIPPETS[12]):
        assert fast_yaml(text) == (False, None)  # timestamps, tags, merge keys, duplicates...


# --- the schema check -----------------------------------------------------------------------
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
    1.5,
    10**9,
    "",
    "x",
    "0",
    "UPPER",
    "5m",
    "256",
    [],
    [1, 1],
    [True, 1],
    ["a"],
    {},
    {"a": 1},
]


def _paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [at]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*at, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*at, i))
    return found


def _mutate(doc: Any, rng: random.Random) -> Any:
    doc = json.loads(json.dumps(doc))
    for _ in range(rng.choice((1, 1, 2))):
        path = rng.choice(_paths(doc)[1:])
        parent = doc
        for item in path[:-1]:
            parent = parent[item]
        last = path[-1]
        action = rng.random()
        if action < 0.2 and isinstance(parent, dict):
            del parent[last]
        elif action < 0.3 and isinstance(parent, dict):
            parent[rng.choice(("extra", "nmae", "Name", "x-y"))] = rng.choice(ODD_VALUES)
        elif action < 0.4 and isinstance(parent[last], list) and parent[last]:
            parent[last].append(parent[last][0])  # a duplicate item
        else:
            parent[last] = json.loads(json.dumps(rng.choice(ODD_VALUES)))
    return doc


def _valid_documents(tmp_path: Path) -> dict[str, list[Any]]:
    specs = generate(tmp_path / "services", 3)
    docs: dict[str, list[Any]] = {"spec": [], "taskdef": [], "appspec": []}
    for path in specs:
        spec = load_spec(path, "prod")
        rendered = render_release(spec)
        docs["spec"].append(spec.data)
        docs["taskdef"].append(rendered.task_definition)
        docs["appspec"].append(rendered.appspec)
    example = load_spec(EXAMPLE / "bluegreen.yaml", "prod")
    docs["spec"].append(example.data)
    return docs


@pytest.mark.parametrize("name", ["spec", "taskdef", "appspec"])
def test_the_fast_schema_check_agrees_with_jsonschema(name: str, tmp_path: Path) -> None:
    schema = load_schema(name)
    check = _fast_check(schema)
    assert check is not None, f"{name}: a keyword the fast check does not know"
    validator = Draft202012Validator(schema)
    rng = random.Random(f"bluegreen-{name}")
    docs = _valid_documents(tmp_path)[name]
    verdicts = {True: 0, False: 0}
    for doc in docs:
        assert check(doc)
        assert validator.is_valid(doc)
    for _ in range(400):
        doc = _mutate(rng.choice(docs), rng)
        expected = validator.is_valid(doc)
        assert check(doc) == expected, json.dumps(doc)[:2000]
        verdicts[expected] += 1
    assert verdicts[True] > 10
    assert verdicts[False] > 100


def test_a_schema_with_an_unknown_keyword_has_no_fast_check() -> None:
    assert _fast_check({"type": "object", "not": {"required": ["a"]}}) is None
    assert _fast_check({"$ref": "#"}) is None
    assert _fast_check({"type": "object", "properties": {"a": {"if": {}}}}) is None


@pytest.mark.parametrize(
    ("schema", "value", "valid"),
    [
        ({"type": "integer"}, 1.0, True),
        ({"type": "integer"}, True, False),
        ({"type": "number"}, False, False),
        ({"enum": [1, "a"]}, True, False),
        ({"enum": [1, "a"]}, 1.0, True),
        ({"const": [1, {"a": False}]}, [1, {"a": 0}], False),
        ({"uniqueItems": True}, [1, True], True),
        ({"uniqueItems": True}, [{"a": 1}, {"a": 1.0}], False),
        ({"minimum": 1}, "0", True),
        ({"oneOf": [{"type": "string"}, {"minLength": 1}]}, "x", False),
        ({"propertyNames": {"pattern": "^[a-z]+$"}}, {"A": 1}, False),
        ({"additionalProperties": False, "properties": {"a": True}}, {"a": 1, "b": 2}, False),
        ({"items": False}, [], True),
        ({"items": False}, [1], False),
    ],
)
def test_the_fast_schema_check_follows_jsonschema_on_edge_cases(
    schema: dict[str, Any], value: Any, valid: bool
) -> None:
    check = _fast_check(schema)
    assert check is not None
    assert Draft202012Validator(schema).is_valid(value) is valid
    assert check(value) is valid


# --- line numbers on demand -----------------------------------------------------------------
def test_a_valid_spec_never_looks_for_a_line(tmp_path: Path) -> None:
    [path] = generate(tmp_path / "services", 1)
    spec = load_spec(path, "prod")
    render_release(spec)
    assert isinstance(spec.lines, LazyLines)
    assert not spec.lines.built


def test_a_problem_still_names_its_line(tmp_path: Path) -> None:
    [path] = generate(tmp_path / "services", 1)
    text = path.read_text().replace("  container_port: 8001", "  container_port: http")
    path.write_text(text)
    line = text.splitlines().index("  container_port: http") + 1
    with pytest.raises(BluegreenError) as caught:
        load_spec(path, "prod")
    [problem] = flatten(caught.value)
    assert problem.where is not None
    assert problem.where.endswith(f":{line}: load_balancer.container_port")


def test_a_problem_in_the_rendered_task_definition_names_its_line(tmp_path: Path) -> None:
    [path] = generate(tmp_path / "services", 1)
    template = tmp_path / "services" / "taskdefs" / "svc0001.json.j2"
    text = template.read_text().replace('"interval": 15', '"interval": "often"')
    template.write_text(text)
    rendered_line = next(
        i for i, row in enumerate(text.splitlines(), 1) if '"interval": "often"' in row
    )
    with pytest.raises(BluegreenError) as caught:
        render_release(load_spec(path, "prod"))
    wheres = [p.where for p in flatten(caught.value)]
    assert any(w and f":{rendered_line}: containerDefinitions[0].healthCheck" in w for w in wheres)


# --- compiled templates ---------------------------------------------------------------------
def test_templates_are_compiled_once_and_an_edit_is_never_stale(tmp_path: Path) -> None:
    [path] = generate(tmp_path / "services", 1)
    template = tmp_path / "services" / "taskdefs" / "svc0001.json.j2"
    first = render_release(load_spec(path, "prod"))
    cached = dict(COMPILED._templates)
    again = render_release(load_spec(path, "prod"))
    assert again.task_definition == first.task_definition
    assert all(COMPILED._templates.get(key) is value for key, value in cached.items())

    # the same size and the same modification time: only the content tells
    stat = template.stat()
    text = template.read_text()
    edited = text.replace('"awslogs-stream-prefix": "app"', '"awslogs-stream-prefix": "xyz"')
    assert len(edited) == len(text)
    template.write_text(edited)
    os.utime(template, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    third = render_release(load_spec(path, "prod"))
    options = third.task_definition["containerDefinitions"][0]["logConfiguration"]["options"]
    assert options["awslogs-stream-prefix"] == "xyz"


def test_git_values_come_from_the_folder_of_each_render(tmp_path: Path) -> None:
    """The shared environment's git values belong to the render that asks for them."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    import subprocess

    folder = tmp_path / "repo"
    [path] = generate(folder, 1)
    template = folder / "taskdefs" / "svc0001.json.j2"
    template.write_text(
        template.read_text().replace(
            '"family": "{{ service }}', '"family": "{{ service }}-{{ git_sha[:7] }}'
        )
    )
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "one"]):
        subprocess.run(["git", *args], cwd=folder, check=True, env=env)
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=folder, check=True, capture_output=True, text=True
    ).stdout.strip()
    rendered = render_release(load_spec(path, "prod"))
    assert rendered.task_definition["family"] == f"svc0001-{sha[:7]}-prod"
    subprocess.run(["git", "commit", "-qm", "two", "--allow-empty"], cwd=folder, env=env)
    newer = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=folder, check=True, capture_output=True, text=True
    ).stdout.strip()
    rendered = render_release(load_spec(path, "prod"))
    assert rendered.task_definition["family"] == f"svc0001-{newer[:7]}-prod"


# --- compiled code shared between files, string templates split into expressions -----------
def test_files_with_one_source_compile_once_and_keep_their_own_names(tmp_path: Path) -> None:
    COMPILED.clear()
    specs = generate(tmp_path / "services", 3)
    rendered = [render_release(load_spec(path, "prod")) for path in specs]
    assert [r.task_definition["family"] for r in rendered] == [
        "svc0001-prod",
        "svc0002-prod",
        "svc0003-prod",
    ]
    source = (tmp_path / "services" / "taskdefs" / "svc0001.json.j2").read_text()
    assert [key for key in COMPILED._code if key[1] == source] != []
    assert len([key for key in COMPILED._code if key[1] == source]) == 1

    # one broken source in every file: each failure names its own file and the line
    broken = source.replace('"awslogs-stream-prefix": "app"', '"x": {{ vars.nowhere }}')
    line = next(i for i, row in enumerate(broken.splitlines(), 1) if "vars.nowhere" in row)
    for path in specs:
        (path.parent / "taskdefs" / f"{path.stem}.json.j2").write_text(broken)
    for path in reversed(specs):
        with pytest.raises(BluegreenError) as caught:
            render_release(load_spec(path, "prod"))
        [problem] = flatten(caught.value)
        assert problem.where is not None
        assert problem.where.endswith(f"taskdefs/{path.stem}.json.j2:{line}")
        assert "nowhere" in str(problem)
    assert len([key for key in COMPILED._code if key[1] == broken]) == 1


STRING_TEMPLATES = [
    "",
    "plain text, no template",
    "registry/app:{{ vars.release }}",
    "{{ vars.release }}",
    "a {{ vars.release }} b {{ service | upper }} c",
    "{{- vars.release }}  x  {{ vars.release -}}  \n  y",
    "  {{- service -}}  ",
    "{{ 'a}}b' }}{{ \"{{\" }}",
    "line one\nline two {{ service }}\n",
    "trailing newline kept\n",
    "carriage\r\nreturns {{ service }}\r\n",
    "a}}b {c} {{ '{' }}",
    "{% if service %}yes{% endif %}",
    "{# a comment #}{{ service }}",
    "{% raw %}{{ kept }}{% endraw %}",
    "{{ vars.nowhere }}",
    "x {{ service }} {{ vars.nowhere.deeper }}",
    "{{ }}",
    "{{ service ",
    "{{ service }} {{ ) }}",
    "{{ service.__class__ }}",
    "{{ vars.items | list | length }}",
    "{{ vars['release'] ~ '-' ~ region }}",
]


def _whole(text: str, folder: Path, context: dict[str, Any]) -> tuple[bool, str]:
    """What jinja2 gives for the string compiled whole, in the renderer's environment."""
    try:
        return True, COMPILED.environment(folder).from_string(text).render(context)
    except Exception as exc:  # every failure: the renderer turns each into a TemplateError
        return False, type(exc).__name__


def _split(text: str, spec_path: Path, context: dict[str, Any]) -> tuple[bool, str]:
    from bluegreen.errors import TemplateError
    from bluegreen.render.templates import _Templates

    templates = _Templates(load_spec(spec_path, "prod"), context)
    try:
        return True, templates.render_string(text, lambda: "spec.yaml:1", context)
    except TemplateError as exc:
        return False, str(exc)


@pytest.fixture(scope="module")
def one_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    [path] = generate(tmp_path_factory.mktemp("strings") / "services", 1)
    return path


CONTEXT: dict[str, Any] = {
    "vars": {"release": "2.1.0", "items": [1, 2]},
    "service": "web",
    "region": "eu-west-1",
}


@pytest.mark.parametrize("text", STRING_TEMPLATES)
def test_a_string_template_renders_as_jinja2_renders_it_whole(text: str, one_spec: Path) -> None:
    whole = _whole(text, one_spec.parent.resolve(), CONTEXT)
    split = _split(text, one_spec, CONTEXT)
    assert split[0] == whole[0], (text, whole, split)
    if whole[0]:
        assert split[1] == whole[1]


def test_string_templates_share_the_compiled_expression(one_spec: Path) -> None:
    COMPILED.clear()
    for index in range(20):
        assert _split(f"registry/svc{index:04d}:{{{{ vars.release }}}}", one_spec, CONTEXT) == (
            True,
            f"registry/svc{index:04d}:2.1.0",
        )
    assert [key[1] for key in COMPILED._code] == ["{{ vars.release }}"]


def test_the_scalar_resolver_is_the_round_trip_loaders() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver

    from bluegreen.spec.yaml import _fast_loader

    parts = _fast_loader()
    if parts is None:
        pytest.skip("PyYAML with libyaml is not installed")
    fast = parts[1]
    slow = VersionedResolver()

    def expected(value: str) -> str:
        return str(slow.resolve(ScalarNode, value, (True, False)))

    corpus = ["", "~", "-", "+", ".", "=", "<<", "!x", "&a", "*a", "0o7", "0x1f", "1_000"]
    corpus += [".inf", "-.Inf", ".nan", "1e3", "1.5e-3", "Yes", "no", "on", "null", "NULL"]
    corpus += ["2001-12-14", "2001-12-14t21:59:43.10-05:00", "True", "tRue", "+1", "-0", "007"]
    corpus += ["1.", ".5", "12:30", "0b101", "svc0001", "nul", "false", "FALSE", "1.0e+3"]
    for value in corpus:
        assert fast(value) == expected(value), value

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet="0123456789+-._eE:xobtTfFnNuUlLrsyY~<=!&* ", max_size=12))
    def agree(value: str) -> None:
        assert fast(value) == expected(value)

    agree()


# --- compiled code on disk between runs -----------------------------------------------------
@pytest.fixture
def code_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from bluegreen.render.templates import CACHE_ENV_VAR

    folder = tmp_path / "code-cache"
    monkeypatch.setenv(CACHE_ENV_VAR, str(folder))
    COMPILED.clear()
    return folder


def _plant(folder: Path, source: str, code_source: str) -> None:
    """An entry for `source` in the on-disk cache whose code was compiled from `code_source`."""
    from jinja2 import FileSystemBytecodeCache

    from bluegreen.render.templates import code_key

    env = COMPILED.environment(folder)
    cache = FileSystemBytecodeCache(str(folder), "%s.jinja2")
    bucket = cache.get_bucket(env, code_key(source), None, source)
    bucket.code = env.compile(code_source)
    cache.set_bucket(bucket)


def test_compiled_code_comes_from_the_disk_cache(code_cache: Path, tmp_path: Path) -> None:
    [path] = generate(tmp_path / "services", 1)
    template = tmp_path / "services" / "taskdefs" / "svc0001.json.j2"
    source = template.read_text()
    assert render_release(load_spec(path, "prod")).task_definition["family"] == "svc0001-prod"
    assert code_cache.stat().st_mode & 0o777 == 0o700
    entries = set(code_cache.iterdir())
    assert len(entries) >= 2  # the task definition, the AppSpec, the image's expression

    # a new process would find the entry: shown by an entry whose code renders another family
    _plant(code_cache, source, source.replace('"family": "{{ service }}', '"family": "cached'))
    COMPILED.clear()
    assert render_release(load_spec(path, "prod")).task_definition["family"] == "cached-prod"


def test_a_damaged_entry_is_compiled_again_and_rewritten(code_cache: Path, tmp_path: Path) -> None:
    [path] = generate(tmp_path / "services", 1)
    first = render_release(load_spec(path, "prod")).task_definition
    for entry in code_cache.iterdir():
        entry.write_bytes(b"j2 not a cache entry")
    COMPILED.clear()
    assert render_release(load_spec(path, "prod")).task_definition == first
    assert all(e.read_bytes() != b"j2 not a cache entry" for e in code_cache.iterdir())


def test_a_folder_others_may_write_to_is_not_used(code_cache: Path, tmp_path: Path) -> None:
    code_cache.mkdir(mode=0o700)
    code_cache.chmod(0o777)
    [path] = generate(tmp_path / "services", 1)
    source = (tmp_path / "services" / "taskdefs" / "svc0001.json.j2").read_text()
    _plant(code_cache, source, source.replace('"family": "{{ service }}', '"family": "planted'))
    planted = set(code_cache.iterdir())
    COMPILED.clear()
    assert render_release(load_spec(path, "prod")).task_definition["family"] == "svc0001-prod"
    assert set(code_cache.iterdir()) == planted  # nothing read, nothing written


def test_the_cache_can_be_turned_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code_cache: Path
) -> None:
    from bluegreen.render.templates import CACHE_ENV_VAR

    monkeypatch.setenv(CACHE_ENV_VAR, "off")
    [path] = generate(tmp_path / "services", 1)
    assert render_release(load_spec(path, "prod")).task_definition["family"] == "svc0001-prod"
    assert not code_cache.exists()
    assert not (tmp_path / "off").exists()


FRAGMENTS = [
    "x",
    " ",
    "\n",
    "{",
    "}",
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "-",
    "'",
    "{{ service }}",
    "{{- service }}",
    "{{ service -}}",
    "{{ '}}' }}",
    "{{ vars.release | upper }}",
    "{{ vars.nowhere }}",
    "{% if service %}y{% endif %}",
    "{# c #}",
]


def test_string_templates_agree_with_jinja2_on_any_mix(one_spec: Path) -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.sampled_from(FRAGMENTS), max_size=8).map("".join))
    def agree(text: str) -> None:
        whole = _whole(text, one_spec.parent.resolve(), CONTEXT)
        split = _split(text, one_spec, CONTEXT)
        assert split[0] == whole[0], (text, whole, split)
        if whole[0]:
            assert split[1] == whole[1], text

    agree()


# --- paths resolved with their folder's resolution kept -------------------------------------
def test_resolved_paths_are_what_path_resolve_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bluegreen.spec.yaml import resolved

    real = tmp_path / "real"
    (real / "sub").mkdir(parents=True)
    (real / "spec.yaml").write_text("x")
    (real / "sub" / "td.json.j2").write_text("x")
    (tmp_path / "linked").symlink_to(real)  # a folder that is a link
    (real / "alias.yaml").symlink_to(real / "sub" / "td.json.j2")  # a file that is a link
    monkeypatch.chdir(tmp_path / "linked")
    cases = [
        real / "spec.yaml",
        tmp_path / "linked" / "spec.yaml",
        tmp_path / "linked" / "sub" / "td.json.j2",
        tmp_path / "linked" / "sub" / ".." / "spec.yaml",
        tmp_path / "linked" / "alias.yaml",
        tmp_path / "linked" / "missing.yaml",
        Path("spec.yaml"),
        Path("sub/td.json.j2"),
        Path("sub/.."),
        Path("."),
    ]
    for path in cases:
        assert resolved(path) == path.resolve(), path
    for path in cases:  # again, from the kept folder resolutions
        assert resolved(path) == path.resolve(), path


def test_no_home_folder_means_no_cache_and_no_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bluegreen.render.templates import CACHE_ENV_VAR

    monkeypatch.delenv(CACHE_ENV_VAR, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("HOME", raising=False)

    def no_home(cls: type[Path]) -> Path:
        raise RuntimeError("Could not determine home directory.")  # what pathlib raises

    monkeypatch.setattr(Path, "home", classmethod(no_home))
    COMPILED.clear()
    [path] = generate(tmp_path / "services", 1)
    assert render_release(load_spec(path, "prod")).task_definition["family"] == "svc0001-prod"
