"""schemathesis against the running server, from the OpenAPI document it serves: every
operation with generated inputs that fit the document (and, where it has parameters, inputs
that do not); no 5xx, and every answer (status, content type, headers, body) as documented."""

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from .dashboards import threaded
from .decision_projects import Team, drift, governed, run

DOCUMENT = json.loads((resources.files("sealguard.serve") / "openapi.json").read_text())
OPERATIONS = [
    pytest.param(path, mode, id=f"{mode.value} {path}")
    for path, item in DOCUMENT["paths"].items()
    for mode in GenerationMode
    if mode is GenerationMode.POSITIVE or item["get"].get("parameters")
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, team: Team) -> Iterator[str]:
    """A frozen project (STABLE, then PRODUCT_DRIFT), served on loopback for the module."""
    project = governed(tmp_path_factory.mktemp("schema"), team)
    assert run(project, "observe").exit_code == 0
    drift(project)
    with threaded(project) as url:
        yield url


def test_every_operation_is_checked() -> None:
    assert {p.values[0] for p in OPERATIONS} == set(DOCUMENT["paths"])


@pytest.mark.parametrize(("path", "mode"), OPERATIONS)
def test_operation_conforms(served: str, path: str, mode: GenerationMode, tmp_path: Path) -> None:
    operation = schemathesis.openapi.from_url(served + "openapi.json")[path]["GET"]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate()

    check()
