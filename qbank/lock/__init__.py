"""The bank's lock file: when each piece of content last changed, committed beside the bank.

It records, per item (and for the bank's text, its deck's name and each templates/ folder), a
hash of the content and the time it was first built with that hash; that time is part of the
source, like a package lock file's versions. `entries` is what it holds, `file` how it is read
(and repaired) and written, `store` the lock beside a bank, `dating` the policy that gives a
build its dates.
"""

from .dating import Dates, RetiredItem, date_bank
from .entries import ItemEntry, LockEntries
from .file import LockError
from .store import Lock, lock_path

__all__ = ["Dates", "ItemEntry", "Lock", "LockEntries", "LockError", "RetiredItem", "date_bank", "lock_path"]
