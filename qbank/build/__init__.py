"""One build of a bank, and what keeps it safe.

builder.py builds one bank: what is out of date, the render, the writers, the lock and the
outputs committed together. run.py builds several into one output folder, holding the build
locks of the folders it writes in. diagnostics.py says in one line what went wrong with a
path or the disk, and how to fix it.
"""
