"""sealguard: runtime governance of sealed software builds."""

__version__ = "0.1.0"
