"""No command in bluegreen/ goes through a shell: no `shell=` other than a literal False on any
call, no **options on a subprocess call, no `sh -c` argv, and none of the functions that always
use a shell (os.system, os.popen, subprocess.getoutput/getstatusoutput,
asyncio.create_subprocess_shell). Checked on the syntax tree, so comments, strings and
formatting cannot hide or fake a finding."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "bluegreen"
SHELL_FUNCTIONS = {
    ("os", "system"),
    ("os", "popen"),
    ("subprocess", "getoutput"),
    ("subprocess", "getstatusoutput"),
    ("asyncio", "create_subprocess_shell"),
}
SHELLS = {"sh", "bash", "zsh", "dash", "/bin/sh", "/bin/bash", "cmd", "cmd.exe", "powershell"}


def findings(source: str, filename: str) -> list[str]:
    tree = ast.parse(source, filename=filename)
    imported: dict[str, tuple[str, str]] = {}  # local name -> (module, function)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("os", "subprocess", "asyncio"):
            for alias in node.names:
                imported[alias.asname or alias.name] = (node.module, alias.name)
    found: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        where = f"{filename}:{node.lineno}"
        func = node.func
        name: tuple[str, str] | None = None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            name = (func.value.id, func.attr)
        elif isinstance(func, ast.Name):
            name = imported.get(func.id)
        if name in SHELL_FUNCTIONS:
            found.append(f"{where}: {name[0]}.{name[1]}()")
        if node.args and isinstance(node.args[0], ast.List | ast.Tuple):
            words = [e.value for e in node.args[0].elts[:2] if isinstance(e, ast.Constant)]
            if len(words) == 2 and words[0] in SHELLS and words[1] in ("-c", "/c", "-Command"):
                found.append(f"{where}: {words[0]} {words[1]}")
        for keyword in node.keywords:
            if keyword.arg == "shell" and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            ):
                found.append(f"{where}: shell={ast.unparse(keyword.value)}")
            if keyword.arg is None and name is not None and name[0] == "subprocess":
                # **options on a subprocess call could carry shell=True unseen
                found.append(f"{where}: **{ast.unparse(keyword.value)} on subprocess.{name[1]}")
    return found


def test_the_checker_finds_what_it_looks_for() -> None:
    bad = (
        "import os, subprocess\n"
        "from subprocess import getoutput as go\n"
        "subprocess.run('ls', shell=True)\n"
        "subprocess.Popen(cmd, shell=flag)\n"
        "os.system('ls')\n"
        "go('ls')\n"
        "subprocess.run(cmd, **options)\n"
        "subprocess.run(['/bin/sh', '-c', line])\n"
        "client.call(**params)\n"
    )
    assert [f.split(": ", 1)[1] for f in findings(bad, "bad.py")] == [
        "shell=True",
        "shell=flag",
        "os.system()",
        "subprocess.getoutput()",
        "**options on subprocess.run",
        "/bin/sh -c",
    ]
    fine = "import subprocess\nsubprocess.run(['ls'], shell=False, check=True)\n# shell=True\n"
    assert findings(fine, "fine.py") == []


def test_no_shell_anywhere_in_the_package() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 40  # the whole package, not an empty glob
    found: list[str] = []
    for path in files:
        found += findings(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent)))
    assert found == []
