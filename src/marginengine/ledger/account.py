"""Accounts and their positions.

An account holds lending positions (scaled supply and scaled debt per asset). Derivative
positions (perps, options) and isolated sub-accounts get their own position maps beside
``lending`` so the margin models can value a whole bucket without the lending code changing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# One account id rule for every input (config's role holders too): defined in config.
from marginengine.config.ids import check_account_id as check_account_id
from marginengine.ledger.perp import PerpPosition


@dataclass
class LendingPosition:
    """An account's scaled supply and scaled debt in one asset."""

    scaled_supply: int = 0
    scaled_debt: int = 0
    use_as_collateral: bool = True

    def is_empty(self) -> bool:
        """True when the position holds nothing."""
        return self.scaled_supply == 0 and self.scaled_debt == 0


@dataclass
class Account:
    """One account (one margin bucket): lending positions, perp quote and perp positions.

    Isolated margin is a sub-account (an id of its own, ``owner/label`` by convention)
    holding one position and the collateral moved into it: margin, liquidation and
    bankruptcy are per account, so its loss never reaches the owner's other collateral.
    """

    id: str
    lending: dict[str, LendingPosition] = field(default_factory=dict)
    perp_quote: int = 0
    perps: dict[str, PerpPosition] = field(default_factory=dict)
    #: Aave's e-mode category of the account (``usersEModeCategory``; 0: none).
    emode: int = 0

    def perp(self, market: str) -> PerpPosition:
        """The perp position in ``market``, created empty when absent."""
        pos = self.perps.get(market)
        if pos is None:
            pos = self.perps[market] = PerpPosition()
        return pos

    def position(self, asset: str) -> LendingPosition:
        """The lending position in ``asset``, created empty when absent."""
        pos = self.lending.get(asset)
        if pos is None:
            pos = self.lending[asset] = LendingPosition()
        return pos

    def prune(self) -> None:
        """Drop empty positions so equal states hash equally."""
        # The test of is_empty inline, and no list built unless a position is empty: this
        # runs after every burn of supply or debt, and most burns leave none.
        lending = self.lending
        for pos in lending.values():
            if not pos.scaled_supply and not pos.scaled_debt:
                for asset in [a for a, p in lending.items()
                              if not p.scaled_supply and not p.scaled_debt]:
                    del lending[asset]
                break
        if self.perps:  # most accounts hold none: no list to build after every write
            for market in [m for m, p in self.perps.items() if p.size == 0]:
                del self.perps[market]

    def copy(self) -> Account:
        """A deep copy (positions are small)."""
        return Account(
            self.id,
            {
                a: LendingPosition(p.scaled_supply, p.scaled_debt, p.use_as_collateral)
                for a, p in self.lending.items()
            },
            self.perp_quote,
            {m: p.copy() for m, p in self.perps.items()},
            self.emode,
        )

    def as_dict(self) -> dict[str, object]:
        """All fields, sorted, for hashing and snapshots (the e-mode category only when
        set, so states without e-mode hash as before)."""
        out: dict[str, object] = {
            "id": self.id,
            "lending": {
                a: [p.scaled_supply, p.scaled_debt, p.use_as_collateral]
                for a, p in sorted(self.lending.items())
            },
            "perp_quote": self.perp_quote,
            "perps": {
                m: [p.size, p.cost, p.funding_index, p.realized_pnl]
                for m, p in sorted(self.perps.items())
            },
        }
        if self.emode:
            out["emode"] = self.emode
        return out
