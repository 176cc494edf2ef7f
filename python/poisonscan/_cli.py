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
    try:
        # Arguments that are not UTF-8 reach the engine as the bytes they were
        # (os.fsencode), as they reach the binary.
        code = _native.cli_main(["poisonscan", *sys.argv[1:]])
    except Exception as e:  # an engine bug turned into ScanError: the binary's exit code 2
        print(f"error: {e}", file=sys.stderr)
        code = 2
    sys.stdout.flush()
    sys.exit(code)


if __name__ == "__main__":
    main()
