"""A feed that reads a trading venue's price (spot or TWAP) through a callable.

The venue layer sits above the oracle layer, so the oracle cannot import it: the simulator
hands in a function that returns the venue's current price. A spot price can be moved
within one block by whoever trades against the pool; a TWAP costs an attacker the whole
window. Which one a callable returns is the caller's choice, and the ``kind`` label makes
it visible in every reason string.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from marginengine.oracle.inputs import require_price, require_time
from marginengine.oracle.status import PriceReading

VenueKind = Literal["spot", "twap"]


class VenueFeed:
    """Reads ``read()`` on every request; the answer is as fresh as the time asked.

    Parameters
    ----------
    read
        Returns the venue's price now, a positive int (USD with 8 decimals).
    kind
        ``"spot"`` or ``"twap"``, what ``read`` returns.
    name
        The venue, for error messages.

    Examples
    --------
    >>> pool_price = [2_000 * 10**8]
    >>> feed = VenueFeed(lambda: pool_price[0], kind="spot", name="amm")
    >>> feed.latest(12).price == 2_000 * 10**8
    True
    """

    def __init__(self, read: Callable[[], int], kind: VenueKind = "spot", name: str = "venue"):
        self._read = read
        self.kind: VenueKind = kind
        self.name = name

    def latest(self, time: int) -> PriceReading:
        """Read the venue now and stamp the answer with ``time``.

        Raises
        ------
        OracleError
            If ``time`` is not a non-negative int, or the venue returns something that is
            not a positive int price (the error names the venue).
        """
        time = require_time(time, "time")
        price = require_price(self._read(), f"{self.name} {self.kind} price")
        return PriceReading(price, time)
