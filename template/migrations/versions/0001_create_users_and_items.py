"""Create users and items, with the indexes behind every list query.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.db.types import BigIntPrimaryKey, UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ITEM_STATUSES = ("draft", "published", "archived")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", BigIntPrimaryKey, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "items",
        sa.Column("id", BigIntPrimaryKey, primary_key=True),
        sa.Column("owner_id", BigIntPrimaryKey, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                *ITEM_STATUSES,
                name="item_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_items"),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name="fk_items_owner_id_users", ondelete="CASCADE"
        ),
        sa.CheckConstraint("price_cents >= 0", name="price_cents_not_negative"),
    )
    op.create_index("ix_items_status_created_at_id", "items", ["status", "created_at", "id"])
    op.create_index("ix_items_owner_id_created_at_id", "items", ["owner_id", "created_at", "id"])
    op.create_index(
        "ix_items_owner_id_status_created_at_id",
        "items",
        ["owner_id", "status", "created_at", "id"],
    )
    op.create_index("ix_items_status_price_cents", "items", ["status", "price_cents"])


def downgrade() -> None:
    op.drop_table("items")
    op.drop_table("users")
