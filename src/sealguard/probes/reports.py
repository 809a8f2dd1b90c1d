"""Reading a probe's report file: vitest/jest JSON, JUnit XML, or any JSON. Pure over bytes.

Each reader gives the report's state (ok, missing, empty, unparseable), its tests by name
with their status, the report's own overall flag, and its format signature: the report kind
and the set of its keys (JSON) or of its elements and attributes (XML).
"""

import copy
import json
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from junitparser import Error, Failure, JUnitXml, Skipped
from junitparser.junitparser import JUnitXmlError

from sealguard.facts import ReportState, TestStatus

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
    success: bool | None = None
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
    success = data.get("success") if isinstance(data.get("success"), bool) else None
    return Reading(
        "ok",
        document=data,
        tests=tests,
        success=success,
        suite_failures=tuple(failures),
        format=signature,
    )


def _element(node: ElementTree.Element) -> dict[str, Any]:
    """An XML element as JSON values: tag, attributes, text and children, in document order."""
    return {
        "tag": node.tag,
        "attrs": dict(node.attrib),
        "text": (node.text or "").strip(),
        "children": [_element(child) for child in node],
    }


def _xml_shape(node: ElementTree.Element, prefix: str = "") -> set[str]:
    path = f"{prefix}/{node.tag}"
    shape = {path} | {f"{path}@{name}" for name in node.attrib}
    for child in node:
        shape |= _xml_shape(child, path)
    return shape


def _status(case: Any) -> TestStatus:
    kinds = {type(r) for r in case.result}
    if Failure in kinds:
        return "failed"
    if Error in kinds:
        return "error"
    return "skipped" if Skipped in kinds else "passed"


def _junit(text: bytes) -> Reading:
    try:
        root = ElementTree.fromstring(text)
    except (ElementTree.ParseError, ValueError) as exc:
        return Reading("unparseable", f"not XML ({exc})")
    if root.tag not in ("testsuites", "testsuite"):
        return Reading("unparseable", f"not a JUnit report (root element <{root.tag}>)")
    try:
        xml = JUnitXml.fromroot(copy.deepcopy(root))  # type: ignore[arg-type]  # its stubs name lxml
    except JUnitXmlError as exc:
        return Reading("unparseable", f"not a JUnit report ({exc})")
    suites = list(xml)
    tests = {f"{case.classname}::{case.name}": _status(case) for suite in suites for case in suite}
    signature = {"kind": "junit-xml", "shape": sorted(_xml_shape(root))}
    return Reading("ok", document=_element(root), tests=tests, format=signature)


def read_report(kind: str, data: bytes | None, root: str) -> Reading:
    """Read the report a probe wrote; `data` is None when the file is missing."""
    if kind in ("text", "pytest"):
        return Reading("none")
    if data is None:
        return Reading("missing", "the report file was not written")
    if not data.strip():
        return Reading("empty", "the report file is empty")
    if kind == "junit-xml":
        return _junit(data)
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        return Reading("unparseable", f"not JSON ({exc})")
    if kind == "vitest-json":
        return _vitest(document, root)
    return Reading(
        "ok", document=document, format={"kind": "json", "keys": sorted(key_paths(document))}
    )
