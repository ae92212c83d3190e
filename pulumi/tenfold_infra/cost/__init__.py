"""Monthly cost of a previewed stack, from a dated snapshot of AWS prices stored in this package.

`prices.json` holds the snapshot (every figure with its source, date and rateCode);
`estimate.py` prices the resources a preview captured and `report.py` prints the estimate;
`refresh.py` rebuilds the snapshot from the AWS Price List bulk offer files, `feeds.py` from
AWS's pricing-page feeds; `diff.py` compares two checkouts' estimates (the PR cost comment).
Standard library only, so the policy pack can use it too.
"""

from .estimate import Estimate, Traffic, estimate
from .prices import PriceBook, load_prices

__all__ = ["Estimate", "PriceBook", "Traffic", "estimate", "load_prices"]
