"""A session lasts a shift: the lock, a PIN per account, its tries, and the device cookie.

Adds ``users.pin_hash`` (Argon2id of the PIN; none for every account until its owner sets one)
and, on ``sessions``: ``locked_at`` (when the session locked), ``pin_failures`` (wrong PINs in a
row, 0 for every stored session), ``device_hash`` (SHA-256 of the device cookie's token) and
``ticket_hash`` with ``ticket_expires`` (the one-time ticket that sets that cookie), the two
hashes with a unique index each. Sessions stored before keep their rows: none is locked, none
has a device, so a new app session for one asks for the password, as before.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("pin_hash", sa.String(255), nullable=True))
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("locked_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("pin_failures", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("device_hash", sa.LargeBinary(32), nullable=True))
        batch.add_column(sa.Column("ticket_hash", sa.LargeBinary(32), nullable=True))
        batch.add_column(sa.Column("ticket_expires", sa.DateTime, nullable=True))
    op.create_index("ix_sessions_device_hash", "sessions", ["device_hash"], unique=True)
    op.create_index("ix_sessions_ticket_hash", "sessions", ["ticket_hash"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_sessions_ticket_hash", table_name="sessions")
    op.drop_index("ix_sessions_device_hash", table_name="sessions")
    with op.batch_alter_table("sessions") as batch:
        for column in ("ticket_expires", "ticket_hash", "device_hash", "pin_failures", "locked_at"):
            batch.drop_column(column)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("pin_hash")
