"""What the store says about outreach.

Coverage, gaps, where to site a service, summaries and the peer educator's view. Depends on
:mod:`mapping.storage` and the core.
"""
