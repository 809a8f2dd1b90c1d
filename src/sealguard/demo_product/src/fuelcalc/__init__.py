"""fuelcalc: fuel needed for one flight leg (sample product for sealguard's demo)."""

from fuelcalc.fuel import leg_fuel_kg

__all__ = ["leg_fuel_kg"]
