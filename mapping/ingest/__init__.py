"""Data coming in.

Files and forms read, columns recognised, rows checked, locations turned into cells, and
visits, districts and registries stored. Depends on :mod:`mapping.storage` and the core.
"""
