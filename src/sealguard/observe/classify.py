"""The four classes, decided by one table of rules: first match wins. Pure: no I/O.

Observation rules (INCIDENT) come first; then each probe goes down the probe rules in order.
Direct evidence about the product comes before tooling signatures, and tooling signatures
(which explain a failure without blaming the product) come before the rules that blame the
product for any remaining difference. A failure no rule recognises is PRODUCT_DRIFT. The
observation takes the most severe class of any probe, and records every rule it went through.
"""

from collections.abc import Callable
from dataclasses import dataclass

from sealguard.classes import CLASSES, ClassName
from sealguard.facts import ObservationFacts, ProbeFacts


@dataclass(frozen=True)
class Rule:
    id: str
    klass: ClassName
    meaning: str
    test: Callable[[ProbeFacts], str | None]  # a detail when the rule matches, else None


@dataclass(frozen=True)
class Step:
    rule: str
    klass: ClassName
    matched: bool
    detail: str = ""
    probe: str | None = None


@dataclass(frozen=True)
class Classification:
    klass: ClassName
    path: tuple[Step, ...]

    @property
    def why(self) -> list[Step]:
        return [step for step in self.path if step.matched]


def _survivors(p: ProbeFacts) -> str | None:
    if not p.survivors:
        return None
    shown = "; ".join(f"pid {s.pid}: {s.command[:80]}" for s in p.survivors[:3])
    more = f" (+{len(p.survivors) - 3} more)" if len(p.survivors) > 3 else ""
    return f"{len(p.survivors)} process(es) still running when it ended, killed: {shown}{more}"


def _names(names: list[str]) -> str:
    more = f" (+{len(names) - 3} more)" if len(names) > 3 else ""
    return ", ".join(sorted(names)[:3]) + more


def _failing(p: ProbeFacts) -> str | None:
    failing = [name for name, status in p.tests.items() if status in ("failed", "error")]
    if failing:
        return f"{len(failing)} failing: {_names(failing)}"
    if p.console.failed or p.console.errors:
        # a report without per-test statuses (text, any JSON): the console's names, if it gave any
        named = f": {_names(list(p.console.failing))}" if p.console.failing else ""
        return f"the console reports {p.console.failed} failed and {p.console.errors} errors{named}"
    return None


def _status_changes(p: ProbeFacts) -> str | None:
    if p.baseline is None or not p.tests or not p.baseline.tests:
        return None
    before, now = p.baseline.tests, p.tests
    changed = sorted(n for n in before.keys() & now.keys() if before[n] != now[n])
    added, removed = sorted(now.keys() - before.keys()), sorted(before.keys() - now.keys())
    if not (changed or added or removed):
        return None
    parts = [f"{n}: {before[n]} -> {now[n]}" for n in changed[:3]]
    parts += [f"new test {n}" for n in added[:2]] + [f"test gone {n}" for n in removed[:2]]
    return f"{len(changed)} changed, {len(added)} new, {len(removed)} gone: " + "; ".join(parts)


def _crash(p: ProbeFacts) -> str | None:
    if p.signal is not None:
        return f"ended by signal {p.signal}"
    for signature, text in (
        ("unhandled-error", "an unhandled error in the product (the runner reports it)"),
        ("traceback-in-product", "a traceback through the product's own code"),
    ):
        if signature in p.signatures:
            return text
    return None


def _report_broken_console_green(p: ProbeFacts) -> str | None:
    # a report too large to read is not a tooling failure: the product wrote it
    if p.report_state in ("ok", "none", "too_large") or not p.console.all_passed:
        return None
    expected = p.baseline.test_count if p.baseline else p.console.total
    if p.console.total != expected:
        return None
    return f"the report is {p.report_state} ({p.report_problem}) but the console shows all {p.console.passed} tests passing"


