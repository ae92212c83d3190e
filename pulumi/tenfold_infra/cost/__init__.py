"""Monthly cost of a previewed stack, from a dated snapshot of AWS prices stored in this package.

`prices.json` holds the snapshot (every figure with its source); `estimate.py` prices the
resources a preview captured; `refresh.py` rebuilds the snapshot from the AWS Price List bulk
offer files. Standard library only, so the policy pack can use it too.
"""

from .estimate import Estimate, Traffic, estimate
from .prices import PriceBook, load_prices

__all__ = ["Estimate", "PriceBook", "Traffic", "estimate", "load_prices"]
