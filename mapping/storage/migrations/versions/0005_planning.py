"""Outreach planning: which peer educator covers each hotspot, and the routes planned per night.

A plan names hotspots (stored as cells already) in the order a team visits them, with the
arrival window at each. Nothing here holds a coordinate, a contact or a count of people.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assignments",
        sa.Column("hotspot_id", sa.String(64), sa.ForeignKey("hotspots.id"), primary_key=True),
        sa.Column("worker_id", sa.Integer, sa.ForeignKey("workers.id"), nullable=False),
        sa.Column("assigned_at", sa.DateTime, nullable=False),
        sa.Column("assigned_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("team", sa.String(64), nullable=False),
        sa.Column("plan_date", sa.Date, nullable=False),
        sa.Column("start_service", sa.String(64), nullable=False),
        sa.Column("shift_start", sa.DateTime, nullable=False),
        sa.Column("shift_end", sa.DateTime, nullable=False),
        sa.Column("travel", sa.String(200), nullable=False),
        sa.Column("travel_minutes", sa.Float, nullable=False),
        sa.Column("back_at", sa.DateTime, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.UniqueConstraint("team", "plan_date", name="uq_plans_team_date"),
    )
    op.create_table(
        "plan_stops",
        sa.Column("plan_id", sa.Integer, sa.ForeignKey("plans.id"), primary_key=True),
        sa.Column("seq", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("hotspot_id", sa.String(64), nullable=False),
        sa.Column("cell", sa.BigInteger, nullable=False),
        sa.Column("arrive", sa.DateTime, nullable=False),
        sa.Column("arrive_until", sa.DateTime, nullable=False),
        sa.Column("minutes_there", sa.SmallInteger, nullable=False),
        sa.Column("overdue", sa.Boolean, nullable=False),
    )
    op.create_index("ix_plan_stops_hotspot", "plan_stops", ["hotspot_id"])


def downgrade() -> None:
    op.drop_index("ix_plan_stops_hotspot", "plan_stops")
    op.drop_table("plan_stops")
    op.drop_table("plans")
    op.drop_table("assignments")
