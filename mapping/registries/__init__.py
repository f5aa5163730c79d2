"""The hotspot and service registries as a coordinator reads and edits them.

Depends on :mod:`mapping.ingest`, :mod:`mapping.analysis`, :mod:`mapping.storage` and the core.
"""
