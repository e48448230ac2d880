"""Protocol presets: a rule family with market parameters modelled on a live deployment.

``aave-v3``
    Aave v3.3 liquidation rules (close factor 50%, 100% below HF 0.95 or for positions
    under 2,000 USD, the 1,000 USD leftover-dust rule, bonus with a protocol fee on the
    bonus, per-asset deficit for bad debt) and the interest-rate strategy V2. Market
    parameters approximate Aave v3 Ethereum main market values of 2024-2025; check
    governance for today's values before relying on them.
``morpho-blue``
    Morpho Blue isolated markets (``config.morpho``): shares with virtual shares and
    assets, the LLTV health check, ``liquidate`` with the cursor incentive and bad-debt
    realization (morpho-org/morpho-blue ``src/Morpho.sol``). One WETH/USDC market, LLTV 86%.
``liquity-v1``, ``liquity-v1-2025``
    Liquity v1 troves and the stability pool (``config.liquity``): ICR/TCR, the 110%
    minimum, recovery mode below 150%, offset and redistribution, gas compensation
    (liquity/dev ``BorrowerOperations.sol``, ``TroveManager.sol``, ``StabilityPool.sol``);
    ``liquity-v1-2025`` with the 2025 pool that always keeps 1 LUSD. Assets ETH and LUSD.
``euler-v2``
    Euler v2 (Euler Vault Kit) vault (``config.euler``): borrow and liquidation LTVs, the
    LTV ramp (``EulerSetLTV``), the liquidation discount, the yield capped at the
    collateral's value, debt socialization (euler-xyz/euler-vault-kit ``src/EVault``). A
    USDC vault lending against WETH at 80% / 85%, maxLiquidationDiscount 15%.
``mango-v4``
    Mango v4 account health (``config.mango``): init and maint health with the banks'
    deposit and borrow limits scaling the init weights, the stable price on the init side,
    perps through their settle token (blockworks-foundation/mango-v4 ``src/health``).
    USDC and SOL banks and SOL-PERP.
``drift-v2``
    Drift v2 cross margin (``config.drift``): spot asset and liability weights with the
    IMF size discount and premium, the perp margin ratio with the IMF premium, the
    unrealized-PnL weight, spot liquidation transferring the liability that covers the
    margin shortage (drift-labs/protocol-v2 ``math/margin.rs``, ``math/liquidation.rs``).
    USDC and SOL spot markets and BTC-PERP.
``compound-v3``
    Compound III (Comet) rules: one borrowable base asset (USDC here), borrow and liquidate
    collateral factors, liquidation factor, ``absorb`` into reserves, ``buyCollateral`` at the
    store-front discount, reserves that may go negative. Parameters approximate cUSDCv3 on
    Ethereum.
"""

from __future__ import annotations

from typing import Any

_AAVE_MARKETS: dict[str, dict[str, Any]] = {
    "WETH": {
        "decimals": 18,
        "ltv": "0.805",
        "liquidation_threshold": "0.83",
        "liquidation_bonus": "0.05",
        "liquidation_protocol_fee": "0.10",
        "reserve_factor": "0.15",
        "interest_rate": {"base": "0", "slope1": "0.027", "slope2": "0.80",
                          "optimal_utilization": "0.90"},
    },
    "WBTC": {
        "decimals": 8,
        "ltv": "0.73",
        "liquidation_threshold": "0.78",
        "liquidation_bonus": "0.05",
        "liquidation_protocol_fee": "0.10",
        "reserve_factor": "0.20",
        "interest_rate": {"base": "0", "slope1": "0.04", "slope2": "3.00",
                          "optimal_utilization": "0.45"},
    },
    "USDC": {
        "decimals": 6,
        "ltv": "0.75",
        "liquidation_threshold": "0.78",
        "liquidation_bonus": "0.045",
        "liquidation_protocol_fee": "0.10",
        "reserve_factor": "0.10",
        "interest_rate": {"base": "0", "slope1": "0.055", "slope2": "0.40",
                          "optimal_utilization": "0.92"},
    },
    "DAI": {
        "decimals": 18,
        "ltv": "0.63",
        "liquidation_threshold": "0.77",
        "liquidation_bonus": "0.05",
        "liquidation_protocol_fee": "0.10",
        "reserve_factor": "0.25",
        "interest_rate": {"base": "0", "slope1": "0.055", "slope2": "0.75",
                          "optimal_utilization": "0.92"},
    },
}

_COMPOUND_MARKETS: dict[str, dict[str, Any]] = {
    "USDC": {
        "decimals": 6,
        "collateral": False,
        "borrowable": True,
        "reserve_factor": "0.10",
        "interest_rate": {"base": "0.015", "slope1": "0.035", "slope2": "3.00",
                          "optimal_utilization": "0.90"},
    },
    "WETH": {
        "decimals": 18,
        "ltv": "0.83",
        "liquidation_threshold": "0.90",
        "liquidation_factor": "0.95",
        "borrowable": False,
    },
    "WBTC": {
        "decimals": 8,
        "ltv": "0.80",
        "liquidation_threshold": "0.85",
        "liquidation_factor": "0.95",
        "borrowable": False,
    },
    "COMP": {
        "decimals": 18,
        "ltv": "0.65",
        "liquidation_threshold": "0.70",
        "liquidation_factor": "0.88",
        "borrowable": False,
    },
}

