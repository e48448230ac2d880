"""Layer 8: the columnar risk book, its vectorized scans, what-if shocks, and books on disk.

The book mirrors the ledger in NumPy / SciPy arrays, screens every account's health in
float64, and confirms the accounts near the threshold with the engine's exact rule, so
its answer is the engine's. See ``docs/scan.md``.
"""

from marginengine.scan.book import HealthDistribution, PerpArrays, RiskBook, ScanResult
from marginengine.scan.confirm import confirm_below, threshold_wad
from marginengine.scan.errors import ScanError
from marginengine.scan.families import FamilyRiskBook, FamilyScan
from marginengine.scan.liquity import LiquityRiskBook
from marginengine.scan.morpho import MorphoRiskBook

__all__ = [
    "FamilyRiskBook",
    "FamilyScan",
    "HealthDistribution",
    "LiquityRiskBook",
    "MorphoRiskBook",
    "PerpArrays",
    "RiskBook",
    "ScanError",
    "ScanResult",
    "confirm_below",
    "threshold_wad",
]
