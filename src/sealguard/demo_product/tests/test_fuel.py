import unittest

from fuelcalc import leg_fuel_kg


class FuelTest(unittest.TestCase):
    def test_short_leg(self) -> None:
        self.assertEqual(leg_fuel_kg(100, 2.5), 1463)

    def test_no_distance_is_reserve_only(self) -> None:
        self.assertEqual(leg_fuel_kg(0, 3.0), 1200)

    def test_bad_input_is_refused(self) -> None:
        with self.assertRaises(ValueError):
            leg_fuel_kg(-1, 2.0)
