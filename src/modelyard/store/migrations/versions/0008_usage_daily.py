"""usage per day: records summed per UTC day and group, kept after the records are pruned, filled from them here

The records' (workspace, created_at) index served only the sums, which now read usage_daily: it goes.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_GROUP = "workspace_id, day, api_key_id, provider, model, model_type, provider_type, status, currency"
_SUMS = "calls, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, price_units"


def upgrade() -> None:
    op.create_table(
        "usage_daily",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("api_key_id", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("model_type", sa.String(length=32), nullable=False),
        sa.Column("provider_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cached_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_write_tokens", sa.BigInteger(), nullable=False),
        sa.Column("reasoning_tokens", sa.BigInteger(), nullable=False),
        sa.Column("price_units", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_usage_daily_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_daily")),
        sa.UniqueConstraint(
            "workspace_id",
            "day",
            "api_key_id",
            "provider",
            "model",
            "model_type",
            "provider_type",
            "status",
            "currency",
            name="uq_usage_daily_group",
        ),
    )
    _backfill()
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_records_workspace_created")


def _backfill() -> None:
    """Every record written so far, summed as services/usage.py sums a batch (days in UTC, prices in 10**-10)."""
    if op.get_bind().dialect.name == "postgresql":
        day = "CAST(timezone('UTC', created_at) AS DATE)"
    else:
        day = "date(created_at)"  # SQLite holds the UTC wall time as text
    op.execute(
        f"INSERT INTO usage_daily ({_GROUP}, {_SUMS}) "
        f"SELECT workspace_id, {day}, COALESCE(api_key_id, ''), provider, model, model_type, provider_type, status, "
        "currency, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cached_tokens), 0, SUM(reasoning_tokens), "
        "SUM(CAST(ROUND(total_price * 10000000000) AS BIGINT)) "
        f"FROM usage_records GROUP BY workspace_id, {day}, COALESCE(api_key_id, ''), provider, model, model_type, "
        "provider_type, status, currency"
    )


def downgrade() -> None:
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.create_index("ix_usage_records_workspace_created", ["workspace_id", "created_at"], unique=False)
    op.drop_table("usage_daily")
