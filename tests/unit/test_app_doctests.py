"""The docstring examples of each service's app, run as doctests.

pytest collects the packages' examples itself (``--doctest-modules``), but not the
apps': both are ``app.py`` in folders that are no packages, which pytest's default
import mode cannot hold as two modules. service_apps imports each under a name of its
own, and doctest runs its examples from there.
"""

from __future__ import annotations

import doctest

import pytest

from infra_bootstrap.service_apps import load_module
from infra_bootstrap.topology import load_stage

SERVICES = [service.name for service in load_stage("local").services]


@pytest.mark.parametrize("service", SERVICES)
def test_every_example_of_the_app_runs(service: str) -> None:
    results = doctest.testmod(load_module(service), optionflags=doctest.ELLIPSIS)

    assert results.attempted > 0, f"{service} has no docstring example"
    assert results.failed == 0
