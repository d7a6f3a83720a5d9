"""Templates from hypothesis: random jinja2 source built from real template syntax (tags,
filters, undefined and defined variables, includes, macros, broken delimiters) and plain
random text, as the task definition template, inside one of its JSON strings, and as the
AppSpec template. Every input ends in exit 0, or exit 2 with a message; never a traceback."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fixtures.project import SPEC, TASKDEF, Project

FRAGMENTS = [
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "{{ vars.log_level }}",
    "{{ vars.nope }}",
    "{{ nope }}",
    "{{ images.web }}",
    "{{ images.missing }}",
    "{{ env }}",
    "{{ region }}",
    "{{ git_sha }}",
    "{{ git_branch }}",
    "{{ vars }}",
    "{{ vars | tojson }}",
    "{{ nope | tojson }}",
    "{{ vars.log_level | upper }}",
    "{{ vars.log_level | int }}",
    "{{ vars.log_level | default('x') }}",
    "{{ 1 / 0 }}",
    "{{ 'a' ~ 1 }}",
    "{{ [1, 2][5] }}",
    "{{ {}['k'] }}",
    "{{ range(3) | list }}",
    "{{ range(10**9) | list }}",
    "{{ vars.log_level.__class__ }}",
    "{{ lipsum.__globals__ }}",
    "{{ self }}",
    "{{ undefined_function() }}",
    "{{ x | no_such_filter }}",
    "{% if vars.log_level %}",
    "{% if nope %}",
    "{% else %}",
    "{% endif %}",
    "{% for x in vars %}",
    "{% for x in nope %}",
    "{% endfor %}",
    "{% set x = 1 %}",
    "{% raw %}",
    "{% endraw %}",
    "{% include 'taskdef.json.j2' %}",
    "{% include 'missing.j2' %}",
    "{% include '../outside.j2' %}",
    "{% import 'missing.j2' as m %}",
    "{% extends 'taskdef.json.j2' %}",
    "{% block b %}",
    "{% endblock %}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{% macro n(a) %}{{ a }}{% endmacro %}",
    "{{ n(1) }}",
    "{% filter upper %}",
    "{% endfilter %}",
    "{% with a = 1 %}",
    "{% endwith %}",
    "{%- ",
    " -%}",
    "\n",
    '"',
    "'",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "null",
    "\\u0000",
    "\x00",
]
source = st.one_of(
    st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=8), max_size=16).map("".join),
    st.text(max_size=120),
)
VERBS = st.sampled_from(["render", "validate"])


@settings(settings.get_profile("bluegreen-fuzz"))
@given(template=source, verb=VERBS)
def test_random_task_definition_template(project: Project, template: str, verb: str) -> None:
    project.write(taskdef=template)
    project.run(verb, "--offline").check()


@settings(settings.get_profile("bluegreen-fuzz"))
@given(template=source, verb=VERBS)
def test_random_template_inside_a_json_string(project: Project, template: str, verb: str) -> None:
    """Inside a string of a valid task definition the JSON around it usually survives, so the
    template itself is what gets rendered."""
    project.write(taskdef=TASKDEF.replace("{{ vars.log_level | tojson }}", '"' + template + '"', 1))
    project.run(verb, "--offline").check()


@settings(settings.get_profile("bluegreen-fuzz"))
@given(template=source, verb=VERBS, image=st.booleans())
def test_random_appspec_template_and_image_template(
    project: Project, template: str, verb: str, image: bool
) -> None:
    if image:  # the spec's image references are templates too
        text = template.replace("\\", "\\\\").replace('"', '\\"')
        spec = SPEC.replace(
            "web: 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.0.0",
            f'web: "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:{text}"',
        )
        project.write(spec=spec)
    else:
        project.write(spec=SPEC + "appspec: appspec.yaml.j2\n")
        (project.root / "appspec.yaml.j2").write_text(
            template, encoding="utf-8", errors="surrogatepass"
        )
    project.run(verb, "--offline").check()
