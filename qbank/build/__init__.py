"""One build of a bank, and what keeps it safe.

builder.py builds one bank: what is out of date (state.py), the render, the writers, the
lock and the outputs committed together. run.py builds several into one output folder,
holding the build locks of the folders it writes in. files.py writes every file whole and
holds those locks. diagnostics.py says in one line what went wrong with a path or the disk,
and how to fix it.

Nothing is imported here: the lock (lock.py) is saved through files.py, and the builder
imports the lock, so a package that imported its modules would import itself in a cycle.
"""
