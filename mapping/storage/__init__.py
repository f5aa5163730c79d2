"""Where data lives.

The store's tables and migrations, workspaces, the audit log, copying between engines and
the emergency wipe. Depends only on the core modules of :mod:`mapping`.
"""
