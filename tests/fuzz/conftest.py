"""Shared pieces of the fuzz tests: a fixed hypothesis profile, a scratch project to write
inputs into, and an in-process CLI run that reports how it ended."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Derandomized: the same examples on every run (a failure reproduces); ~100 CLI runs per test,
# few enough to stay fast. BLUEGREEN_FUZZ_EXAMPLES=N asks for a longer, randomized hunt.
_HUNT = os.environ.get("BLUEGREEN_FUZZ_EXAMPLES", "")
settings.register_profile(
    "bluegreen-fuzz",
    max_examples=int(_HUNT) if _HUNT.isdigit() else 100,
    derandomize=not _HUNT.isdigit(),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

SPEC = """\
version: 1
region: us-east-1
cluster: web-cluster
service: web
task_definition: taskdef.json.j2
images:
  web: 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.0.0
load_balancer:
  container_name: web
  container_port: 8080
codedeploy:
  deployment_config: canary:10%/5m
vars:
  log_level: info
"""

TASKDEF = """\
{
  "family": "web",
  "networkMode": "awsvpc",
  "requiresCompatibilities": ["FARGATE"],
  "cpu": "256",
  "memory": "512",
  "containerDefinitions": [
    {
      "name": "web",
      "image": "set-by-images",
      "essential": true,
      "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
      "environment": [{"name": "LOG_LEVEL", "value": {{ vars.log_level | tojson }}}]
    }
  ]
}
"""


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    def check(self) -> None:
        """Exit 0, or exit 2 with an `error:` message; never a traceback or another code."""
        from hypothesis import event

        event(f"exit {self.code}")  # `pytest --hypothesis-show-statistics` shows the spread
        assert "Traceback" not in self.stderr, self.stderr
        assert "Traceback" not in self.stdout, self.stdout
        assert self.code in (0, 2), (self.code, self.stderr)
        if self.code == 2:
            assert "error: " in self.stderr, f"exit 2 without a message: {self.stderr!r}"
        else:
            assert self.stdout.strip(), "exit 0 without output"


@dataclass
class Project:
    """A spec folder outside any git checkout (so git_sha fails cleanly, not by accident)."""

    root: Path

    @property
    def spec(self) -> Path:
        return self.root / "bluegreen.yaml"

    def write(self, spec: str = SPEC, taskdef: str = TASKDEF) -> None:
        self.spec.write_text(spec, encoding="utf-8", errors="surrogatepass")
        (self.root / "taskdef.json.j2").write_text(
            taskdef, encoding="utf-8", errors="surrogatepass"
        )

    def run(self, *args: str) -> Outcome:
        from bluegreen.cli.app import run

        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = run(["-c", str(self.spec), *args])
        return Outcome(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def project() -> Iterator[Project]:
    with tempfile.TemporaryDirectory(prefix="bluegreen-fuzz-") as folder:
        root = Path(folder) / "app"
        root.mkdir()
        saved = {k: os.environ.get(k) for k in ("GIT_CEILING_DIRECTORIES", "AWS_ENDPOINT_URL")}
        os.environ["GIT_CEILING_DIRECTORIES"] = folder
        # offline runs must not reach AWS; point any stray call at a closed port
        os.environ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"
        try:
            yield Project(root)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
