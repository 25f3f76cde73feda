"""Run tests/emulator/bws_emulator.py with TCP_NODELAY on its connections (as real servers do).

The emulator writes an answer's headers and body in two sends. Without TCP_NODELAY, Nagle's
algorithm holds the body until the client acknowledges the headers, and the client delays
that acknowledgement: every request after the first on a keep-alive connection then waits
about 40 ms, which would be measured as our client's time. ``BenchEmulator`` starts this
wrapper instead of the emulator script; arguments and output are the emulator's.
"""

import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "emulator"))

import bws_emulator  # noqa: E402
from control import Emulator  # noqa: E402


class BenchEmulator(Emulator):
    """``control.Emulator`` running this wrapper."""

    def command(self):
        cmd = super().command()
        cmd[1] = str(pathlib.Path(__file__).resolve())
        return cmd


if __name__ == "__main__":
    bws_emulator.Handler.disable_nagle_algorithm = True
    sys.exit(bws_emulator.main())
