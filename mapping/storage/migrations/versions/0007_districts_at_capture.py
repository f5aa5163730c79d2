"""Every visit, hotspot and service carries the district of its exact point.

Adds ``district_id`` and ``district_estimated`` to ``visits``, ``hotspots`` and ``services``.
From now on the district is taken from the exact point at import or capture, the same moment its
cell is, and the point is dropped after both. Rows stored before have no point any more, so they
are migrated by a stated rule: **the district holding their cell's centre** (``area_cells``, the
rule the exports used), and marked ``district_estimated``; a row without a cell (phone, SMS,
online) has no district. ``coverage --explain`` says how many figures rest on such rows. The
``visit_details`` view is built again with the two columns.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TABLES = ("visits", "hotspots", "services")

_VIEW = (
    "CREATE VIEW visit_details AS SELECT v.fingerprint, v.import_id, v.visit_date, v.cell, "
    "v.peer_educator_id, v.contact_id, v.profile_id{extra}, p.time_of_day, p.channel, p.gender, "
    "p.setting, p.male_condoms, p.female_condoms, p.lubricant, p.info_material, "
    "p.harm_reduction_kits, p.referrals, p.hiv_test, p.violence_type, p.perpetrator "
    "FROM visits v JOIN visit_profiles p ON p.id = v.profile_id"
)


def upgrade() -> None:
    op.execute("DROP VIEW visit_details")
    for table in _TABLES:
        op.add_column(table, sa.Column("district_id", sa.String(64), nullable=True))
        op.add_column(
            table,
            sa.Column("district_estimated", sa.Boolean, nullable=False, server_default=sa.false()),
        )
        op.execute(
            f"UPDATE {table} SET district_estimated = true, district_id = (SELECT a.district_id "
            f"FROM area_cells a WHERE a.cell = {table}.cell) WHERE cell IS NOT NULL"
        )
    op.execute(_VIEW.format(extra=", v.district_id, v.district_estimated"))


def downgrade() -> None:
    op.execute("DROP VIEW visit_details")
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("district_estimated")
            batch.drop_column("district_id")
    op.execute(_VIEW.format(extra=""))
