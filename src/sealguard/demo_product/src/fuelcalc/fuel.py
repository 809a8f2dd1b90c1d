"""Fuel for one leg: trip fuel from distance and burn rate, plus contingency and a reserve."""

import json
from pathlib import Path

RESERVE_KG = 1_200
CONTINGENCY = 0.05


def reserve_kg(data: Path | None = None) -> int:
    """The final reserve: operational data (data/reserve.json) may set it, else the default."""
    if data is not None and data.exists():
        return int(json.loads(data.read_text())["reserve_kg"])
    return RESERVE_KG


def leg_fuel_kg(distance_km: float, burn_kg_per_km: float, reserve: int = RESERVE_KG) -> int:
    """Trip fuel plus 5 % contingency plus the final reserve, rounded up to the kilogram."""
    if distance_km < 0 or burn_kg_per_km <= 0:
        raise ValueError("distance must be >= 0 and burn rate > 0")
    trip = distance_km * burn_kg_per_km
    total = trip * (1 + CONTINGENCY) + reserve
    return int(-(-total // 1))
