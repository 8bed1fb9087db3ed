"""key policies and budgets: API keys' expiry and policy, workspace limits, budget counters and their ledger

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import modelyard.store.tables  # custom column types render with their module path

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", modelyard.store.tables.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("policy", sa.Text(), nullable=True))
    op.create_table(
        "workspace_policies",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("updated_at", modelyard.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_workspace_policies_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_workspace_policies")),
    )
    op.create_table(
        "budget_counters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("meter", sa.String(length=96), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_budget_counters_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_counters")),
        sa.UniqueConstraint("workspace_id", "meter", name=op.f("uq_budget_counters_workspace_id_meter")),
    )
    op.create_table(
        "budget_ledger",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("meter", sa.String(length=96), nullable=False),
        sa.Column("reservation_id", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=320), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("step", sa.SmallInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("created_at", modelyard.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_budget_ledger_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_ledger")),
        sa.UniqueConstraint("reservation_id", "step", name=op.f("uq_budget_ledger_reservation_id_step")),
    )
    with op.batch_alter_table("budget_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_budget_ledger_workspace_id"), ["workspace_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("budget_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_budget_ledger_workspace_id"))
    op.drop_table("budget_ledger")
    op.drop_table("budget_counters")
    op.drop_table("workspace_policies")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("policy")
        batch_op.drop_column("expires_at")
