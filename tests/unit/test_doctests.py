"""The examples in the docstrings of the bootstrap's pure modules run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["adoption", "calls", "desired", "errors", "findings", "names", "ownership",
           "planner", "resources", "teardown"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"infra_bootstrap.{name}")

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)

    assert result.attempted > 0, f"{name} has no example"
    assert result.failed == 0
