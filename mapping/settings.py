"""Typed, documented defaults, overridable per deployment by environment variables.

Settings are read when a function runs and are never changed at run time: Streamlit shares
module globals between all users, so per-user state belongs in arguments, not here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any

ENV_PREFIX = "OUTREACH_MAP_"


@dataclass(frozen=True)
class Settings:
    """Deployment-wide defaults.

    Each field can be overridden by an environment variable named ``OUTREACH_MAP_`` followed by
    the field name in capitals, e.g. ``OUTREACH_MAP_DEFAULT_RESOLUTION=7``.
    """

    #: H3 resolution cells are stored at (8 is about 0.74 km², a few blocks).
    default_resolution: int = 8
    #: Coarsest resolution a workspace may store (6 is about 36 km²).
    min_resolution: int = 6
    #: Finest resolution a workspace may store; 10 and finer name a single venue or doorway.
    max_resolution: int = 9
    #: Most cells an area may need at its resolution: a district file that would need more is
    #: refused at ``init`` before any cell is computed (2,000,000 resolution-8 cells cover about
    #: 1.5 million km², a large country; ``init`` holds all of them in memory at once, about
    #: 0.6 GB per million cells; docs/areas.md).
    max_area_cells: int = 2_000_000
    #: A district whose outline is invalid (e.g. crosses itself) is repaired on reading only
    #: if that changes its area by at most this share; past it, the file is refused, because
    #: the repair is guessing which outline was meant (docs/areas.md).
    max_repair_area_change: float = 0.01
    #: Hour (0-23) at which "day" starts.
    day_starts: int = 6
    #: Hour at which "evening" starts.
    evening_starts: int = 18
    #: Hour at which "night" starts (night runs to ``day_starts`` the next morning).
    night_starts: int = 22
    #: Longest text accepted in a code field (peer educator, team, contact code, ids).
    max_text_length: int = 64
    #: Earliest visit date accepted; older dates are nearly always a typo in the year.
    earliest_year: int = 2000
    #: Rows processed per step of an import (the progress bar advances by this much).
    import_batch_rows: int = 250_000

    # --- coverage analytics (docs/coverage.md gives the reason for each default) ---
    #: Days covered by the default period ``last-90-days``.
    default_period_days: int = 90
    #: A hotspot counts as recently visited if a visit fell within this many days.
    recent_days: int = 30
    #: A hotspot is overdue when no visit fell within this many weeks (a missed monthly visit
    #: plus a week's grace; never shorter than ``recent_days``).
    overdue_weeks: int = 5
    #: Workload norm: estimated sex workers per peer educator (Kenya's national norm, 90:1).
    workload_norm: int = 90
    #: A service is within reach of a hotspot at or under this many minutes of travel.
    reach_minutes: int = 30
    #: Travel speed in km/h (4.5: an adult walking; set about 15 for public transport).
    travel_speed_kmh: float = 4.5
    #: Ratio of the distance travelled on streets to the straight line (urban circuity).
    detour_factor: float = 1.3
    #: Least weekly overlap, in minutes, of a service's opening hours with a hotspot's hours.
    min_overlap_minutes: int = 60
    #: Population-based prior when a district has no registered hotspot with a size:
    #: sex workers per 1,000 residents, low and high (women 15-49 are about 26 % of residents,
    #: 0.4-1.2 % of them sell sex in Latin American estimates).
    prior_per_1000_min: float = 1.0
    prior_per_1000_max: float = 3.0
    #: Path of an OpenStreetMap extract (.osm) or OSMnx .graphml for travel along streets;
    #: empty means straight-line distance times the detour factor.
    road_network: str = ""
    #: Time zone where the programme works (e.g. America/Lima): the zone ``init`` records in a
    #: new workspace when given no ``--timezone``, and the clock of a workspace made before
    #: zones were recorded (mapping/clock.py); a recorded zone wins. Empty: the server's.
    timezone: str = ""
    #: Service types whose access enters the gap score, comma-separated.
    key_service_types: str = "hiv_testing,sti_clinic,prep_pep,drop_in_centre"

    # --- outreach planning (docs/planning.md gives the reason for each default) ---
    #: Minutes planned at every stop, the same for each: finding the place, a safety check, the
    #: talks and supplies. One fixed stay, never one that grows with a hotspot's size estimate:
    #: arrival times would then tell anyone holding a peer educator's plan how many people work
    #: at each place (docs/privacy.md). 30 is about the mean stay the earlier size-based rule gave
    #: on the Lima demo's hotspots (docs/planning.md).
    stop_minutes: int = 30
    #: Priority of an overdue hotspot, as a multiple of its size.
    overdue_priority: float = 3.0
    #: Further multiple for a hotspot a plan included that no visit has covered since.
    missed_priority: float = 1.5
    #: Seconds the route search may spend improving a plan (all teams of a night together).
    plan_search_seconds: float = 3.0
    #: Stop the route search after this many solutions (0: only ``plan_search_seconds``); a
    #: limit reached first makes a plan repeatable on any machine (scripts/compare_cli.py).
    plan_search_solutions: int = 0

    # --- supplies: one standard kit, what a peer hands over at a typical contact ---
    #: The "standard kit" preset of Log a visit, and the unit a peer's run sheet counts supplies
    #: in (kits, never people: docs/planning.md gives the reason and the source of the norm).
    kit_male_condoms: int = 10
    kit_lubricant: int = 10
    kit_female_condoms: int = 1
    #: Standard kits to bring per person a hotspot's size estimate counts, per visit: the norm
    #: behind a coordinator's run sheet (kits per stop = estimated people x this). A peer
    #: educator's copy never shows a per-stop amount (docs/planning.md gives the source).
    kits_per_person: float = 1.0

    # --- accounts, sessions and the lock (docs/security.md gives the reasons) ---
    #: A session not used for this many minutes locks: only the PIN opens it again (a phone
    #: put down at an outreach site); a session without a PIN ends instead. A fraction is
    #: allowed (0.1 is six seconds, for a test).
    lock_idle_minutes: float = 5.0
    #: A session (a shift) ends this many hours after the password was typed, used or not:
    #: then, and on another device, only the full password opens the app again.
    shift_hours: float = 10.0
    #: Wrong PINs in a row that end the shift (a full sign-out; the password is needed again).
    pin_tries: int = 3
    #: Failed sign-ins to one account, within ``sign_in_window_minutes``, before each further
    #: attempt must wait (the wait doubles with every further failure).
    max_failed_sign_ins: int = 5
    sign_in_window_minutes: int = 15

    # --- disclosure control of everything that leaves the organisation ---
    #: k: a released figure never rests on fewer people than this (5 at the least).
    min_count: int = 11
    #: Privacy loss (ε) of one release: one period, one level, one measure.
    epsilon_per_release: float = 1.0
    #: Privacy loss (ε) all releases touching one calendar quarter may spend together.
    epsilon_per_quarter: float = 3.0
    #: δ of one release: the chance its guarantee fails (far below 1 / number of people).
    delta_per_release: float = 1e-7
    #: Contribution bound: the districts or cells one person counts in, per release period.
    max_groups_per_person: int = 3
    #: Contribution bound: the contacts (visits) of one person counted per month.
    max_contacts_per_month: int = 5

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Return the defaults with any ``OUTREACH_MAP_*`` environment overrides applied.

        Examples
        --------
        >>> Settings.from_env({"OUTREACH_MAP_DEFAULT_RESOLUTION": "7"}).default_resolution
        7
        """
        env = os.environ if environ is None else environ
        for name, instead in RENAMED.items():
            if ENV_PREFIX + name.upper() in env:
                raise ValueError(
                    f"{ENV_PREFIX}{name.upper()}={env[ENV_PREFIX + name.upper()]!r} is no longer "
                    f"read — {instead} (docs/security.md), and unset it"
                )
        changes: dict[str, Any] = {}
        for field in fields(cls):
            raw = env.get(ENV_PREFIX + field.name.upper())
            if raw is None:
                continue
            kind = type(getattr(cls, field.name))
            if kind is str:
                changes[field.name] = raw.strip()
                continue
            try:
                changes[field.name] = kind(raw)
            except ValueError as exc:
                what = "a whole number" if kind is int else "a number"
                raise ValueError(
                    f"{ENV_PREFIX}{field.name.upper()}={raw!r} is not {what}"
                    f" — set it to {what} or unset it"
                ) from exc
        return replace(cls(), **changes)


#: Settings that were replaced, and what to set instead: one still set in the environment is
#: refused rather than ignored, since ignoring it could lengthen a session a deployment shortened.
RENAMED = {
    "session_idle_minutes": (
        "an idle session now locks after OUTREACH_MAP_LOCK_IDLE_MINUTES (default 5) and a PIN "
        "opens it again; set that instead"
    ),
    "session_max_hours": (
        "a session now lasts a shift: set OUTREACH_MAP_SHIFT_HOURS (default 10) instead"
    ),
}

#: The settings of access and disclosure control: a change of any of them is audited.
ACCESS_SETTINGS = (
    "lock_idle_minutes",
    "shift_hours",
    "pin_tries",
    "max_failed_sign_ins",
    "sign_in_window_minutes",
    "min_count",
    "epsilon_per_release",
    "epsilon_per_quarter",
    "delta_per_release",
    "max_groups_per_person",
    "max_contacts_per_month",
)


def get_settings() -> Settings:
    """Return the settings in force now (defaults plus environment overrides)."""
    return Settings.from_env()
