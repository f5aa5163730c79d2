"""Map layers and Leaflet maps drawn from the library's results.

The overview, coverage, services, plan and reach maps. Depends on :mod:`mapping.access`,
:mod:`mapping.analysis`, :mod:`mapping.storage` and the core; draws, never computes.
"""
