"""The state of observation is folded from the log alone."""

from sealguard.state import fold


def _runtime(klass: str, ts: str, snapshot: bool = False) -> dict:
    return {
        "type": "runtime_event", "ts": ts, "event_id": f"RTE_{ts}", "classification": klass,
        "observed_at": ts, "snapshot": {"snapshot_id": "SNP"} if snapshot else None,
        "why": [{"rule": "PD-07", "probe": "unit", "detail": "output changed", "matched": True}],
    }  # fmt: skip


def test_unsealed_then_observing() -> None:
    assert fold([]).mode == "UNSEALED"
    state = fold(
        [
            {
                "type": "baseline_sealed",
                "seq": 0,
                "ts": "2026-11-26T10:00:00Z",
                "baseline_sha256": "ab",
            }
        ]
    )
    assert (state.mode, state.baseline_sha256, state.because) == ("OBSERVING", "ab", "seq 0")


def test_drift_freezes_and_incident_halts() -> None:
    sealed = {
        "type": "baseline_sealed",
        "seq": 0,
        "ts": "2026-11-26T10:00:00Z",
        "baseline_sha256": "ab",
    }
    stable = _runtime("STABLE", "2026-11-26T11:00:00Z", snapshot=True)
    tooling = _runtime("TOOLING_DRIFT", "2026-11-26T12:00:00Z")
    drift = _runtime("PRODUCT_DRIFT", "2026-11-26T13:00:00Z")
    state = fold([sealed, stable, tooling])
    assert state.mode == "OBSERVING" and state.last_stable_snapshot_day == "2026-11-26"
    state = fold([sealed, stable, tooling, drift])
    assert (state.mode, state.because) == ("FROZEN", "RTE_2026-11-26T13:00:00Z")
    assert state.reason.startswith("PRODUCT_DRIFT: PD-07 unit output changed")
    assert "an Architect must decide" in state.next_step
    incident = _runtime("INCIDENT", "2026-11-26T14:00:00Z")
    halted = fold([sealed, drift, incident, _runtime("PRODUCT_DRIFT", "2026-11-26T15:00:00Z")])
    assert halted.mode == "HALTED" and halted.since == "2026-11-26T14:00:00Z"
    assert len(halted.recent) == 3
