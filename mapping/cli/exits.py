"""The command line's exit codes, shared by every command group.

0 on success (also when some rows were rejected), 2 for unusable input or arguments, 3 when the
store cannot be reached or used, 1 when a wipe could not destroy everything it tried to.
"""

#: The command did what it was asked (an import with rejected rows included: see its report).
EXIT_OK = 0
#: A file or argument that cannot be used at all; nothing was changed.
EXIT_UNUSABLE = 2
#: The store could not be reached or used (server down, wrong password, locked file).
EXIT_STORE = 3
