"""Drive Harbour from the command line, as each actor would: ``python starter.py --help``.

The commands live in ``cli/`` (one module per actor or concept); this file is the entry point
the README, the docs and the tests call.
"""

from __future__ import annotations

import os
import sys

from cli import main

__all__ = ["main"]

if __name__ == "__main__":
    status = main()
    # Everything is done and the database engine disposed; skip interpreter finalisation,
    # where the Temporal client's Rust threads can abort the process (sdk-python issue 300:
    # "PyGILState_Release ... must be current") after the command has already succeeded.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
