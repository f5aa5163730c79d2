"""A service is keyed by its facility and its type; imports count skipped rows and records.

Adds ``services.facility_id`` (the id the facility's registry gives) with a unique constraint on
``(facility_id, service_type)``: a facility offering testing and treatment is two services, and
importing its second type never changes the first. Every stored service keeps its ``id`` (the
app's editor and plans address it) and is given ``facility_id = id``: until now the id was the
key, so each row stands for one facility and type already. Adds ``imports.skipped`` (rows a
registry's ``[skip]`` rules set aside) and ``imports.records`` (accepted + duplicates +
skipped + rejected; filled with ``rows_read`` for the imports before, when every row was one
record).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("imports") as batch:
        batch.add_column(sa.Column("skipped", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("records", sa.Integer, nullable=False, server_default="0"))
    op.execute("UPDATE imports SET records = rows_read")
    op.add_column("services", sa.Column("facility_id", sa.String(64), nullable=True))
    op.execute("UPDATE services SET facility_id = id")
    with op.batch_alter_table("services") as batch:
        batch.alter_column("facility_id", existing_type=sa.String(64), nullable=False)
        batch.create_unique_constraint("uq_services_facility_type", ["facility_id", "service_type"])


def downgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.drop_constraint("uq_services_facility_type", type_="unique")
        batch.drop_column("facility_id")
    with op.batch_alter_table("imports") as batch:
        batch.drop_column("records")
        batch.drop_column("skipped")
