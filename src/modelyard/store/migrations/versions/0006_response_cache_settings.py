"""response cache settings: a workspace's opt-in to the gateway's response cache, with the time answers are kept

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import modelyard.store.tables  # custom column types render with their module path

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "response_cache_settings",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("ttl_s", sa.Integer(), nullable=False),
        sa.Column("updated_at", modelyard.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_response_cache_settings_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_response_cache_settings")),
    )


def downgrade() -> None:
    op.drop_table("response_cache_settings")
