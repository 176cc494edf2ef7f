"""The ``poisonscan`` command the wheel installs: the same command line as the cargo-built
binary (one Rust function, ``poisonscan::cli::main``), with the same exit codes."""

from __future__ import annotations

import signal
import sys

from . import _native


def main() -> None:
    # Ctrl-C stops a scan at once, as it stops the binary (Python's handler would wait for
    # the engine to return).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    code = _native.cli_main(["poisonscan", *sys.argv[1:]])
    sys.stdout.flush()
    sys.exit(code)


if __name__ == "__main__":
    main()
