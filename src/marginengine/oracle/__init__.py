"""Prices the engine uses. Every price reaches the engine through this layer."""

from marginengine.oracle.price_table import PriceTable

__all__ = ["PriceTable"]
