"""Data files shipped with the package: JSON Schemas and default AppSpec templates.

In the wheel they live inside the package (`bluegreen/schemas`, `bluegreen/appspec_templates`,
see `[tool.hatch.build.targets.wheel.force-include]`); in a source checkout they sit at the
top of the repository. Both are read through `importlib.resources` traversables.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any


@cache
def _data_dir(name: str) -> Traversable:
    packaged = resources.files("bluegreen").joinpath(name)
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"bluegreen data folder {name!r} is missing from the installation")


def schemas_dir() -> Traversable:
    return _data_dir("schemas")


def appspec_templates_dir() -> Traversable:
    return _data_dir("appspec_templates")


@cache
def appspec_template(name: str) -> str:
    """The source of `appspec_templates/<name>` (package data: read once per process)."""
    return appspec_templates_dir().joinpath(name).read_text(encoding="utf-8")


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Load `schemas/<name>.schema.json`."""
    text = schemas_dir().joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data
