"""The SQL of the domain: one module per table, sessions passed in by the caller."""
