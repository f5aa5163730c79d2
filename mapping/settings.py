"""Typed, documented defaults, overridable per deployment by environment variables.

Settings are read when a function runs and are never changed at run time: Streamlit shares
module globals between all users, so per-user state belongs in arguments, not here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace

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

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Return the defaults with any ``OUTREACH_MAP_*`` environment overrides applied.

        Examples
        --------
        >>> Settings.from_env({"OUTREACH_MAP_DEFAULT_RESOLUTION": "7"}).default_resolution
        7
        """
        env = os.environ if environ is None else environ
        changes: dict[str, int] = {}
        for field in fields(cls):
            raw = env.get(ENV_PREFIX + field.name.upper())
            if raw is not None:
                try:
                    changes[field.name] = int(raw)
                except ValueError as exc:
                    raise ValueError(
                        f"{ENV_PREFIX}{field.name.upper()}={raw!r} is not a whole number"
                        " — set it to an integer or unset it"
                    ) from exc
        return replace(cls(), **changes)


def get_settings() -> Settings:
    """Return the settings in force now (defaults plus environment overrides)."""
    return Settings.from_env()
