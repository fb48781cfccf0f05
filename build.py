#!/usr/bin/env python3
"""Build every bank in source/ into dist/ (see README.md, or `python build.py --help`)."""

import sys

from qbank.cli import main

if __name__ == "__main__":
    sys.exit(main())
