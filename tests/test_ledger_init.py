"""The ledger package loads its parts on first use, and names exactly what it exports."""

import pytest

from sealguard import ledger


def test_every_exported_name_loads() -> None:
    for name in ledger.__all__:
        assert getattr(ledger, name) is not None
    assert sorted(ledger.__all__) == sorted(ledger._HOMES)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        ledger.nothing  # noqa: B018
