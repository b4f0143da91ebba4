"""`python -m async_kernel`: the command `kernel.json` runs (`-f CONNECTION_FILE`).

Kept to one import: the command line module, which imports the kernel only to start it.
"""

import sys

from async_kernel.cli._main import main

if __name__ == "__main__":
    sys.exit(main())
