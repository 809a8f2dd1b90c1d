import pytest
from fuelcalc import leg_fuel_kg


def test_short_leg() -> None:
    assert leg_fuel_kg(100, 2.5) == 1463


def test_no_distance_is_reserve_only() -> None:
    assert leg_fuel_kg(0, 3.0) == 1200


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        leg_fuel_kg(-1, 2.0)
