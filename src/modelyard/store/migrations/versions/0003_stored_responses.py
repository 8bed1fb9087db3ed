"""stored responses: /v1/responses answers kept for previous_response_id, GET and DELETE, until they expire

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import modelyard.store.tables  # custom column types render with their module path

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_responses",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=320), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=False),
        sa.Column("conversation", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", modelyard.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", modelyard.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_stored_responses_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_responses")),
    )
    with op.batch_alter_table("stored_responses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stored_responses_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_stored_responses_workspace_id"), ["workspace_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stored_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stored_responses_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_stored_responses_expires_at"))
    op.drop_table("stored_responses")
