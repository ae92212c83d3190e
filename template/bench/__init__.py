"""Load scenarios for the tuned hot paths: ``python -m bench.seed`` then ``make bench``."""
