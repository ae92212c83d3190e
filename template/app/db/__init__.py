"""Database access: engines, the ORM models and the per-request session."""
