"""tenfold_infra: the AWS stack of a tenfold service as plain pulumi_aws components.

One concern a module (network, security, load_balancer, service, database, cache,
broker, cdn, monitoring); `stack.py` wires them from the validated `config.py`.
`policies/` is dependency-free so the pulumi-policy pack can import it alone.
"""

__all__ = ["__version__"]

__version__ = "0.4.0"
