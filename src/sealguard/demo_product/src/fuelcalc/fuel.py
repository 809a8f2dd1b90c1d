"""Fuel for one leg: trip fuel from distance and burn rate, plus a fixed reserve."""

RESERVE_KG = 1_200
CONTINGENCY = 0.05


def leg_fuel_kg(distance_km: float, burn_kg_per_km: float) -> int:
    """Trip fuel plus 5 % contingency plus the final reserve, rounded up to the kilogram."""
    if distance_km < 0 or burn_kg_per_km <= 0:
        raise ValueError("distance must be >= 0 and burn rate > 0")
    trip = distance_km * burn_kg_per_km
    total = trip * (1 + CONTINGENCY) + RESERVE_KG
    return int(-(-total // 1))