_AAVE_CONSTANTS: dict[str, Any] = {
    "close_factor": "0.5",
    "close_factor_hf_threshold": "0.95",
    "min_base_max_close_factor_threshold": "2000",
    "min_leftover_base": "1000",
}

PRESETS: dict[str, dict[str, Any]] = {
    **{name: {"preset": name, "markets": _AAVE_MARKETS, "aave": _AAVE_CONSTANTS}
       for name in ("aave-v3", "aave-v3.3", "aave-v3.5", "aave-v3.7")},
    "compound-v3": {
        "preset": "compound-v3",
        "markets": _COMPOUND_MARKETS,
        "compound": {
            "base_asset": "USDC",
            "store_front_price_factor": "0.6",
            "target_reserves": "20000000",
            "base_borrow_min": "100",
        },
    },
    # Morpho Blue: the assets are listed for their decimals and prices only (no pooled
    # reserve takes Deposit or Borrow); the market's LLTV is one governance enables (86%).
    "morpho-blue": {
        "preset": "morpho-blue",
        "markets": {"USDC": {"decimals": 6, "collateral": False, "borrowable": False},
                    "WETH": {"decimals": 18, "collateral": False, "borrowable": False}},
        "morpho": {"WETH/USDC": {"loan": "USDC", "collateral": "WETH", "lltv": "0.86",
                                 "fee": "0", "borrow_rate": "0"}},
    },
    # Liquity v1: ETH collateral, LUSD debt, both listed for their units and ETH's price.
    **{name: {
        "preset": name,
        "markets": {"LUSD": {"decimals": 18, "collateral": False, "borrowable": False},
                    "ETH": {"decimals": 18, "collateral": False, "borrowable": False}},
        "liquity": {"collateral": "ETH", "debt": "LUSD", "base_rate": "0"},
    } for name in ("liquity-v1", "liquity-v1-2025")},
    # Euler v2: a USDC vault lending against WETH (borrow LTV 80%, liquidation LTV 85%,
    # maxLiquidationDiscount 15%), the assets listed for their decimals and prices only.
    "euler-v2": {
        "preset": "euler-v2",
        "markets": {"USDC": {"decimals": 6, "collateral": False, "borrowable": False},
                    "WETH": {"decimals": 18, "collateral": False, "borrowable": False}},
        "euler": {"vault": "USDC", "max_liquidation_discount": "0.15",
                  "socialize_debt": True,
                  "collaterals": {"WETH": {"borrow_ltv": "0.80", "liquidation_ltv": "0.85"}}},
    },
    # Mango v4: USDC and SOL banks and SOL-PERP settled in USDC, with the weights of
    # examples/families/mango_health.toml (no deposit or borrow limits).
    "mango-v4": {
        "preset": "mango-v4",
        "markets": {"USDC": {"decimals": 6, "collateral": False, "borrowable": False},
                    "SOL": {"decimals": 9, "collateral": False, "borrowable": False},
                    "SOL-PERP": {"decimals": 9, "collateral": False, "borrowable": False}},
        "mango": {"quote": "USDC", "tokens": {
            "USDC": {"init_asset_weight": "1", "maint_asset_weight": "1",
                     "init_liab_weight": "1.05", "maint_liab_weight": "1.025"},
            "SOL": {"init_asset_weight": "0.8", "maint_asset_weight": "0.9",
                    "init_liab_weight": "1.2", "maint_liab_weight": "1.1"}},
            "perps": {"SOL-PERP": {
                "settle": "USDC", "base_lot_size": 10_000_000,
                "init_base_asset_weight": "0.9", "init_base_liab_weight": "1.1",
                "maint_base_asset_weight": "0.95", "maint_base_liab_weight": "1.05",
                "init_overall_asset_weight": "0.5", "maint_overall_asset_weight": "0.8"}}},
    },
    # Drift v2: USDC and SOL spot markets and BTC-PERP, with the parameters of
    # examples/families/drift_cross_margin.toml.
    "drift-v2": {
        "preset": "drift-v2",
        "markets": {"USDC": {"decimals": 6, "collateral": False, "borrowable": False},
                    "SOL": {"decimals": 9, "collateral": False, "borrowable": False},
                    "BTC-PERP": {"decimals": 9, "collateral": False, "borrowable": False}},
        "drift": {"quote": "USDC", "spot": {
            "USDC": {"initial_asset_weight": "1", "maintenance_asset_weight": "1",
                     "initial_liability_weight": "1", "maintenance_liability_weight": "1"},
            "SOL": {"initial_asset_weight": "0.8", "maintenance_asset_weight": "0.9",
                    "initial_liability_weight": "1.2", "maintenance_liability_weight": "1.1",
                    "imf_factor": "0.0005", "liquidator_fee": "0.01"}},
            "perps": {"BTC-PERP": {
                "margin_ratio_initial": "0.1", "margin_ratio_maintenance": "0.05",
                "imf_factor": "0.0005", "unrealized_pnl_initial_asset_weight": "0.8",
                "unrealized_pnl_maintenance_asset_weight": "1",
                "unrealized_pnl_imf_factor": "0.0005"}}},
    },
}
