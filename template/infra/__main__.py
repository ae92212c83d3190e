"""Pulumi program of this service: every stack is built by tenfold_infra from Pulumi.<stack>.yaml."""

from tenfold_infra.stack import run

run()
