"""The demo workspace: real Lima + Callao districts and facilities, synthetic outreach visits.

The visit generator is deterministic for a given seed and end date. Its synthetic points exist
only in memory and go through the real import pipeline, which turns them into cells, so the
demo exercises the same code path as a programme's own files and writes no coordinate.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from pathlib import Path

import h3
import numpy as np
import polars as pl
import sqlalchemy as sa

from mapping import clock
from mapping.access.accounts import create_demo_accounts, is_demo
from mapping.ingest.area import (
    districts_from_file,
    init_area,
    small_districts,
    small_districts_warning,
)
from mapping.ingest.readers import RawTable, mapping_from_file
from mapping.ingest.registry_files import hotspots_from_file, services_from_file
from mapping.ingest.visits import visits_from_table
from mapping.settings import Settings, get_settings
from mapping.storage import store
from mapping.storage.workspace import (
    CONFIG_NAME,
    Workspace,
    is_wiped,
    open_workspace,
    record_timezone,
    upgrade_store,
)

DATA = Path(__file__).resolve().parents[2] / "data"
DEMO_NAME = "Lima + Callao (demo)"
DEMO_SEED = 20261122
#: The demo programme's time zone, recorded in its workspace as ``init --timezone`` would.
DEMO_TIMEZONE = "America/Lima"

#: Where hotspots cluster: (label, latitude, longitude, spread in degrees, typology, team).
#: Commercial and nightlife areas of Lima and Callao, plus a stretch of the Panamericana Norte.
CLUSTERS: tuple[tuple[str, float, float, float, str, str], ...] = (
    ("Cercado de Lima", -12.0500, -77.0330, 0.006, "street", "T1"),
    ("La Victoria", -12.0660, -77.0170, 0.006, "lodge", "T1"),
    ("Lince", -12.0850, -77.0360, 0.004, "bar", "T2"),
    ("Miraflores", -12.1200, -77.0300, 0.005, "strip_club", "T2"),
    ("Surquillo", -12.1130, -77.0160, 0.004, "massage_parlour", "T2"),
    ("San Martin de Porres", -12.0100, -77.0800, 0.006, "bar", "T3"),
    ("Los Olivos", -11.9900, -77.0700, 0.006, "lodge", "T3"),
    ("Comas", -11.9400, -77.0500, 0.005, "street", "T3"),
    ("San Juan de Lurigancho", -11.9800, -77.0050, 0.007, "bar", "T4"),
    ("Ate", -12.0300, -76.9300, 0.006, "lodge", "T4"),
    ("Callao", -12.0550, -77.1200, 0.006, "brothel", "T5"),
    ("Chorrillos", -12.1700, -77.0200, 0.005, "street", "T6"),
    ("Villa El Salvador", -12.2100, -76.9400, 0.006, "home_based", "T6"),
    ("Panamericana Norte", -11.8900, -77.0650, 0.010, "highway", "T5"),
)
TEAMS = ("T1", "T2", "T3", "T4", "T5", "T6")
#: Synthetic visits a day, and contact codes per hotspot: enough people per district and
#: quarter for the differentially private reach (threshold about 73, docs/disclosure.md) to
#: show most visited districts.
VISITS_PER_DAY = 120
CONTACTS_PER_HOTSPOT = 100


def _hotspot_registry(rng: np.random.Generator, end: dt.date) -> pl.DataFrame:
    rows = []
    for number, (label, lat, lng, spread, typology, team) in enumerate(CLUSTERS, start=1):
        count = int(rng.integers(6, 14))
        cells = {
            h3.latlng_to_cell(float(la), float(lo), 8)
            for la, lo in zip(
                rng.normal(lat, spread, count * 2), rng.normal(lng, spread, count * 2), strict=True
            )
        }
        for index, cell in enumerate(sorted(cells)[:count]):
            size_min = int(rng.integers(3, 25))
            night = typology not in ("massage_parlour", "home_based")
            rows.append(
                {
                    "id": f"H{number:02d}-{index + 1:02d}",
                    "cell": cell,
                    "typology": typology,
                    "days": "Mo-Su" if typology in ("street", "highway") else "Th-Su",
                    "opening_hours": "20:00-04:00" if night else "10:00-22:00",
                    "size_min": size_min,
                    "size_max": size_min + int(rng.integers(2, 20)),
                    "last_validated": (
                        end - dt.timedelta(days=int(rng.integers(10, 400)))
                    ).isoformat(),
                    "active": "yes",
                    "safety": str(
                        rng.choice(
                            ["none", "police_harassment", "violence", "raids"],
                            p=[0.5, 0.3, 0.1, 0.1],
                        )
                    ),
                    "team": team,
                    "cluster": label,
                }
            )
    return pl.DataFrame(rows)


def synthetic_visits(
    registry: pl.DataFrame, *, seed: int = DEMO_SEED, end: dt.date | None = None, days: int = 365
) -> pl.DataFrame:
    """Return a year of synthetic visits as text columns, the way a field export would come.

    The programme has six teams of four peer educators (:data:`VISITS_PER_DAY` visits a day),
    mostly evening and night outreach, returning contacts identified by synthetic codes, 12 %
    phone/SMS/online contacts without location, and three stories for the coverage tools to
    find: hotspots in Villa El Salvador not visited for months (overdue), an unregistered
    cluster in Ate in the last two months (emerging), and a Callao hotspot whose visits stop
    after a raid (fading).
    """
    rng = np.random.default_rng(seed)
    end = end or clock.today(Settings(timezone=DEMO_TIMEZONE))
    start = end - dt.timedelta(days=days)
    hotspots = registry.to_dicts()
    n_hot = len(hotspots)
    weights = np.array([h["size_max"] for h in hotspots], dtype=float)
    n = VISITS_PER_DAY * days
    pick = rng.choice(n_hot, size=n, p=weights / weights.sum())
    day_offset = rng.integers(0, days, size=n)
    dates = np.array([start + dt.timedelta(days=int(d) + 1) for d in range(days)])[day_offset]
    cluster = np.array([h["cluster"] for h in hotspots])[pick]
    recent = day_offset > days - 100
    keep = ~((cluster == "Villa El Salvador") & recent)
    raided = np.array([h["id"] for h in hotspots])[pick] == "H11-01"
    keep &= ~(raided & (day_offset > days - 60))
    pick, dates, day_offset = pick[keep], dates[keep], day_offset[keep]
    n = len(pick)
    centres = np.array([h3.cell_to_latlng(h["cell"]) for h in hotspots])
    lat = centres[pick, 0] + rng.normal(0, 0.0008, n)
    lng = centres[pick, 1] + rng.normal(0, 0.0008, n)
    teams = np.array([h["team"] for h in hotspots])[pick]
    pe_index = rng.integers(1, 5, size=n)
    peer = np.char.add(np.char.add("PE-", teams), np.char.add("-", pe_index.astype(str)))
    contacts_per_hotspot = CONTACTS_PER_HOTSPOT
    local = np.minimum(rng.zipf(1.6, size=n), contacts_per_hotspot) - 1
    codes = np.array(
        [
            f"{_letters(rng)}{int(y):02d}"
            for y in rng.integers(60, 99, size=n_hot * contacts_per_hotspot)
        ]
    )
    contact = codes[pick * contacts_per_hotspot + local]
    channel = rng.choice(
        ["in_person", "phone", "sms", "online"], size=n, p=[0.88, 0.06, 0.03, 0.03]
    )
    hour = rng.choice(
        [19, 20, 21, 22, 23, 0, 1, 2, 15, 16],
        size=n,
        p=[0.08, 0.12, 0.14, 0.16, 0.15, 0.12, 0.08, 0.05, 0.05, 0.05],
    )
    minute = rng.integers(0, 60, size=n)
    gender = rng.choice(
        ["mujer", "mujer trans", "hombre", "no binario", "hombre trans"],
        size=n,
        p=[0.74, 0.16, 0.07, 0.02, 0.01],
    )
    referral = rng.choice(
        ["", "prueba_vih", "its", "prep", "legal", "violencia", "prueba_vih its"],
        size=n,
        p=[0.82, 0.06, 0.04, 0.03, 0.02, 0.01, 0.02],
    )
    test = rng.choice(["", "ofrecida", "realizada"], size=n, p=[0.74, 0.18, 0.08])
    violence = rng.random(n) < 0.03
    perpetrator = np.where(
        violence,
        rng.choice(
            ["cliente", "policia", "pareja", "administrador", "otro"],
            size=n,
            p=[0.4, 0.35, 0.1, 0.1, 0.05],
        ),
        "",
    )
    located = channel == "in_person"
    frame = pl.DataFrame(
        {
            "fecha": [d.isoformat() for d in dates],
            "hora": [f"{h:02d}:{m:02d}" for h, m in zip(hour, minute, strict=True)],
            "educadora_par": peer,
            "equipo": teams,
            "codigo_unico": contact,
            "genero": gender,
            "modalidad": np.where(channel == "in_person", "presencial", channel),
            "lugar": np.where(located, np.where(rng.random(n) < 0.6, "calle", "local"), "en_linea"),
            "latitud": np.where(located, np.round(lat, 6).astype(str), ""),
            "longitud": np.where(located, np.round(lng, 6).astype(str), ""),
            "condones": rng.poisson(8, n).astype(str),
            "condones_femeninos": np.where(rng.random(n) < 0.1, "2", "0"),
            "lubricante": rng.poisson(2, n).astype(str),
            "material_informativo": rng.integers(0, 3, n).astype(str),
            "referido_a": referral,
            "prueba_vih": test,
            "violencia_reportada": np.where(violence, "si", "no"),
            "perpetrador": perpetrator,
        }
    )
    emerging = _emerging_cluster(rng, end)
    return pl.concat([frame, emerging], how="diagonal").sort("fecha")


def _letters(rng: np.random.Generator) -> str:
    return "".join(rng.choice(list("ABCDEFGHIJKLMNOPRSTUVY"), size=4))


def _emerging_cluster(rng: np.random.Generator, end: dt.date) -> pl.DataFrame:
    n = 160
    # inside Ate, 1.2 km from its border, so that the cluster's visits are Ate's by their own
    # points (the first planted spot, -12.018, lay 240 m inside Lurigancho)
    lat = rng.normal(-12.0320, 0.002, n)
    lng = rng.normal(-76.9100, 0.002, n)
    dates = [(end - dt.timedelta(days=int(d))).isoformat() for d in rng.integers(1, 60, n)]
    return pl.DataFrame(
        {
            "fecha": dates,
            "hora": ["22:15"] * n,
            "educadora_par": ["PE-T4-2"] * n,
            "equipo": ["T4"] * n,
            "codigo_unico": [f"{_letters(rng)}{int(y)}" for y in rng.integers(80, 99, n)],
            "genero": rng.choice(["mujer", "mujer trans"], size=n).tolist(),
            "modalidad": ["presencial"] * n,
            "lugar": ["calle"] * n,
            "latitud": np.round(lat, 6).astype(str).tolist(),
            "longitud": np.round(lng, 6).astype(str).tolist(),
            "condones": rng.poisson(6, n).astype(str).tolist(),
        }
    )


def build_demo(
    path: Path,
    *,
    echo: Callable[[str], object] = lambda _: None,
    end: dt.date | None = None,
    db_url: str | None = None,
) -> Workspace:
    """Build the demo workspace at ``path`` (or reuse it if it is already built).

    ``db_url`` puts its store on a server (a new, empty PostgreSQL database) instead of the
    SQLite file in the folder.
    """
    if (path / CONFIG_NAME).exists() and not is_wiped(path):
        echo(f"using the demo workspace at {path}")
        workspace = open_workspace(path)
        upgrade_store(workspace)
        with workspace.begin() as connection:
            if workspace.name == DEMO_NAME and not is_demo(connection):
                # a demo built by an earlier version, before accounts existed
                codes = connection.execute(sa.select(store.peer_educators.c.team).distinct())
                create_demo_accounts(connection, sorted(str(c) for (c,) in codes))
        return workspace
    echo(f"building the demo workspace at {path} ...")
    districts = districts_from_file(
        DATA / "lima_callao_districts_simplified.geojson",
        id_column="district_id",
        name_column="district",
        population_column="pop2020_est",
    )
    workspace = init_area(path, districts, name=DEMO_NAME, resolution=8, db_url=db_url)
    workspace = record_timezone(workspace, DEMO_TIMEZONE)
    small = small_districts_warning(
        small_districts(districts, 8), max_resolution=get_settings().max_resolution
    )
    if small:
        echo(f"warning: {small}")
    result = services_from_file(
        workspace,
        DATA / "lima_callao_facilities_minsa_ipress.csv",
        mapping=mapping_from_file(DATA / "minsa_ipress_mapping.toml"),
    )
    echo(f"MINSA facilities: {result.summary()}")
    result = services_from_file(workspace, DATA / "demo_programme_services.csv")
    echo(f"programme services: {result.summary()}")
    end = end or clock.today(workspace)
    registry = _hotspot_registry(np.random.default_rng(DEMO_SEED), end)
    with tempfile.TemporaryDirectory() as scratch:
        # the registry holds cells only, never points, so it may touch the disk
        registry_file = Path(scratch) / "hotspots.csv"
        registry.drop("team", "cluster").write_csv(registry_file)
        result = hotspots_from_file(workspace, registry_file)
    echo(f"hotspots: {result.summary()}")
    visits = synthetic_visits(registry, end=end)
    table = RawTable(frame=visits.with_row_index("__row", offset=2), source_name="synthetic-visits")
    result = visits_from_table(workspace, table)
    echo(f"synthetic visits: {result.summary()}")
    with workspace.begin() as connection:
        create_demo_accounts(connection, sorted(set(registry["team"].to_list())))
    echo("demo accounts: demo-admin, demo-coordinator, demo-peer, demo-funder")
    return workspace
