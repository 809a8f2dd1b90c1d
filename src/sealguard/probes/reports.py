"""Reading a probe's report file: vitest/jest JSON, JUnit XML, or any JSON. Pure over bytes.

Each reader gives the report's state (ok, missing, empty, unparseable), its tests by name
with their status, the report's own overall flag, and its format signature: the report kind
and the set of its keys (JSON) or of its elements and attributes (XML).
"""

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from sealguard.facts import ReportState, TestStatus

MAX_DEPTH = 100  # levels of nesting read; real reports have about ten
# Parsed, a report takes memory by its values and elements more than by its bytes (`[{},{}]`
# or `<a/><a/>` take tens of times their size), so their number is bounded before parsing.
MAX_NODES = {"junit-xml": 150_000, "json": 400_000}  # tags; containers and commas

_VITEST_STATUS: dict[str, TestStatus] = {
    "passed": "passed", "failed": "failed", "skipped": "skipped", "pending": "skipped",
    "todo": "todo", "disabled": "skipped",
}  # fmt: skip


@dataclass(frozen=True)
class Reading:
    state: ReportState
    problem: str = ""
    document: Any = None  # the parsed report, as JSON values, for normalisation
    tests: dict[str, TestStatus] = field(default_factory=dict)
    suite_failures: tuple[str, ...] = ()
    format: dict[str, Any] = field(default_factory=dict)


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path of a JSON value: `a.b`, lists as `[]` (`testResults[].status`)."""
    paths: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            paths.add(path)
            paths |= key_paths(item, path)
    elif isinstance(value, list):
        for item in value:
            paths |= key_paths(item, f"{prefix}[]")
    return paths


def _depth(value: Any) -> int:
    """How deeply a JSON value nests, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest


def _too_deep(value: Any) -> Reading | None:
    """Readers and normalisers recurse: a report nested deeper than MAX_DEPTH is not read."""
    if _depth(value) > MAX_DEPTH:
        return Reading("unparseable", f"nested more than {MAX_DEPTH} levels deep")
    return None


def _relative(path: str, root: str) -> str:
    return path[len(root) + 1 :] if path.startswith(root + "/") else path


def _vitest(data: Any, root: str) -> Reading:
    if not isinstance(data, dict) or not isinstance(data.get("testResults"), list):
        return Reading("unparseable", "not a vitest/jest JSON report (no testResults list)")
    tests: dict[str, TestStatus] = {}
    failures: list[str] = []
    for suite in data["testResults"]:
        if not isinstance(suite, dict):
            return Reading("unparseable", "a testResults entry is not an object")
        file = _relative(str(suite.get("name", "")), root)
        results = suite.get("assertionResults") or []
        for result in results:
            name = result.get("fullName") or " ".join(
                [*result.get("ancestorTitles", []), result.get("title", "")]
            )
            tests[f"{file} > {name}"] = _VITEST_STATUS.get(str(result.get("status")), "error")
        if suite.get("status") == "failed" and not results:
            failures.append(str(suite.get("message", "")).replace(root, "<ROOT>").strip())
    signature = {"kind": "vitest-json", "keys": sorted(key_paths(data))}
    return Reading(
        "ok",
        document=data,
        tests=tests,
        suite_failures=tuple(failures),
        format=signature,
    )


def _xml_tree(text: bytes) -> dict[str, Any]:
    """The XML as JSON values (tag, attributes, text, children in document order), built while
    it is parsed: each element is dropped from the parser's tree once converted, so the
    document is held once, not twice. Raises DeepError past MAX_DEPTH."""
    stack: list[tuple[dict[str, Any], ElementTree.Element]] = []
    root: dict[str, Any] = {}
    for event, element in ElementTree.iterparse(io.BytesIO(text), events=("start", "end")):
        if event == "start":
            node = {"tag": element.tag, "attrs": dict(element.attrib), "children": []}
            if stack:
                stack[-1][0]["children"].append(node)
            elif not root:
                root = node
            stack.append((node, element))
            if len(stack) > MAX_DEPTH:
                raise _DeepError
            continue
        node, _ = stack.pop()
        node["text"] = (element.text or "").strip()
        if stack:
            del stack[-1][1][-1]  # the parser's copy of it (always its parent's last child)
    return root


class _DeepError(Exception):
    pass


