"""Secrets in error messages: a template that renders to something invalid must not print the
environment values it rendered (they come from --var, --vars-file or the template itself).

The error excerpt of invalid rendered JSON/YAML shows the rendered line with its values
masked, and the schema message of a mistyped environment value names its kind, not its value.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from tests.fixtures.project import SPEC, TASKDEF

SECRET = "var-S3cret-5eed5eed"


def env_value(expression: str) -> str:
    return TASKDEF.replace("{{ vars.log_level | tojson }}", expression, 1)


YAML_TASKDEF = """\
family: web
networkMode: awsvpc
requiresCompatibilities: [FARGATE]
cpu: "256"
memory: "512"
containerDefinitions:
  - name: web
    image: set-by-images
    environment:
      - {name: DB_TOKEN, value: VALUE}
"""

CASES = [
    # template file name, template text, --vars-file content (None: --var db_token=SECRET)
    pytest.param(
        "taskdef.json.j2",
        env_value("{{ vars.db_token }}"),  # tojson forgotten: the value lands unquoted
        None,
        id="json-unquoted",
    ),
    pytest.param(
        "taskdef.json.j2",
        env_value('"{{ vars.db_token }}" 1'),
        None,
        id="json-junk-after-value",
    ),
    pytest.param(
        "taskdef.yaml.j2",
        YAML_TASKDEF.replace("VALUE", "{{ vars.db_token }}: x"),
        None,
        id="yaml-flow-mapping",
    ),
    pytest.param(
        "taskdef.json.j2",
        env_value("{{ vars.db_token | tojson }}"),
        f"db_token: {{nested: {SECRET}}}\n",
        id="schema-mapping-value",
    ),
    pytest.param(
        "taskdef.json.j2",
        env_value("{{ vars.db_token | tojson }}"),
        f"db_token: [{SECRET}]\n",
        id="schema-list-value",
    ),
    pytest.param(
        "taskdef.json.j2",
        env_value("{{ vars.db_token | tojson }}") + "{{ vars.missing }}",
        None,
        id="undefined-variable-after-the-value",
    ),
    pytest.param(
        "taskdef.json.j2",
        env_value("{{ vars.db_token | tojson }}").replace('"cpu": "256"', '"cpu": 256'),
        None,
        id="schema-error-elsewhere",
    ),
]


@pytest.mark.parametrize(("name", "template", "vars_file"), CASES)
@pytest.mark.parametrize("verb", ["render", "validate"])
def test_error_messages_do_not_print_environment_values(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    template: str,
    vars_file: str | None,
    verb: str,
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "bluegreen.yaml").write_text(SPEC.replace("taskdef.json.j2", name))
    (app / name).write_text(template)
    args = ["-c", str(app / "bluegreen.yaml"), verb, "--offline"]
    if vars_file is None:
        args += ["--var", f"db_token={SECRET}"]
    else:
        (app / "vars.yaml").write_text(vars_file)
        args += ["--vars-file", str(app / "vars.yaml")]
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    from bluegreen.cli.app import run

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run(args)
    assert code == 2, err.getvalue()
    assert "error: " in err.getvalue()
    assert SECRET not in out.getvalue() + err.getvalue()


def test_the_same_values_render_hidden_when_the_template_is_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control for the cases above: with a valid template the value is masked (its
    name says it is a secret; a plain name's value would be shown, by design)."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "bluegreen.yaml").write_text(SPEC)
    template = env_value("{{ vars.db_token | tojson }}")
    (app / "taskdef.json.j2").write_text(template.replace('"LOG_LEVEL"', '"DB_TOKEN"', 1))
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    from bluegreen.cli.app import run

    args = ["-c", str(app / "bluegreen.yaml"), "-o", "json", "render", "--offline"]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run([*args, "--var", f"db_token={SECRET}"])
    assert code == 0, err.getvalue()
    env = json.loads(out.getvalue().splitlines()[0])["taskDefinition"]["containerDefinitions"][0][
        "environment"
    ]
    assert env == [{"name": "DB_TOKEN", "value": "***"}]
    assert SECRET not in out.getvalue() + err.getvalue()


# --- values given on the command line or in vars files, quoted nowhere -------------------------
def run_offline(app: Path, *argv: str) -> tuple[int, str, str]:
    from bluegreen.cli.app import run

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = run(["-c", str(app / "bluegreen.yaml"), *argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "bluegreen.yaml").write_text(SPEC)
    (folder / "taskdef.json.j2").write_text(
        TASKDEF.replace('"cpu": "256"', '"cpu": {{ vars.cpu | default("256") | tojson }}')
        .replace('"memory": "512"', '"memory": {{ vars.memory | default("512") | tojson }}')
        .replace(
            '"containerPort": 8080', '"containerPort": {{ vars.port | default(8080) | tojson }}'
        )
    )
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    return folder


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        pytest.param(
            ["--var", f"db_token={SECRET}", "--var", "db_token=other-S3cret-value"],
            ["--var db_token", "given twice"],
            id="var-given-twice",
        ),
        pytest.param(["--var", f"={SECRET}"], ["--var", "NAME=VALUE"], id="var-without-name"),
        pytest.param(["--var", SECRET], ["--var", "NAME=VALUE"], id="var-without-equals"),
        pytest.param(
            ["--var", f"port={SECRET}"],
            ["taskdef.json.j2", "containerPort", "--var port", "expected integer"],
            id="schema-type-from-var",
        ),
        pytest.param(
            ["--var", f"cpu={SECRET}"],
            ["taskdef.json.j2", "cpu", "--var cpu"],
            id="schema-or-fargate-cpu-from-var",
        ),
        pytest.param(
            ["--var", f"memory=5{SECRET[-4:]}000"],
            ["taskdef.json.j2", "memory", "--var memory"],
            id="fargate-memory-from-var",
        ),
    ],
)
@pytest.mark.parametrize("verb", ["render", "validate"])
def test_errors_about_a_var_name_it_and_never_quote_its_value(
    app: Path, argv: list[str], names: list[str], verb: str
) -> None:
    code, out, err = run_offline(app, verb, "--offline", *argv)
    assert code == 2, err
    assert err.startswith("error: ")
    for value in [a.partition("=")[2] or a for a in argv[1::2]]:
        assert value not in out + err, value
    for name in names:
        assert name in err, (name, err)


def test_a_vars_file_value_is_named_by_file_and_variable(app: Path) -> None:
    (app / "vars.yaml").write_text(f"port: '{SECRET}'\n")
    code, out, err = run_offline(
        app, "validate", "--offline", "--vars-file", str(app / "vars.yaml")
    )
    assert code == 2, err
    assert SECRET not in out + err
    assert "vars.port" in err
    assert "vars.yaml" in err
