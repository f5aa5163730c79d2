"""Initial schema: districts, area cells, imports, services, hotspots, workers, contacts, visits.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "districts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("population", sa.Float, nullable=True),
        sa.Column("geometry", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "area_cells",
        sa.Column("cell", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("district_id", sa.String(64), sa.ForeignKey("districts.id"), nullable=False),
    )
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source_name", sa.String(255), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("imported_at", sa.DateTime, nullable=False),
        sa.Column("rows_read", sa.Integer, nullable=False),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.Column("duplicates", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.Column("updated", sa.Integer, nullable=False, server_default="0"),
        sa.Column("report", sa.String(255), nullable=True),
    )
    op.create_table(
        "services",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("service_type", sa.SmallInteger, nullable=False),
        sa.Column("cell", sa.BigInteger, nullable=False),
        sa.Column("location", sa.LargeBinary, nullable=True),
        sa.Column("sensitive", sa.Boolean, nullable=False),
        sa.Column("friendly", sa.Boolean, nullable=True),
        sa.Column("free", sa.Boolean, nullable=True),
        sa.Column("anonymous_testing", sa.Boolean, nullable=True),
        sa.Column("serves_trans", sa.Boolean, nullable=True),
        sa.Column("serves_male", sa.Boolean, nullable=True),
        sa.Column("serves_migrants", sa.Boolean, nullable=True),
        sa.Column("opening_hours", sa.String(200), nullable=True),
        sa.Column("open_at_night", sa.Boolean, nullable=True),
        sa.Column("active_from", sa.Date, nullable=True),
        sa.Column("active_until", sa.Date, nullable=True),
        sa.Column("fingerprint", sa.BigInteger, nullable=False),
        sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.id"), nullable=True),
    )
    op.create_table(
        "hotspots",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("cell", sa.BigInteger, nullable=False),
        sa.Column("typology", sa.SmallInteger, nullable=False),
        sa.Column("days", sa.String(64), nullable=True),
        sa.Column("hours", sa.String(64), nullable=True),
        sa.Column("size_min", sa.Integer, nullable=True),
        sa.Column("size_max", sa.Integer, nullable=True),
        sa.Column("last_validated", sa.Date, nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("safety", sa.SmallInteger, nullable=True),
        sa.Column("fingerprint", sa.BigInteger, nullable=False),
        sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.id"), nullable=True),
    )
    op.create_table(
        "workers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("peer_educator", sa.String(64), nullable=False),
        sa.Column("team", sa.String(64), nullable=False),
        sa.UniqueConstraint("peer_educator", "team", name="uq_workers_code"),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("code_hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "visit_profiles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("profile_key", sa.BigInteger, nullable=False, unique=True),
        sa.Column("time_of_day", sa.SmallInteger, nullable=True),
        sa.Column("channel", sa.SmallInteger, nullable=False),
        sa.Column("gender", sa.SmallInteger, nullable=True),
        sa.Column("setting", sa.SmallInteger, nullable=True),
        sa.Column("male_condoms", sa.Integer, nullable=False),
        sa.Column("female_condoms", sa.Integer, nullable=False),
        sa.Column("lubricant", sa.Integer, nullable=False),
        sa.Column("info_material", sa.Integer, nullable=False),
        sa.Column("harm_reduction_kits", sa.Integer, nullable=False),
        sa.Column("referrals", sa.Integer, nullable=False),
        sa.Column("hiv_test", sa.SmallInteger, nullable=True),
        sa.Column("violence_type", sa.SmallInteger, nullable=True),
        sa.Column("perpetrator", sa.SmallInteger, nullable=True),
    )
    op.create_table(
        "visits",
        sa.Column("fingerprint", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.id"), nullable=False),
        sa.Column("visit_date", sa.Date, nullable=False),
        sa.Column("cell", sa.BigInteger, nullable=True),
        sa.Column("worker_id", sa.Integer, sa.ForeignKey("workers.id"), nullable=False),
        sa.Column("contact_id", sa.BigInteger, sa.ForeignKey("contacts.id"), nullable=True),
        sa.Column("profile_id", sa.Integer, sa.ForeignKey("visit_profiles.id"), nullable=False),
    )
    op.execute(
        "CREATE VIEW visit_details AS SELECT v.fingerprint, v.import_id, v.visit_date, v.cell, "
        "v.worker_id, v.contact_id, v.profile_id, p.time_of_day, p.channel, p.gender, p.setting, "
        "p.male_condoms, p.female_condoms, p.lubricant, p.info_material, p.harm_reduction_kits, "
        "p.referrals, p.hiv_test, p.violence_type, p.perpetrator "
        "FROM visits v JOIN visit_profiles p ON p.id = v.profile_id"
    )


def downgrade() -> None:
    op.execute("DROP VIEW visit_details")
    for table in (
        "visits",
        "visit_profiles",
        "contacts",
        "workers",
        "hotspots",
        "services",
        "imports",
        "area_cells",
        "districts",
        "meta",
    ):
        op.drop_table(table)
