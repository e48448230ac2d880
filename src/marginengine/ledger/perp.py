"""Perpetual positions and the perp clearing: exact, zero-sum, with an accounting identity.

An account's perp side is a quote balance (``perp_quote``, in the quote asset's smallest
units) and positions (signed size in base smallest units). A trade moves ``size x price``
of quote from buyer to seller, so the quote balances of all accounts, the insurance funds
and the fee pool always sum to what entered the clearing (``cash``) minus what it could
not recover (``deficit``)::

    cash + deficit == sum(perp_quote) + insurance_shared + sum(market.insurance) + fee_pool

and every market's sizes sum to zero. Equity of a bucket at mark prices is
``perp_quote + sum(size x mark)`` less unsettled funding.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from marginengine.fixedpoint import PRICE_UNIT, Rounding, div

#: Funding indices are quote smallest units per whole base token, times this scale.
FUNDING_SCALE = 10**18


@dataclass
class PerpPosition:
    """One position: signed size, the cash flow of its open size, its funding snapshot.

    Attributes
    ----------
    size
        Base smallest units; positive is long.
    cost
        Quote cash flow attributable to the open size (negative for a long: what was paid).
        ``size x mark + cost`` is the unrealized PnL. Display and initial margin only; the
        account's ``perp_quote`` holds the money.
    funding_index
        The market's cumulative funding index when the position last settled funding.
    realized_pnl
        PnL realized by reducing trades (display).
    """

    size: int = 0
    cost: int = 0
    funding_index: int = 0
    realized_pnl: int = 0

    def copy(self) -> PerpPosition:
        """A copy."""
        return replace(self)


@dataclass
class PerpMarketState:
    """Per-market state: open interest, funding, last trade, insurance fund.

    Attributes
    ----------
    open_interest
        Sum of long sizes (base smallest units).
    funding_index
        Cumulative funding per whole base token (quote units x :data:`FUNDING_SCALE`);
        longs pay when it rises.
    last_funding_time
        Time of the last funding interval boundary applied.
    last_trade_price, basis_ema_ppm
        Inputs of the mark price.
    insurance
        This market's insurance fund (when the market has its own).
    adl_volume, liquidated_volume
        Cumulative quote notional closed by auto-deleveraging and by liquidation.
    """

    symbol: str
    open_interest: int = 0
    funding_index: int = 0
    last_funding_time: int = 0
    last_trade_price: int = 0
    basis_ema_ppm: int = 0
    insurance: int = 0
    adl_volume: int = 0
    liquidated_volume: int = 0

    def copy(self) -> PerpMarketState:
        """A copy."""
        return replace(self)


@dataclass(frozen=True)
class BlockLiquidation:
    """What one account has been liquidated for in the current block (dYdX v4's
    ``SubaccountLiquidationInfo``, held in its transient store and reset every block:
    dydxprotocol/v4-chain@84d4664b protocol/x/clob/keeper/liquidations_state.go).

    The engine's block is its clock: every event at one engine time is in one block, and an
    ``AdvanceTime`` of any length starts the next (the ledger then forgets these).

    Attributes
    ----------
    markets
        The perp markets liquidated in this block (``PerpetualsLiquidated``), in order.
    notional
        The notional liquidated in this block, quote smallest units (``NotionalLiquidated``:
        the net notional of each fill at the margin price, truncated, summed).
    insurance_lost
        What the insurance fund paid for this account's liquidations in this block, quote
        smallest units (``QuantumsInsuranceLost``).
    """

    markets: tuple[str, ...] = ()
    notional: int = 0
    insurance_lost: int = 0


@dataclass
class PerpClearing:
    """The clearing of all perp markets (one quote asset).

    Attributes
    ----------
    cash
        Quote tokens that entered the clearing (deposits, insurance funding) less those that
        left (withdrawals).
    insurance
        The shared insurance fund.
    fee_pool
        Funding rounding and fees not paid to an insurance fund.
    deficit
        Losses neither the insurance funds, auto-deleveraging nor socialization covered.
    socialized_loss, insurance_drawdown
        Cumulative figures for reporting.
    partial_liquidations
        Per owner (an account id before any ``/label``), the time of its last partial
        liquidation in a market with a ``partial_cooldown`` (Hyperliquid's cooldown).
    block_liquidations
        Per account, what it was liquidated for in the current block (dYdX v4's subaccount
        block limits, :class:`BlockLiquidation`); emptied when the clock moves.
    """

    cash: int = 0
    insurance: int = 0
    fee_pool: int = 0
    deficit: int = 0
    socialized_loss: int = 0
    insurance_drawdown: int = 0
    markets: dict[str, PerpMarketState] = field(default_factory=dict)
    partial_liquidations: dict[str, int] = field(default_factory=dict)
    block_liquidations: dict[str, BlockLiquidation] = field(default_factory=dict)

    def copy(self) -> PerpClearing:
        """A deep copy (a :class:`BlockLiquidation` is immutable)."""
        return replace(self, markets={s: m.copy() for s, m in self.markets.items()},
                       partial_liquidations=dict(self.partial_liquidations),
                       block_liquidations=dict(self.block_liquidations))

    def as_dict(self) -> dict[str, object]:
        """All fields, sorted, for hashing."""
        out: dict[str, object] = {
            "cash": self.cash, "insurance": self.insurance, "fee_pool": self.fee_pool,
            "deficit": self.deficit, "socialized_loss": self.socialized_loss,
            "insurance_drawdown": self.insurance_drawdown,
            "markets": {s: vars(m) for s, m in sorted(self.markets.items())},
        }
        if self.partial_liquidations:
            # Only once recorded, so hashes of runs without a cooldown are unchanged.
            out["partial_liquidations"] = dict(sorted(self.partial_liquidations.items()))
        if self.block_liquidations:
            # Only within a block that liquidated, so hashes between blocks are unchanged.
            out["block_liquidations"] = {
                a: {"markets": list(b.markets), "notional": b.notional,
                    "insurance_lost": b.insurance_lost}
                for a, b in sorted(self.block_liquidations.items())}
        return out


def owner_of(account_id: str) -> str:
    """The owner of an account: the id before ``/label`` (an isolated sub-account), or the
    id itself."""
    return account_id.split("/", 1)[0]


def quote_value(size: int, price: int, base_unit: int, quote_unit: int,
                rounding: Rounding) -> int:
    """``size x price`` in quote smallest units (size signed; rounding of the magnitude)."""
    magnitude = div(abs(size) * price * quote_unit, base_unit * PRICE_UNIT, rounding)
    return magnitude if size >= 0 else -magnitude


def funding_payment(size: int, index_now: int, index_then: int, base_unit: int) -> int:
    """What a position pays (positive) or receives (negative) between two funding indices,
    rounded against the position: payments up, receipts down."""
    owed = size * (index_now - index_then)
    denominator = base_unit * FUNDING_SCALE
    if owed >= 0:
        return div(owed, denominator, Rounding.UP)
    return -div(-owed, denominator, Rounding.DOWN)