def _signature(*names: str) -> Callable[[ProbeFacts], str | None]:
    def test(p: ProbeFacts) -> str | None:
        found = [s for s in p.signatures if s in names or s.split(":")[0] in names]
        return f"console signature {', '.join(found)}" if found else None

    return test


def _npm(p: ProbeFacts) -> str | None:
    if p.runner == "npm" and p.exit_code in (243, 228):
        return f"npm exited {p.exit_code}"
    return _signature("npm")(p)


def _runner_missing(p: ProbeFacts) -> str | None:
    if p.not_started:
        return f"the command could not start: {p.not_started}"
    says = f" (the console says `{p.cause}`)" if p.cause else ""
    if p.exit_code in (126, 127):
        return f"exit {p.exit_code}: the runner is not installed or not executable{says}"
    found = _signature("npx-missing-packages", "no-module-pytest", "command-not-found")(p)
    return found and found + says


def _pytest_usage(p: ProbeFacts) -> str | None:
    if p.runner == "pytest" and p.exit_code in (3, 4):
        return (
            f"pytest exit {p.exit_code} ({'internal error' if p.exit_code == 3 else 'usage error'})"
        )
    return None


def _runner_traceback(p: ProbeFacts) -> str | None:
    if "traceback-in-runner" in p.signatures and "traceback-in-product" not in p.signatures:
        return "a traceback entirely inside the runner's own packages"
    return None


def _all_suites_same_message(p: ProbeFacts) -> str | None:
    if (
        p.test_count == 0
        and len(p.suite_failures) >= 1
        and len(set(p.suite_failures)) == 1
        and not p.tests
    ):
        return f"every suite failed before any test ran, all with: {p.suite_failures[0][:120]}"
    return None


def _tool_upgrade(p: ProbeFacts) -> str | None:
    b = p.baseline
    if b is None or b.tool_version is None or p.tool_version in (None, b.tool_version):
        return None
    if not p.tests or p.tests != b.tests or p.verdict != "PASS":
        return None
    return f"tool version {b.tool_version} -> {p.tool_version}, every test status unchanged"


def _zero_tests(p: ProbeFacts) -> str | None:
    if p.baseline and p.baseline.test_count > 0 and p.test_count == 0:
        return f"no test ran; the baseline had {p.baseline.test_count}"
    return None


def _verdict(p: ProbeFacts) -> str | None:
    if p.baseline and p.verdict != p.baseline.verdict:
        return f"verdict {p.baseline.verdict} -> {p.verdict} (exit {p.exit_code}, expected {p.expect_exit})"
    return None


def _output(p: ProbeFacts) -> str | None:
    if p.baseline and p.output_sha256 != p.baseline.output_sha256:
        return (
            f"output sha256 {p.baseline.output_sha256[:12]}… -> {(p.output_sha256 or 'none')[:12]}…"
        )
    return None


def _format(p: ProbeFacts) -> str | None:
    if p.baseline and p.format != p.baseline.format:
        return f"format signature changed with tool version {p.tool_version or 'unknown'}"
    return None


def _unrecognised(p: ProbeFacts) -> str | None:
    if p.verdict == "FAIL":
        return f"a failure no rule recognises (exit {p.exit_code}, expected {p.expect_exit})"
    if p.report_state not in ("ok", "none"):
        return f"the report is {p.report_state} ({p.report_problem}) and nothing explains it"
    return None


