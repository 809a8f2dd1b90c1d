"""`python -m fuelcalc LEGS.json [RESERVE.json]`: the fuel table for a list of legs."""

import json
import sys
from pathlib import Path

from fuelcalc.fuel import leg_fuel_kg, reserve_kg


def main(argv: list[str]) -> int:
    legs = json.loads(Path(argv[0]).read_text())
    reserve = reserve_kg(Path(argv[1]) if len(argv) > 1 else None)
    print(f"{'leg':<12}{'km':>8}{'kg/km':>8}{'fuel kg':>10}")
    for leg in legs:
        fuel = leg_fuel_kg(leg["km"], leg["burn"], reserve)
        print(f"{leg['name']:<12}{leg['km']:>8}{leg['burn']:>8}{fuel:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
