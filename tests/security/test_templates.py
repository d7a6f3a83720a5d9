"""Templates cannot reach Python internals, the file system outside the spec's folder or
modules: every attempt, wherever a template is allowed (the task definition, the AppSpec, the
spec's image values, an included template), ends in exit 2 with the sandbox's message and
nothing of what it reached for in the output."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from tests.fixtures.project import SPEC, TASKDEF

ATTRIBUTE_ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ namespace.__init__.__globals__['sys'] }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__init__.__globals__ }}",
    "{{ vars.__class__.__base__ }}",
    "{{ images.web.__class__ }}",
    "{{ git_sha.__class__ }}",
    "{{ ''|attr('__class__') }}",
    "{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "{{ '{0.__class__.__init__.__globals__}'.format(1) }}",
    "{{ vars.log_level.__len__() }}",
    "{% for c in ().__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{% set g = lipsum.__globals__ %}{{ g }}",
]
MODULE_ESCAPES = [
    "{% import 'os' as os %}{{ os.system('true') }}",
    "{% from 'os' import system %}{{ system('true') }}",
    "{% include '/etc/passwd' %}",
    "{% include '../outside.txt' %}",
    "{% include 'sub/../../outside.txt' %}",
]
OUTSIDE = "TOP-SECRET-OUTSIDE-THE-SPEC-FOLDER"
INTERNALS = ("<class", "<module", "<function", "<built-in", "__builtins__", "root:", OUTSIDE)


def run_render(folder: Path, *args: str) -> tuple[int, str, str]:
    from bluegreen.cli.app import run

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run(["-c", str(folder / "bluegreen.yaml"), *args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (tmp_path / "outside.txt").write_text(OUTSIDE + "\n")
    (app / "sub").mkdir()
    (app / "bluegreen.yaml").write_text(SPEC)
    (app / "taskdef.json.j2").write_text(TASKDEF)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # --offline: never used
    return app


def in_json_string(template: str) -> str:
    return TASKDEF.replace("{{ vars.log_level | tojson }}", f'"{template}"', 1)


def place(folder: Path, where: str, template: str) -> str:
    """Put `template` where templates are allowed; return the file the error must name."""
    if where == "taskdef":
        (folder / "taskdef.json.j2").write_text(in_json_string(template))
        return "taskdef.json.j2"
    if where == "appspec":
        (folder / "bluegreen.yaml").write_text(SPEC + "appspec: appspec.yaml.j2\n")
        (folder / "appspec.yaml.j2").write_text(f"version: 0.0\nResources: {template}\n")
        return "appspec.yaml.j2"
    if where == "image":  # image values are rendered before `images` exists
        template = template.replace("images.web", "vars.log_level")
        (folder / "bluegreen.yaml").write_text(
            SPEC.replace(
                "web: 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.0.0",
                "web: "
                + json.dumps("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:" + template),
            )
        )
        return "bluegreen.yaml"
    assert where == "included"
    (folder / "sub" / "part.j2").write_text(template)
    (folder / "taskdef.json.j2").write_text(in_json_string("{% include 'sub/part.j2' %}"))
    return "part.j2"


def assert_nothing_reached(out: str, err: str) -> None:
    assert out == ""
    for marker in INTERNALS:
        assert marker not in out + err, marker
    assert "Traceback" not in err


@pytest.mark.parametrize("where", ["taskdef", "appspec", "image", "included"])
@pytest.mark.parametrize("template", ATTRIBUTE_ESCAPES)
def test_attribute_escapes_are_refused(folder: Path, where: str, template: str) -> None:
    culprit = place(folder, where, template)
    code, out, err = run_render(folder, "render", "--offline")
    assert code == 2, err
    assert "not allowed in a template" in err
    assert "is unsafe" in err
    assert culprit in err
    assert_nothing_reached(out, err)


@pytest.mark.parametrize("template", MODULE_ESCAPES)
def test_modules_and_files_outside_the_folder_are_out_of_reach(folder: Path, template: str) -> None:
    place(folder, "taskdef", template)
    code, out, err = run_render(folder, "render", "--offline")
    assert code == 2, err
    assert "included template not found" in err
    assert "taskdef.json.j2" in err
    assert_nothing_reached(out, err)


def test_variable_values_are_data_not_templates(folder: Path) -> None:
    """A value given with --var is inserted as text; template syntax in it is not run."""
    taskdef = json.loads(TASKDEF.replace("{{ vars.log_level | tojson }}", '"info"'))
    taskdef["containerDefinitions"][0]["command"] = ["{{ vars.cmd }}"]
    (folder / "taskdef.json.j2").write_text(json.dumps(taskdef))
    payload = "{{ ''.__class__.__mro__ }}"
    code, out, err = run_render(
        folder, "-o", "json", "render", "--offline", "--var", f"cmd={payload}"
    )
    assert code == 0, err
    rendered = json.loads(out.splitlines()[0])["taskDefinition"]
    assert rendered["containerDefinitions"][0]["command"] == [payload]
    assert "<class" not in out + err