def _xml_shape(node: dict[str, Any], prefix: str = "") -> set[str]:
    path = f"{prefix}/{node['tag']}"
    shape = {path} | {f"{path}@{name}" for name in node["attrs"]}
    for child in node["children"]:
        shape |= _xml_shape(child, path)
    return shape


def _status(case: dict[str, Any]) -> TestStatus:
    kinds = {child["tag"] for child in case["children"]}
    if "failure" in kinds:
        return "failed"
    if "error" in kinds:
        return "error"
    return "skipped" if "skipped" in kinds else "passed"


def _cases(node: dict[str, Any], path: tuple[str, ...]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, case) of every test case under `node`, named with the suites nested inside the
    top-level ones (`carry > nine`): a top-level suite (pytest's `pytest`) names no test."""
    for child in node["children"]:
        if child["tag"] == "testcase":
            name = " > ".join([*path, str(child["attrs"].get("name"))])
            yield f"{child['attrs'].get('classname')}::{name}", child
        elif child["tag"] == "testsuite":
            inner = (*path, str(child["attrs"].get("name"))) if node["tag"] == "testsuite" else path
            yield from _cases(child, inner)


_RANK: dict[TestStatus, int] = {"todo": 0, "skipped": 1, "passed": 2, "failed": 3, "error": 4}


def _junit_tests(root: dict[str, Any]) -> dict[str, TestStatus]:
    """Every test case: in the top-level suites, in suites nested in them, and directly under
    <testsuites> (node's junit reporter puts its top-level tests there). Cases of one name
    (node 20 names every case's class `test`, whatever its file) count once, with the worst
    status, so a failure is never hidden and the order they are written in decides nothing."""
    tests: dict[str, TestStatus] = {}
    top = {"tag": "testsuites", "children": [root]} if root["tag"] == "testsuite" else root
    for name, case in _cases(top, ()):
        status = _status(case)
        if name not in tests or _RANK[status] > _RANK[tests[name]]:
            tests[name] = status
    return tests


def _junit(text: bytes) -> Reading:
    try:
        root = _xml_tree(text)
    except (ElementTree.ParseError, ValueError) as exc:
        return Reading("unparseable", f"not XML ({exc})")
    except _DeepError:
        return Reading("unparseable", f"nested more than {MAX_DEPTH} levels deep")
    if root["tag"] not in ("testsuites", "testsuite"):
        return Reading("unparseable", f"not a JUnit report (root element <{root['tag']}>)")
    signature = {"kind": "junit-xml", "shape": sorted(_xml_shape(root))}
    return Reading("ok", document=root, tests=_junit_tests(root), format=signature)


def too_large(size: int, limit: int) -> Reading:
    """A report not read because of its size (memory stays bounded); kept as evidence."""
    return Reading(
        "too_large",
        f"the report is {size >> 20} MiB, more than the {limit >> 20} MiB sealguard reads; "
        "it is kept in the snapshot",
    )


def _nodes(kind: str, data: bytes) -> int:
    """At least the number of elements (XML) or values (JSON) parsing `data` would make."""
    if kind == "junit-xml":
        return data.count(b"<")
    return data.count(b",") + data.count(b"[") + data.count(b"{")


def read_report(kind: str, data: bytes | None, root: str) -> Reading:
    """Read the report a probe wrote; `data` is None when the file is missing."""
    if kind in ("text", "pytest"):
        return Reading("none")
    if data is None:
        return Reading("missing", "the report file was not written")
    if not data.strip():
        return Reading("empty", "the report file is empty")
    limit = MAX_NODES["junit-xml" if kind == "junit-xml" else "json"]
    if (nodes := _nodes(kind, data)) > limit:
        return Reading(
            "too_large",
            f"the report holds up to {nodes:,} {'tags' if kind == 'junit-xml' else 'values'}, "
            f"more than the {limit:,} sealguard reads; it is kept in the snapshot",
        )
    if kind == "junit-xml":
        return _junit(data)
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        return Reading("unparseable", f"not JSON ({exc})")
    except RecursionError:
        return Reading("unparseable", f"nested more than {MAX_DEPTH} levels deep")
    if deep := _too_deep(document):
        return deep
    if kind == "vitest-json":
        return _vitest(document, root)
    return Reading(
        "ok", document=document, format={"kind": "json", "keys": sorted(key_paths(document))}
    )
