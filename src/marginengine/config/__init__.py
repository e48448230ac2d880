"""Typed, validated protocol parameters, presets and TOML loading."""

from marginengine.config.families import (
    CollateralModel,
    Compounding,
    HealthFormula,
    InitialCheck,
    LendingRules,
    LiquidationMechanism,
    LiquidationRounding,
    WithdrawCheck,
    lending_rules,
)
from marginengine.config.loading import (
    load_protocol,
    protocol_from_dict,
    read_toml,
    validate_model,
)
from marginengine.config.models import (
    PRESET_NAMES,
    AaveRules,
    BreakerConfig,
    CometInterestModel,
    CompoundRules,
    InterestRateModel,
    MarketConfig,
    OracleConfig,
    ProtocolConfig,
    StablePriceConfig,
)
from marginengine.config.presets import PRESETS
from marginengine.config.problems import format_validation_error, validation_problems

__all__ = [
    "PRESETS",
    "PRESET_NAMES",
    "AaveRules",
    "BreakerConfig",
    "CollateralModel",
    "CometInterestModel",
    "CompoundRules",
    "Compounding",
    "HealthFormula",
    "InitialCheck",
    "InterestRateModel",
    "LendingRules",
    "LiquidationMechanism",
    "LiquidationRounding",
    "MarketConfig",
    "OracleConfig",
    "ProtocolConfig",
    "StablePriceConfig",
    "WithdrawCheck",
    "format_validation_error",
    "lending_rules",
    "load_protocol",
    "protocol_from_dict",
    "read_toml",
    "validate_model",
    "validation_problems",
]
