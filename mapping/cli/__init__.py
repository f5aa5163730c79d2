"""The ``outreach-map`` command line and the demo workspace.

One module per command group. The top of the tree: it may import any other part.
"""
