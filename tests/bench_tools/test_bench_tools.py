"""The benchmark tooling itself: generated services are valid, /proc sampling, the runner's
argument checks and table parsing. (The benchmarks' figures come from `make bench`.)"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.harness import Timed, must_succeed, result_line
from bench.memory_bench import memory_kib
from bench.render_bench import ENV, generate, render_all
from bench.run import _cell, main


def test_generated_services_render_and_validate(tmp_path: Path) -> None:
    specs = generate(tmp_path, 3)

    assert render_all(specs) == 3


def test_generated_services_are_distinct(tmp_path: Path) -> None:
    from bluegreen.render.release import render_release
    from bluegreen.spec.load import load_spec

    families = {
        render_release(load_spec(p, ENV)).task_definition["family"] for p in generate(tmp_path, 3)
    }

    assert families == {"svc0001-prod", "svc0002-prod", "svc0003-prod"}


def test_generated_environment_overrides_are_merged(tmp_path: Path) -> None:
    from bluegreen.render.release import render_release
    from bluegreen.spec.load import load_spec

    td = render_release(load_spec(generate(tmp_path, 1)[0], ENV)).task_definition

    assert (td["cpu"], td["memory"]) == ("1024", "2048")


def test_memory_of_this_process() -> None:
    sample = memory_kib(os.getpid())

    assert sample is not None
    assert 0 < sample[0] <= sample[1]


def test_memory_of_a_reaped_process_is_none() -> None:
    done = subprocess.Popen(["true"])
    done.wait()

    assert memory_kib(done.pid) is None


def test_result_line_is_the_last_json_line() -> None:
    assert result_line('{"event": "created"}\n{"event": "result", "status": "Succeeded"}\n') == {
        "event": "result",
        "status": "Succeeded",
    }


def test_a_failed_process_names_its_exit_code() -> None:
    with pytest.raises(RuntimeError, match="deploy exited 3"):
        must_succeed("deploy", Timed(0.0, 1.0, 3, "", "timed out"))


def test_cell_reads_the_median_of_a_row() -> None:
    table = "| measure | median |\n|---|---|\n| exit lag: end → exit | 180.0 ms | 1 ms |\n"

    assert _cell(table, "exit lag") == "180.0 ms"


def test_runner_refuses_fewer_than_five_runs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--runs", "3"])

    assert (exited.value.code, "at least 5" in capsys.readouterr().err) == (2, True)


def test_runner_refuses_unknown_parts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--only", "startup,warp"])

    assert (exited.value.code, "warp" in capsys.readouterr().err) == (2, True)


def test_process_cpu_grows_with_work() -> None:
    from bench.harness import process_cpu

    before = process_cpu(os.getpid())
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:
        pass

    assert process_cpu(os.getpid()) - before >= 0.1


def test_children_cpu_counts_a_waited_child() -> None:
    from bench.harness import children_cpu

    before = children_cpu()
    busy = "import time\nend = time.process_time() + 0.2\nwhile time.process_time() < end: pass"
    subprocess.run([sys.executable, "-c", busy], check=True)

    assert children_cpu() - before >= 0.1
