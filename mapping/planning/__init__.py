"""Who goes where.

Hotspots split between peer educators, routes for a shift, stored plans and run sheets.
Depends on :mod:`mapping.analysis`, :mod:`mapping.storage` and the core.
"""