PROBE_RULES: tuple[Rule, ...] = (
    Rule("PD-01", "PRODUCT_DRIFT", "the probe hung past its timeout", lambda p: "timed out" if p.timed_out else None),
    Rule("PD-10", "PRODUCT_DRIFT", "the probe left processes running after it ended (sealguard killed them)", _survivors),
    Rule("PD-02", "PRODUCT_DRIFT", "a test fails", _failing),
    Rule("PD-03", "PRODUCT_DRIFT", "a test's status changed, or tests appeared or vanished", _status_changes),
    Rule("PD-04", "PRODUCT_DRIFT", "a crash or unhandled error in product code", _crash),
    Rule("TD-01", "TOOLING_DRIFT", "the report is missing, empty or unparseable; the console shows every test passing", _report_broken_console_green),
    Rule("TD-02", "TOOLING_DRIFT", "an npm error (EINTEGRITY, ENOTCACHED, EACCES, ENOSPC, ERESOLVE; exit 243 or 228)", _npm),
    Rule("TD-03", "TOOLING_DRIFT", "the runner is not installed (exit 127/126, npx canceled, No module named pytest)", _runner_missing),
    Rule("TD-04", "TOOLING_DRIFT", "pytest exit 3 (internal error) or 4 (usage error)", _pytest_usage),
    Rule("TD-05", "TOOLING_DRIFT", "vitest Startup Error", _signature("vitest-startup-error")),
    Rule("TD-06", "TOOLING_DRIFT", "a traceback entirely inside the runner's own packages", _runner_traceback),
    Rule("TD-07", "TOOLING_DRIFT", "permission denied on a tool's file", _signature("permission-denied-tool")),
    Rule("TD-08", "TOOLING_DRIFT", "every suite failed with zero tests and one identical message", _all_suites_same_message),
    Rule("TD-09", "TOOLING_DRIFT", "the tool's version changed while every test status is unchanged", _tool_upgrade),
    Rule("PD-05", "PRODUCT_DRIFT", "zero tests where the baseline had some", _zero_tests),
    Rule("PD-06", "PRODUCT_DRIFT", "the verdict changed", _verdict),
    Rule("PD-07", "PRODUCT_DRIFT", "the normalised output's hash changed", _output),
    Rule("PD-08", "PRODUCT_DRIFT", "the output format changed with the same tool version", _format),
    Rule("PD-09", "PRODUCT_DRIFT", "any failure that no rule recognises", _unrecognised),
    Rule("ST-01", "STABLE", "nothing differs from the baseline", lambda p: "as sealed"),
)  # fmt: skip

OBSERVATION_RULES = (
    ("INC-01", "an invariant (INV-D-01..04, 07) was violated before the probes ran"),
    ("INC-02", "the sealed build or the runtime area changed while the probes ran"),
)


def classify_probe(probe: ProbeFacts) -> tuple[ClassName, list[Step]]:
    steps: list[Step] = []
    for rule in PROBE_RULES:
        detail = rule.test(probe)
        steps.append(Step(rule.id, rule.klass, detail is not None, detail or "", probe.name))
        if detail is not None:
            return rule.klass, steps
    raise AssertionError("ST-01 always matches")


def _violations(facts: ObservationFacts, after: bool) -> str | None:
    found = facts.after if after else facts.before
    if not found:
        return None
    names = sorted({v.invariant for v in found})
    first = found[0]
    return f"{', '.join(names)}: {first.change} {first.path} ({first.detail})" + (
        f" and {len(found) - 1} more" if len(found) > 1 else ""
    )


def classify(facts: ObservationFacts) -> Classification:
    """The observation's class and the path of rules that produced it."""
    path: list[Step] = []
    for (rule_id, _), after in zip(OBSERVATION_RULES, (False, True), strict=True):
        detail = _violations(facts, after)
        path.append(Step(rule_id, "INCIDENT", detail is not None, detail or ""))
    klass: ClassName = "INCIDENT" if any(step.matched for step in path) else "STABLE"
    for probe in facts.probes:
        probe_class, steps = classify_probe(probe)
        path += steps
        if CLASSES[probe_class].rank > CLASSES[klass].rank:
            klass = probe_class
    return Classification(klass, tuple(path))


def rule_table() -> list[tuple[str, str, str]]:
    """(id, class, meaning) of every rule, in the order they are tried."""
    return [(r, "INCIDENT", m) for r, m in OBSERVATION_RULES] + [
        (r.id, r.klass, r.meaning) for r in PROBE_RULES
    ]
