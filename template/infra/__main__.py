"""Pulumi program of this service: tenfold_infra builds each stack from Pulumi.<stack>.yaml."""

from tenfold_infra.stack import run

run()
