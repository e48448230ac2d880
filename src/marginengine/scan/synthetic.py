"""A seeded synthetic lending book with a realistic shape.

- ``K`` markets: the first are familiar (WETH, WBTC, USDC, USDT, DAI, wstETH, ...) with
  Aave-like parameters and prices; the rest (``TKN16``, ...) are long-tail assets with
  lower thresholds and lognormal prices. Decimals 6 (stablecoins), 8 (WBTC) or 18.
- Account sizes are lognormal (median 2,000 USD of collateral, sigma 2) plus a few whales
  (1 in 5,000 accounts, 10-500 million USD).
- Positions per account: ``1 + Poisson(p - 1)`` (mean ``p``); 85% of accounts with two or
  more positions borrow. Collateral assets are drawn by popularity (WETH, WBTC, wstETH
  first), debt assets by borrow popularity (stablecoins first), never the same asset on
  both sides of one account.
- Health: lognormal around ``health_median`` (default 1.6, sigma 0.3), so a few percent
  of accounts start below 1 and a price drop pushes many more under.

Amounts are whole tokens with at most six decimals (integers of micro-tokens), so the
book can be written to CSV and read back into an engine exactly.

With ``perp_share > 0`` the protocol gains three perp markets quoted in USDC (ETH-PERP and
SOL-PERP on dYdX v4's tiers, BTC-PERP on Hyperliquid's) and that share of the accounts hold
perps in cross margin beside their lending positions: ``1 + Binomial(2, 0.3)`` positions in
distinct markets, notionals lognormal (median 5,000 USD, sigma 1.5), long or short with
equal odds, opened at the index; the perp quote balance is set so that the bucket's perp
equity is its perp maintenance requirement times a lognormal factor around 2 (sigma 0.5),
so a few percent of the perp buckets start below their requirement on the perp side alone
(their lending collateral may still hold them). Generated vectorized, in the same chunks.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from marginengine.config import ProtocolConfig, protocol_from_dict
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.scan.book import PerpArrays, RiskBook
from marginengine.scan.errors import ScanError

#: (symbol, decimals, price USD, LT, LTV, collateral popularity, borrow popularity)
_KNOWN: tuple[tuple[str, int, float, str, str, float, float], ...] = (
    ("WETH", 18, 3000.0, "0.83", "0.805", 0.30, 0.10),
    ("WBTC", 8, 60000.0, "0.78", "0.73", 0.12, 0.02),
    ("USDC", 6, 1.0, "0.78", "0.75", 0.08, 0.35),
    ("USDT", 6, 1.0, "0.78", "0.75", 0.03, 0.25),
    ("DAI", 18, 1.0, "0.77", "0.63", 0.03, 0.10),
    ("wstETH", 18, 3500.0, "0.81", "0.785", 0.10, 0.01),
    ("LINK", 18, 15.0, "0.68", "0.53", 0.03, 0.01),
    ("AAVE", 18, 150.0, "0.73", "0.66", 0.02, 0.005),
    ("UNI", 18, 8.0, "0.77", "0.65", 0.01, 0.005),
    ("MKR", 18, 2000.0, "0.70", "0.65", 0.01, 0.005),
    ("rETH", 18, 3300.0, "0.79", "0.745", 0.03, 0.005),
    ("cbETH", 18, 3200.0, "0.77", "0.745", 0.02, 0.005),
    ("GHO", 18, 1.0, "0.78", "0.75", 0.005, 0.05),
    ("LUSD", 18, 1.0, "0.77", "0.70", 0.005, 0.02),
    ("CRV", 18, 0.5, "0.41", "0.35", 0.01, 0.005),
    ("LDO", 18, 2.0, "0.50", "0.40", 0.01, 0.005),
)


@dataclass
class SyntheticBook:
    """A generated book: protocol, prices, and one row per position.

    Attributes
    ----------
    protocol
        The protocol as a plain dict (what :func:`write_protocol` writes).
    config
        The validated protocol.
    prices
        Exact prices (8 decimals) by symbol.
    account_ids
        ``S`` byte strings ``acct0000000`` ...
    rows, assets
        Per position: index into ``account_ids``, and the market's column (markets sorted
        by symbol, as in :class:`~marginengine.scan.assets.AssetVectors`).
    supplied_micro, borrowed_micro
        Per position, millionths of a whole token (one of the two is zero).
    """

    protocol: dict[str, Any]
    config: ProtocolConfig
    prices: dict[str, int]
    account_ids: NDArray[np.bytes_]
    rows: NDArray[np.int32]
    assets: NDArray[np.int32]
    supplied_micro: NDArray[np.int64]
    borrowed_micro: NDArray[np.int64]
    perp_rows: NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    perp_markets: NDArray[np.int32] = field(
        default_factory=lambda: np.zeros(0, dtype=np.int32))
    perp_size_milli: NDArray[np.int64] = field(
        default_factory=lambda: np.zeros(0, dtype=np.int64))
    perp_quote_rows: NDArray[np.int32] = field(
        default_factory=lambda: np.zeros(0, dtype=np.int32))
    perp_quote_micro: NDArray[np.int64] = field(
        default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def symbols(self) -> list[str]:
        """Market symbols in column order."""
        return sorted(self.config.markets)

    def _smallest_units(self, micro: NDArray[np.int64],
                        assets: NDArray[np.int32] | None = None) -> NDArray[np.float64]:
        decimals = np.array([self.config.markets[s].decimals for s in self.symbols])
        cols = self.assets if assets is None else assets
        return micro * (10.0 ** (decimals[cols] - 6))

    def perp_arrays(self) -> PerpArrays | None:
        """The perp positions and quote balances as :class:`PerpArrays`, if any."""
        if not self.config.perps:
            return None
        perps = sorted(self.config.perps)
        base = np.array([self.config.perps[m].base_unit for m in perps], dtype=np.float64)
        quote_unit = self.config.markets["USDC"].unit
        return PerpArrays(
            rows=self.perp_rows, markets=self.perp_markets,
            sizes=(self.perp_size_milli * (base[self.perp_markets] / 1000)).astype(np.float64),
            quote_rows=self.perp_quote_rows,
            quote=(self.perp_quote_micro * (quote_unit / 1e6)).astype(np.float64),
        )

    def to_book(self, threads: int = 2, perps: bool = True) -> RiskBook:
        """A :class:`RiskBook` straight from the arrays (no engine); ``perps=False`` leaves
        the perp block out (the same accounts' lending book)."""
        config = self.config
        prices = self.prices
        if not perps and config.perps:
            config = protocol_from_dict({k: v for k, v in self.protocol.items()
                                         if k != "perps"})
            prices = {s: p for s, p in prices.items() if s in config.markets}
        return RiskBook.from_positions(
            config, self.account_ids, self.rows, self.assets,
            self._smallest_units(self.supplied_micro), self._smallest_units(self.borrowed_micro),
            prices, threads=threads, perps=self.perp_arrays() if perps else None,
        )

    def account_positions(self, rows: NDArray[np.integer]) -> dict[str, dict[str, tuple[
            float, float]]]:
        """Positions of the given accounts as plain dicts (smallest units, float)."""
        wanted = np.zeros(len(self.account_ids), dtype=bool)
        wanted[np.asarray(rows)] = True
        sel = np.flatnonzero(wanted[self.rows])
        supplied = self._smallest_units(self.supplied_micro[sel], self.assets[sel])
        borrowed = self._smallest_units(self.borrowed_micro[sel], self.assets[sel])
        symbols = self.symbols
        out: dict[str, dict[str, tuple[float, float]]] = {}
        for i, row in enumerate(self.rows[sel].tolist()):
            account = bytes(self.account_ids[row]).decode()
            out.setdefault(account, {})[symbols[int(self.assets[sel[i]])]] = (
                float(supplied[i]), float(borrowed[i]))
        return out

    # ------------------------------------------------------------------ files
    def write_csv(self, path: str | Path) -> None:
        """Write the book as CSV: ``account,asset,supplied,borrowed`` in whole tokens."""
        symbols = self.symbols
        with open(path, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["account", "asset", "supplied", "borrowed"])
            ids = self.account_ids
            for row, k, s, b in zip(self.rows.tolist(), self.assets.tolist(),
                                    self.supplied_micro.tolist(), self.borrowed_micro.tolist(),
                                    strict=True):
                out.writerow([bytes(ids[row]).decode(), symbols[k], _micro(s), _micro(b)])

    def write_parquet(self, path: str | Path) -> None:
        """Write the book as Parquet with the CSV's columns (strings); needs pyarrow."""
        from marginengine.ledger.book_file import load_pyarrow

        pa, pq = load_pyarrow()
        symbols = self.symbols
        table = pa.table({
            "account": [bytes(self.account_ids[r]).decode() for r in self.rows.tolist()],
            "asset": [symbols[k] for k in self.assets.tolist()],
            "supplied": [_micro(s) for s in self.supplied_micro.tolist()],
            "borrowed": [_micro(b) for b in self.borrowed_micro.tolist()],
        })
        pq.write_table(table, path)

    def write_prices(self, path: str | Path) -> None:
        """Write the prices as a TOML ``[prices]`` table (USD per whole token)."""
        lines = ["[prices]"]
        for symbol in self.symbols:  # lending markets only: books on disk hold no perps
            lines.append(f'{symbol} = "{_decimal(self.prices[symbol], 8)}"')
        Path(path).write_text("\n".join(lines) + "\n")

    def write_protocol(self, path: str | Path) -> None:
        """Write the protocol as TOML (``preset`` and one table per market)."""
        lines = [f'preset = "{self.protocol["preset"]}"', ""]
        for symbol in self.symbols:
            lines.append(f"[markets.{symbol}]")
            for key, value in self.protocol["markets"][symbol].items():
                text = f'"{value}"' if isinstance(value, str) else str(value).lower()
                lines.append(f"{key} = {text}")
            lines.append("")
        Path(path).write_text("\n".join(lines))


def _micro(value: int) -> str:
    return "" if value == 0 else _decimal(value, 6)


def _decimal(value: int, places: int) -> str:
    whole, frac = divmod(value, 10**places)
    text = f"{whole}.{frac:0{places}d}".rstrip("0").rstrip(".")
    return text


def synthetic_markets(n_assets: int, rng: np.random.Generator) -> tuple[
        dict[str, dict[str, Any]], dict[str, float], dict[str, tuple[float, float]]]:
    """Markets (config dicts), USD prices and (collateral, borrow) popularity weights."""
    markets: dict[str, dict[str, Any]] = {}
    prices: dict[str, float] = {}
    popularity: dict[str, tuple[float, float]] = {}
    for i in range(n_assets):
        if i < len(_KNOWN):
            symbol, decimals, price, lt, ltv, pc, pb = _KNOWN[i]
        else:
            symbol = f"TKN{i:02d}"
            decimals = 18
            price = float(np.round(np.exp(rng.normal(np.log(20.0), 1.5)), 4)) or 0.01
            lt_bps = int(rng.integers(12, 17)) * 500
            lt, ltv = f"{lt_bps / 10_000:.2f}", f"{(lt_bps - 500) / 10_000:.2f}"
            pc, pb = 0.01 / (i - len(_KNOWN) + 2), 0.002 / (i - len(_KNOWN) + 2)
        markets[symbol] = {
            "decimals": decimals, "ltv": ltv, "liquidation_threshold": lt,
            "liquidation_bonus": "0.05", "liquidation_protocol_fee": "0.10",
            "reserve_factor": "0.10", "collateral": True, "borrowable": True,
        }
        prices[symbol] = price
        popularity[symbol] = (pc, pb)
    return markets, prices, popularity


def _pick(keys: NDArray[np.float64], counts: NDArray[np.int64]) -> tuple[
        NDArray[np.int64], NDArray[np.int64]]:
    """Per row, the ``counts[row]`` columns with the largest keys: ``(rows, columns)``."""
    order = np.argsort(-keys, axis=1)
    take = np.arange(keys.shape[1])[None, :] < counts[:, None]
    rows = np.repeat(np.arange(keys.shape[0]), counts)
    return rows, order[take]


#: (symbol, perp preset, base decimals, index USD) of the synthetic perp markets.
PERP_MARKETS: tuple[tuple[str, str, int, float], ...] = (
    ("BTC-PERP", "hyperliquid", 8, 60000.0),
    ("ETH-PERP", "dydx-v4", 18, 3000.0),
    ("SOL-PERP", "dydx-v4", 9, 150.0),
)


def _perp_chunk(rng: np.random.Generator, n: int, share: float, mmf: NDArray[np.float64],
                price: NDArray[np.float64]) -> tuple[NDArray[Any], ...]:
    """One chunk's perp positions and quote balances (rows relative to the chunk)."""
    m = len(price)
    holder = np.flatnonzero(rng.random(n) < share)
    count = np.minimum(1 + rng.binomial(2, 0.3, len(holder)), m)
    gumbel = -np.log(-np.log(rng.random((len(holder), m))))
    rows_h, markets = _pick(gumbel, count)
    rows = holder[rows_h]
    notional = np.minimum(np.exp(rng.normal(np.log(5000.0), 1.5, len(rows))), 5e7)
    sign = np.where(rng.random(len(rows)) < 0.5, -1, 1)
    milli = np.maximum(np.floor(notional / price[markets] * 1000), 1).astype(np.int64) * sign
    value = milli / 1000 * price[markets]
    maintenance = np.bincount(rows_h, np.abs(value) * mmf[markets], minlength=len(holder))
    exposure = np.bincount(rows_h, value, minlength=len(holder))
    equity = maintenance * np.exp(rng.normal(np.log(2.0), 0.5, len(holder)))
    quote = np.round((equity - exposure) * 1e6).astype(np.int64)
    return rows, markets, milli, holder, quote


def generate_book(n_accounts: int, n_assets: int, positions_per_account: float = 3.0,
                  seed: int = 0, health_median: float = 1.6, health_sigma: float = 0.3,
                  chunk: int = 100_000, perp_share: float = 0.0) -> SyntheticBook:
    """Generate a book (see the module docstring); the same arguments give the same book.

    ``perp_share`` of the accounts also hold perps (0: a lending book, the same as
    before perps existed for the same seed).
    """
    if n_accounts < 1 or n_assets < 2:
        raise ScanError("a synthetic book needs at least 1 account and 2 assets")
    if positions_per_account < 1:
        raise ScanError("positions_per_account must be at least 1")
    if not 0 <= perp_share <= 1:
        raise ScanError(f"perp_share must be within 0..1 (got {perp_share})")
    if perp_share and n_assets < 3:
        raise ScanError("a synthetic book with perps needs at least 3 assets (USDC quotes)")
    rng = np.random.default_rng(seed)
    perp_rng = np.random.default_rng([seed, 1])  # the lending book stays the same
    markets, usd, popularity = synthetic_markets(n_assets, rng)
    protocol: dict[str, Any] = {"preset": "aave-v3", "name": f"synthetic-{n_assets}",
                                "markets": markets}
    if perp_share:
        protocol["perps"] = {sym: {"preset": preset, "base_decimals": decimals}
                             for sym, preset, decimals, _ in PERP_MARKETS}
    config = protocol_from_dict(protocol)
    symbols = sorted(markets)
    col = np.array([symbols.index(s) for s in markets])  # generation order -> column
    lt = np.array([float(markets[s]["liquidation_threshold"]) for s in markets])
    price = np.array([usd[s] for s in markets])
    p_coll = np.array([popularity[s][0] for s in markets])
    p_debt = np.array([popularity[s][1] for s in markets])
    max_pos = min(n_assets, 16)
    perp_price = np.array([p for *_, p in PERP_MARKETS])
    perp_mmf = np.array([float(config.perps[sym].tiers[0].mmf) if perp_share else 0.0
                         for sym, *_ in PERP_MARKETS])

    parts: list[tuple[NDArray[Any], ...]] = []
    perp_parts: list[tuple[NDArray[Any], ...]] = []
    for start in range(0, n_accounts, chunk):
        n = min(chunk, n_accounts - start)
        total = np.clip(1 + rng.poisson(positions_per_account - 1, n), 1, max_pos)
        borrower = (total >= 2) & (rng.random(n) < 0.85)
        n_debt = np.where(borrower, 1 + rng.binomial(np.maximum(total - 2, 0), 0.25), 0)
        n_coll = total - n_debt
        size = np.exp(rng.normal(np.log(2000.0), 2.0, n))
        whales = rng.random(n) < 1 / 5000
        size[whales] = rng.uniform(1e7, 5e8, int(whales.sum()))
        size = np.minimum(size, 2e9)
        gumbel = -np.log(-np.log(rng.random((n, n_assets))))
        c_rows, c_assets = _pick(np.log(p_coll)[None, :] + gumbel, n_coll)
        keys = np.log(p_debt)[None, :] - np.log(-np.log(rng.random((n, n_assets))))
        keys[c_rows, c_assets] = -np.inf
        d_rows, d_assets = _pick(keys, n_debt)
        share = rng.exponential(1.0, len(c_rows))
        share /= np.bincount(c_rows, share, minlength=n)[c_rows]
        c_value = size[c_rows] * share
        weighted = np.bincount(c_rows, c_value * lt[c_assets], minlength=n)
        h = np.exp(rng.normal(np.log(health_median), health_sigma, n))
        debt_total = weighted / h
        share = rng.exponential(1.0, len(d_rows))
        share /= np.bincount(d_rows, share, minlength=n)[d_rows]
        d_value = debt_total[d_rows] * share
        c_micro = np.maximum(np.floor(c_value / price[c_assets] * 1e6), 1).astype(np.int64)
        d_micro = np.maximum(np.floor(d_value / price[d_assets] * 1e6), 1).astype(np.int64)
        rows = np.concatenate([c_rows, d_rows]) + start
        assets = col[np.concatenate([c_assets, d_assets])]
        supplied = np.concatenate([c_micro, np.zeros(len(d_rows), dtype=np.int64)])
        borrowed = np.concatenate([np.zeros(len(c_rows), dtype=np.int64), d_micro])
        order = np.lexsort((assets, rows))
        parts.append((rows[order], assets[order], supplied[order], borrowed[order]))
        if perp_share:
            p_rows, p_markets, milli, q_rows, quote = _perp_chunk(perp_rng, n, perp_share,
                                                                  perp_mmf, perp_price)
            perp_parts.append((p_rows + start, p_markets, milli, q_rows + start, quote))
    width = len(str(n_accounts - 1))
    ids = np.char.add(b"acct", np.char.zfill(np.arange(n_accounts).astype(f"S{width}"),
                                                max(width, 7)))
    prices = {s: round(usd[s] * PRICE_UNIT) for s in symbols}
    extra: dict[str, Any] = {}
    if perp_share:
        prices.update({sym: round(p * PRICE_UNIT) for sym, _, _, p in PERP_MARKETS})
        # perp markets sorted by symbol are the order of PERP_MARKETS
        extra = {
            "perp_rows": np.concatenate([p[0] for p in perp_parts]).astype(np.int32),
            "perp_markets": np.concatenate([p[1] for p in perp_parts]).astype(np.int32),
            "perp_size_milli": np.concatenate([p[2] for p in perp_parts]),
            "perp_quote_rows": np.concatenate([p[3] for p in perp_parts]).astype(np.int32),
            "perp_quote_micro": np.concatenate([p[4] for p in perp_parts]),
        }
    return SyntheticBook(
        protocol=protocol,
        config=config,
        prices=prices,
        account_ids=ids,
        rows=np.concatenate([p[0] for p in parts]).astype(np.int32),
        assets=np.concatenate([p[1] for p in parts]).astype(np.int32),
        supplied_micro=np.concatenate([p[2] for p in parts]),
        borrowed_micro=np.concatenate([p[3] for p in parts]),
        **extra,
    )
