"""Who may see what.

Accounts and sessions, differential privacy for everything released, and the funder's reach.
Depends on :mod:`mapping.analysis`, :mod:`mapping.storage` and the core.
"""
