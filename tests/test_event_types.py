"""The event types sealguard journals, and `log show --type` held to them."""

import ast
import re
from pathlib import Path

from sealguard.event_types import EVENT_TYPES
from sealguard.ledger import Ledger, append

from .conftest import MakeTree

SRC = Path(__file__).parent.parent / "src" / "sealguard"
TYPE_SHAPE = re.compile(r"[a-z]+(_[a-z]+)+")


def _string_constants(tree: ast.AST) -> dict[str, str]:
    """NAME = "text" assignments of a module (the constants event types are kept in)."""
    return {
        node.targets[0].id: node.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }


def _written_types() -> set[str]:
    """Every event type the source hands to `append` or puts first in an `append_many` pair."""
    modules = {path: ast.parse(path.read_text()) for path in SRC.rglob("*.py")}
    names: dict[str, str] = {}
    for tree in modules.values():
        names.update(_string_constants(tree))
    found: set[str] = set()

    def value(node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return names.get(node.id)
        if isinstance(node, ast.Attribute):
            return names.get(node.attr)
        return None

    for tree in modules.values():
        for node in ast.walk(tree):
            # append(ledger, type, fields)
            is_append = isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "append"
            if is_append and len(node.args) == 3 and (kind := value(node.args[1])) is not None:
                found.add(kind)
            # an (event type, fields) pair, as append_many takes them
            if isinstance(node, ast.Tuple) and len(node.elts) == 2:
                kind, fields = value(node.elts[0]), node.elts[1]
                if (
                    kind
                    and TYPE_SHAPE.fullmatch(kind)
                    and not isinstance(fields, (ast.Constant, ast.JoinedStr))
                ):
                    found.add(kind)
    return found


def test_every_type_the_source_writes_is_known() -> None:
    written = _written_types()
    assert {"baseline_sealed", "runtime_event", "escalation_attempt", "decision"} <= written
    assert written - set(EVENT_TYPES) == set()


def test_each_type_says_what_it_records() -> None:
    assert all(meaning and not meaning.endswith(".") for meaning in EVENT_TYPES.values())


def test_log_show_refuses_an_unknown_type_naming_the_known_ones(
    make_project: MakeTree, invoke
) -> None:
    project = make_project()
    assert invoke("--project", str(project.root), "seal").exit_code == 0
    result = invoke("--project", str(project.root), "log", "show", "--type", "nosuch")
    assert result.exit_code == 64, (result.exit_code, result.output)
    assert result.stdout == ""
    assert result.stderr.startswith("sealguard: --type 'nosuch': no such event type; ")
    assert result.stderr.count("\n") == 1
    assert all(kind in result.stderr for kind in EVENT_TYPES)


def test_log_show_takes_a_known_type_with_no_event_yet(make_project: MakeTree, invoke) -> None:
    project = make_project()
    assert invoke("--project", str(project.root), "seal").exit_code == 0
    result = invoke("--project", str(project.root), "log", "show", "--type", "decision")
    assert result.exit_code == 0 and result.output == ""


def test_log_show_takes_a_type_the_log_holds(make_project: MakeTree, invoke) -> None:
    """A log written by another version of sealguard may hold types this one does not write."""
    project = make_project()
    assert invoke("--project", str(project.root), "seal").exit_code == 0
    append(Ledger.in_folder(project.runtime), "from_a_later_version", {"text": "hello"})
    result = invoke("--project", str(project.root), "log", "show", "--type", "from_a_later_version")
    assert result.exit_code == 0 and "from_a_later_version text=hello" in result.output


def test_the_readme_lists_every_type() -> None:
    text = (SRC.parent.parent / "README.md").read_text()
    assert all(f"`{kind}`" in text for kind in EVENT_TYPES)
