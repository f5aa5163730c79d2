"""What a workspace holds, in numbers: for the ``summary`` command and the app's header."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from mapping.storage import store
from mapping.storage.workspace import Workspace


def workspace_summary(workspace: Workspace) -> dict[str, Any]:
    """Return counts of districts, services, hotspots, visits and contacts, and the imports.

    ``area_cells`` counts the cells that make the area (for the grid's size), not a district of
    any visit: nothing here is counted by district.
    """
    v = store.visits.c
    with workspace.connect() as c:

        def count(query: sa.Select[Any]) -> int:
            return int(c.execute(query).scalar_one())

        first, last = c.execute(
            sa.select(sa.func.min(v.visit_date), sa.func.max(v.visit_date))
        ).one()
        facts: dict[str, Any] = {
            "workspace": str(workspace.path),
            "area": workspace.name,
            "resolution": workspace.resolution,
            "districts": count(sa.select(sa.func.count()).select_from(store.districts)),
            "area_cells": count(sa.select(sa.func.count()).select_from(store.area_cells)),
            "services": count(sa.select(sa.func.count()).select_from(store.services)),
            "sensitive_services": count(
                sa.select(sa.func.count())
                .select_from(store.services)
                .where(store.services.c.sensitive)
            ),
            "hotspots": count(sa.select(sa.func.count()).select_from(store.hotspots)),
            "visits": count(sa.select(sa.func.count()).select_from(store.visits)),
            "visits_without_location": count(
                sa.select(sa.func.count()).select_from(store.visits).where(v.cell.is_(None))
            ),
            "visited_cells": count(sa.select(sa.func.count(sa.distinct(v.cell)))),
            "unique_contacts": count(sa.select(sa.func.count(sa.distinct(v.contact_id)))),
            "peer_educators": count(sa.select(sa.func.count()).select_from(store.peer_educators)),
            "first_visit": first,
            "last_visit": last,
            "imports": [
                dict(row._mapping)
                for row in c.execute(
                    sa.select(
                        store.imports.c.id,
                        store.imports.c.kind,
                        store.imports.c.source_name,
                        store.imports.c.imported_at,
                        store.imports.c.rows_read,
                        store.imports.c.accepted,
                        store.imports.c.duplicates,
                        store.imports.c.rejected,
                    ).order_by(store.imports.c.id)
                )
            ],
        }
    return facts


def summary_text(facts: dict[str, Any]) -> str:
    """Return the summary as a few lines of text."""
    lines = [
        f"workspace {facts['workspace']} — {facts['area']}, "
        f"cells at resolution {facts['resolution']}",
        f"districts: {facts['districts']} ({facts['area_cells']} cells)",
        f"services: {facts['services']} "
        f"({facts['sensitive_services']} sensitive, shown as cells only)",
        f"hotspots: {facts['hotspots']}",
        f"visits: {facts['visits']} ({facts['visits_without_location']} without location) "
        f"in {facts['visited_cells']} cells, {facts['first_visit']} to {facts['last_visit']}",
        f"unique contacts: {facts['unique_contacts']}; "
        f"peer educators/teams: {facts['peer_educators']}",
        f"imports: {len(facts['imports'])}",
    ]
    for item in facts["imports"]:
        lines.append(
            f"  #{item['id']} {item['kind']} {item['source_name']}: read {item['rows_read']}, "
            f"{item['accepted']} accepted, {item['duplicates']} duplicates, "
            f"{item['rejected']} rejected"
        )
    return "\n".join(lines)
