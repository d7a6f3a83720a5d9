"""The excerpt of a rendered line in an error keeps its shape and hides its values."""

from __future__ import annotations

import pytest

from bluegreen.render.documents import _masked_row


@pytest.mark.parametrize(
    ("row", "shown"),
    [
        ('{"name": "DB_TOKEN", "value": s3cret-value},', '{"name": …, "value": …},'),
        ('"value": "s3cret" 1', '"value": … …'),
        ("- {name: DB_TOKEN, value: s3cret: x}", "- {name: …, value: … …}"),
        ('"portMappings": [{"containerPort": 8080}],', '"portMappings": [{"containerPort": …}],'),
        ('"command": ["sh", "-c", "echo $TOKEN"]', '"command": […, …, …]'),
        ("image: https://user:pw@registry/x", "image: …"),
    ],
)
def test_values_are_masked_keys_and_punctuation_kept(row: str, shown: str) -> None:
    assert _masked_row(row) == shown
