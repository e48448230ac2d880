"""The table of current prices: integers in the base currency with 8 decimals."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TypeVar, overload

from marginengine.fixedpoint import PRICE_DECIMALS

_T = TypeVar("_T")


class PriceTable(Mapping[str, int]):
    """Current price of each asset, an int in base-currency units (USD with 8 decimals).

    A missing price is an error at the point of use, naming the asset: an account can never
    be valued at a price nobody set.
    """

    decimals = PRICE_DECIMALS

    def __init__(self, prices: Mapping[str, int] | None = None) -> None:
        self._prices: dict[str, int] = {}
        #: Moves with every change of any price (for reads cached at one set of prices).
        self.version = 0
        for asset, price in (prices or {}).items():
            self.set(asset, price)

    def set(self, asset: str, price: int) -> None:
        """Set one asset's price; it must be a positive int."""
        if isinstance(price, bool) or not isinstance(price, int):
            raise TypeError(f"price of {asset} must be an int, not {type(price).__name__}")
        if price <= 0:
            raise ValueError(f"price of {asset} must be positive (got {price})")
        self._prices[asset] = price
        self.version += 1

    def restore(self, asset: str, price: int | None) -> None:
        """Put back a price saved before a change (``None``: the asset had no price)."""
        if price is None:
            self._prices.pop(asset, None)
            self.version += 1
        else:
            self.set(asset, price)

    def __getitem__(self, asset: str) -> int:
        try:
            return self._prices[asset]
        except KeyError:
            raise KeyError(f"no price set for {asset}") from None

    @overload
    def get(self, asset: str, /) -> int | None: ...

    @overload
    def get(self, asset: str, /, default: int | _T) -> int | _T: ...

    def get(self, asset: str, /, default: object = None) -> object:
        """The asset's price, or ``default`` without one (``Mapping.get``, read from the
        table directly: the mixin's goes through ``__getitem__`` and its ``KeyError``)."""
        return self._prices.get(asset, default)

    def __contains__(self, asset: object) -> bool:
        return asset in self._prices

    def __iter__(self) -> Iterator[str]:
        return iter(self._prices)

    def __len__(self) -> int:
        return len(self._prices)

    def as_dict(self) -> dict[str, int]:
        """A sorted copy, for hashing and snapshots."""
        return dict(sorted(self._prices.items()))
