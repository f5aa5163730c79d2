"""Peer educators are called peer educators: ``workers`` becomes ``peer_educators``.

In this domain "worker" reads as the sex workers the product protects, so the table of peer
educators and the columns that point to it are renamed: ``workers`` → ``peer_educators``,
``visits.worker_id`` and ``assignments.worker_id`` → ``peer_educator_id``, the unique
constraint ``uq_workers_code`` → ``uq_peer_educators_code``. Only names change: every row, id
and reference stays as it was. The ``visit_details`` view is built again with the new column.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_VIEW = (
    "CREATE VIEW visit_details AS SELECT v.fingerprint, v.import_id, v.visit_date, v.cell, "
    "v.{who}, v.contact_id, v.profile_id, p.time_of_day, p.channel, p.gender, p.setting, "
    "p.male_condoms, p.female_condoms, p.lubricant, p.info_material, p.harm_reduction_kits, "
    "p.referrals, p.hiv_test, p.violence_type, p.perpetrator "
    "FROM visits v JOIN visit_profiles p ON p.id = v.profile_id"
)


def _rename(old_table: str, new_table: str, old_column: str, new_column: str) -> None:
    bind = op.get_bind()
    op.execute("DROP VIEW visit_details")
    op.rename_table(old_table, new_table)
    for table in ("visits", "assignments"):
        op.alter_column(table, old_column, new_column_name=new_column)
    old_unique, new_unique = f"uq_{old_table}_code", f"uq_{new_table}_code"
    if bind.dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {new_table} RENAME CONSTRAINT {old_unique} TO {new_unique}")
        op.execute(f"ALTER INDEX {old_table}_pkey RENAME TO {new_table}_pkey")
        op.execute(f"ALTER SEQUENCE {old_table}_id_seq RENAME TO {new_table}_id_seq")
        for key in sa.inspect(bind).get_foreign_keys("assignments"):
            if key["referred_table"] == new_table and key["name"]:
                op.execute(
                    f"ALTER TABLE assignments RENAME CONSTRAINT {key['name']} "
                    f"TO assignments_{new_column}_fkey"
                )
    else:
        # SQLite cannot rename a constraint: the table is built again under the new name (its
        # rows, ids and the references to it are kept; SQLite does not enforce foreign keys)
        with op.batch_alter_table(new_table, recreate="always") as batch:
            batch.drop_constraint(old_unique, type_="unique")
            batch.create_unique_constraint(new_unique, ["peer_educator", "team"])
    op.execute(_VIEW.format(who=new_column))


def upgrade() -> None:
    _rename("workers", "peer_educators", "worker_id", "peer_educator_id")


def downgrade() -> None:
    _rename("peer_educators", "workers", "peer_educator_id", "worker_id")
