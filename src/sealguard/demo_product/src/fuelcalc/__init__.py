"""fuelcalc: fuel needed for flight legs (the sample product of sealguard's demo)."""

from fuelcalc.fuel import leg_fuel_kg, reserve_kg

__all__ = ["leg_fuel_kg", "reserve_kg"]
