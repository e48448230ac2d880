"""European options, cash-settled: series, positions, premiums and settlement, exact.

A standalone clearing (not yet wired into :class:`~marginengine.ledger.ledger.Ledger`:
that waits for the engine core's handlers per product family). Every account has a quote
balance (``cash``, the quote asset's smallest units, negative allowed: margin decides
whether it may be) and option positions (signed sizes in ``size_unit`` per option: a
long holds > 0). A trade moves the premium from buyer to seller and the size from seller
to buyer; sizes of every series sum to zero. At expiry, a series settles at one price
(the oracle's, or a settlement TWAP, given by the caller): each long receives
``intrinsic x size`` rounded **down**, each short pays it rounded **up**, and the
difference (never negative) goes to ``settlement_dust``. The security module (Derive's
insurance fund for portfolio auctions) is a balance of the clearing: it receives
liquidation fees and funding, and pays bidders of insolvent auctions; what it cannot pay
is printed to the bidder and counted as ``socialized_loss`` (bad debt, explicit). So::

    cash_in + socialized_loss == sum(cash) + settlement_dust + security_module

holds after every operation (:meth:`OptionClearing.check`), where ``cash_in`` is what
entered minus what left through deposits, withdrawals and funding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from marginengine.errors import FieldError, InvariantViolation
from marginengine.fixedpoint import PRICE_UNIT, Rounding, div


def expired(expiry: int, now: int) -> bool:
    """Whether a series of ``expiry`` has expired at ``now`` (unix seconds): from its
    expiry on it settles at one price and trades no more, and no vol enters its value
    (Derive's OptionAsset.calcSettlementValue once ``block.timestamp >= expiry``).

    The one rule: the clearing refuses trades on an expired series, the engine refuses
    surfaces for an expired expiry, and vol ticks (the service's, the simulator's steps)
    move only the expiries still open at the time they apply.
    """
    return now >= expiry


def _int(name: str, value: object, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(name, f"must be an int (got {value!r})")
    if minimum is not None and value < minimum:
        raise FieldError(name, f"must be >= {minimum} (got {value})")
    return value


@dataclass(frozen=True, order=True)
class OptionSeries:
    """One listed option: underlying, expiry (unix seconds), strike (price units of
    :data:`~marginengine.fixedpoint.PRICE_UNIT` per whole underlying token), call or put.

    Raises
    ------
    FieldError
        A strike not > 0, an expiry < 0, an empty underlying.
    """

    underlying: str
    expiry: int
    strike: int
    is_call: bool

    def __post_init__(self) -> None:
        if not isinstance(self.underlying, str) or not self.underlying:
            raise FieldError("underlying", f"must be a symbol (got {self.underlying!r})")
        _int("expiry", self.expiry, 0)
        _int("strike", self.strike, 1)
        if not isinstance(self.is_call, bool):
            raise FieldError("is_call", f"must be true or false (got {self.is_call!r})")

    @property
    def symbol(self) -> str:
        """``ETH-1767139200-3000-C`` (strike in whole price units when it is one)."""
        whole, frac = divmod(self.strike, PRICE_UNIT)
        k = str(whole) if frac == 0 else f"{self.strike / PRICE_UNIT:g}"
        return f"{self.underlying}-{self.expiry}-{k}-{'C' if self.is_call else 'P'}"

    def intrinsic(self, price: int) -> int:
        """``max(S - K, 0)`` for a call, ``max(K - S, 0)`` for a put, in price units."""
        _int("price", price, 0)
        return max(price - self.strike, 0) if self.is_call else max(self.strike - price, 0)


@dataclass
class OptionClearing:
    """Option positions and quote balances of many accounts.

    Parameters
    ----------
    quote_unit
        Smallest units of the quote asset per whole token (10**6 for USDC).
    size_unit
        Size units per option (10**18: sizes to 18 decimals).
    """

    quote_unit: int
    size_unit: int
    cash: dict[str, int] = field(default_factory=dict)
    positions: dict[str, dict[OptionSeries, int]] = field(default_factory=dict)
    cash_in: int = 0
    settlement_dust: int = 0
    settled: dict[OptionSeries, int] = field(default_factory=dict)
    open_interest: dict[OptionSeries, int] = field(default_factory=dict)
    security_module: int = 0
    socialized_loss: int = 0
    security_module_paid: int = 0

    def __post_init__(self) -> None:
        _int("quote_unit", self.quote_unit, 1)
        _int("size_unit", self.size_unit, 1)

    def copy(self) -> OptionClearing:
        """An independent copy (the engine journals the clearing by copy on first write)."""
        return OptionClearing(self.quote_unit, self.size_unit, dict(self.cash),
                              {a: dict(b) for a, b in self.positions.items()}, self.cash_in,
                              self.settlement_dust, dict(self.settled),
                              dict(self.open_interest), self.security_module,
                              self.socialized_loss, self.security_module_paid)

    def is_empty(self) -> bool:
        """Whether nothing ever entered the clearing."""
        return not (self.cash or self.positions or self.cash_in or self.settled
                    or self.security_module or self.socialized_loss)

    def state_dict(self) -> dict[str, object]:
        """Plain data for the state hash (sorted, ints and strings only). The security
        module's figures enter once non-zero, so earlier logs keep their hashes."""
        data: dict[str, object] = {
            "cash": dict(sorted(self.cash.items())),
            "positions": {a: {s.symbol: n for s, n in sorted(b.items())}
                          for a, b in sorted(self.positions.items()) if b},
            "cash_in": self.cash_in, "settlement_dust": self.settlement_dust,
            "settled": {s.symbol: p for s, p in sorted(self.settled.items())}}
        if self.security_module or self.socialized_loss or self.security_module_paid:
            data["security_module"] = [self.security_module, self.socialized_loss,
                                       self.security_module_paid]
        return data

    # ------------------------------------------------------------------ cash

    def deposit(self, account: str, amount: int) -> None:
        """Quote tokens enter the clearing to ``account``."""
        _int("amount", amount, 1)
        self.cash[account] = self.cash.get(account, 0) + amount
        self.cash_in += amount

    def withdraw(self, account: str, amount: int) -> None:
        """Quote tokens leave from ``account``'s positive balance.

        Raises
        ------
        FieldError
            ``amount`` above the balance (``amount``).
        """
        _int("amount", amount, 1)
        have = self.cash.get(account, 0)
        if amount > have:
            raise FieldError("amount", f"{account} has {have}, cannot withdraw {amount}")
        self.cash[account] = have - amount
        self.cash_in -= amount

    # ------------------------------------------------------------------ security module

    def fund_security_module(self, amount: int) -> None:
        """Quote tokens from outside into the security module."""
        _int("amount", amount, 1)
        self.security_module += amount
        self.cash_in += amount

    def fee_to_security_module(self, account: str, amount: int) -> None:
        """``account`` pays ``amount`` (its cash may go negative: margin decides) to the
        security module."""
        _int("amount", amount, 0)
        self.cash[account] = self.cash.get(account, 0) - amount
        self.security_module += amount

    def pay_from_security_module(self, account: str, amount: int) -> tuple[int, int]:
        """Pay ``amount`` to ``account``: the module pays what it holds (Derive's
        ``requestPayout``: ``min(balance, amount)``), the rest is printed to the account
        and counted as socialized loss. Returns ``(paid, socialized)``."""
        _int("amount", amount, 0)
        paid = min(amount, max(self.security_module, 0))
        printed = amount - paid
        self.security_module -= paid
        self.security_module_paid += paid
        self.socialized_loss += printed
        self.cash[account] = self.cash.get(account, 0) + amount
        return paid, printed

    def transfer_cash(self, source: str, target: str, amount: int) -> None:
        """Move ``amount`` of cash from ``source`` to ``target`` (a negative share of a
        debt moves the debt)."""
        _int("amount", amount)
        self.cash[source] = self.cash.get(source, 0) - amount
        self.cash[target] = self.cash.get(target, 0) + amount

    def transfer_position(self, source: str, target: str, series: OptionSeries,
                          size: int) -> None:
        """Move a signed ``size`` of ``series`` from ``source`` to ``target`` (open
        interest follows: half the change in the two accounts' ``|sizes|``)."""
        _int("size", size)
        before = abs(self.size(source, series)) + abs(self.size(target, series))
        self._add(source, series, -size)
        self._add(target, series, size)
        after = abs(self.size(source, series)) + abs(self.size(target, series))
        oi = self.open_interest.get(series, 0) + (after - before) // 2
        if oi:
            self.open_interest[series] = oi
        else:
            self.open_interest.pop(series, None)

    # ------------------------------------------------------------------ trading

    def size(self, account: str, series: OptionSeries) -> int:
        """The signed size ``account`` holds of ``series``."""
        return self.positions.get(account, {}).get(series, 0)

    def trade(self, buyer: str, seller: str, series: OptionSeries, size: int, premium: int,
              now: int) -> None:
        """``buyer`` buys ``size`` of ``series`` from ``seller`` for ``premium`` (quote
        units, the whole trade's; fix a float premium with
        :func:`marginengine.pricing.premium_for_size`, rounding UP for the payer).

        Raises
        ------
        FieldError
            Same buyer and seller, a size not > 0, a negative premium, a series expired at
            ``now`` or already settled (``series``). Nothing changes then.
        """
        if buyer == seller:
            raise FieldError("seller", "must differ from the buyer")
        _int("size", size, 1)
        _int("premium", premium, 0)
        _int("now", now, 0)
        if series in self.settled or expired(series.expiry, now):
            raise FieldError("series", f"{series.symbol} has expired (expiry {series.expiry}, "
                                       f"now {now})")
        before = abs(self.size(buyer, series)) + abs(self.size(seller, series))
        self._add(buyer, series, size)
        self._add(seller, series, -size)
        after = abs(self.size(buyer, series)) + abs(self.size(seller, series))
        # Open interest = sum of long sizes = half the sum of |sizes|.
        oi = self.open_interest.get(series, 0) + (after - before) // 2
        self.open_interest[series] = oi
        self.cash[buyer] = self.cash.get(buyer, 0) - premium
        self.cash[seller] = self.cash.get(seller, 0) + premium

    def _add(self, account: str, series: OptionSeries, delta: int) -> None:
        book = self.positions.setdefault(account, {})
        new = book.get(series, 0) + delta
        if new:
            book[series] = new
        else:
            book.pop(series, None)

    # ------------------------------------------------------------------ settlement

    def payoff(self, series: OptionSeries, price: int, size: int, rounding: Rounding) -> int:
        """Quote units owed on ``|size|`` options of ``series`` settling at ``price``."""
        num = series.intrinsic(price) * self.quote_unit * abs(size)
        return div(num, PRICE_UNIT * self.size_unit, rounding)

    def expiry_price(self, underlying: str, expiry: int) -> int | None:
        """The price the series of ``underlying``'s ``expiry`` settle at, once one of them
        has settled (``None`` before). One price per expiry, as Derive's settlement feed
        gives (``ISettlementFeed.getSettlementPrice(expiry)``, one TWAP per expiry), so
        the legs of a spread settle at the same price and it pays at most its width."""
        for s, price in self.settled.items():
            if s.underlying == underlying and s.expiry == expiry:
                return price
        return None

    def settle(self, series: OptionSeries, price: int, now: int) -> dict[str, int]:
        """Settle every position of ``series`` at ``price`` (price units); returns each
        account's cash change. Longs receive the payoff rounded down, shorts pay it rounded
        up, the difference is ``settlement_dust``.

        Raises
        ------
        FieldError
            Before expiry (``now``), already settled (``series``), or at a price other
            than the one another series of the same expiry settled at (``price``).
        """
        _int("price", price, 0)
        _int("now", now, 0)
        if series in self.settled:
            raise FieldError("series", f"{series.symbol} is already settled")
        if now < series.expiry:
            raise FieldError("now", f"{series.symbol} expires at {series.expiry}, not yet "
                                    f"(now {now})")
        fixed = self.expiry_price(series.underlying, series.expiry)
        if fixed is not None and fixed != price:
            raise FieldError("price", f"{series.underlying} expiry {series.expiry} settled "
                                      f"at {fixed}; every series of it settles there "
                                      f"(got {price})")
        changes: dict[str, int] = {}
        paid = received = 0
        for account, book in self.positions.items():
            held = book.pop(series, 0)
            if held > 0:
                amount = self.payoff(series, price, held, Rounding.DOWN)
                received += amount
                changes[account] = amount
            elif held < 0:
                amount = self.payoff(series, price, held, Rounding.UP)
                paid += amount
                changes[account] = -amount
        for account, change in changes.items():
            self.cash[account] = self.cash.get(account, 0) + change
        self.settlement_dust += paid - received
        self.settled[series] = price
        self.open_interest.pop(series, None)
        return changes

    # ------------------------------------------------------------------ invariant

    def check(self) -> None:
        """Conservation: ``cash_in + socialized_loss == sum(cash) + settlement_dust +
        security_module``, and every series' sizes sum to zero.

        Raises
        ------
        InvariantViolation
            Naming the identity that fails.
        """
        total = sum(self.cash.values()) + self.settlement_dust + self.security_module
        if total != self.cash_in + self.socialized_loss:
            raise InvariantViolation(f"options: cash_in {self.cash_in} + socialized loss "
                                     f"{self.socialized_loss} != balances + dust + security "
                                     f"module {total}")
        if self.security_module < 0:
            raise InvariantViolation(f"options: negative security module "
                                     f"{self.security_module}")
        net: dict[OptionSeries, int] = {}
        for book in self.positions.values():
            for series, held in book.items():
                net[series] = net.get(series, 0) + held
        bad = [s.symbol for s, n in net.items() if n != 0]
        if bad:
            raise InvariantViolation(f"options: sizes do not net to zero in {', '.join(bad)}")
