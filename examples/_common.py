"""Shared by the examples: a ``--fast`` flag (the test suite's smoke run) and a timer."""

import argparse
import time


def parse(description, **fast_defaults):
    """Parse ``--fast`` and return (args, a function printing elapsed time with a message)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--fast", action="store_true",
                        help="smallest settings (the test suite's smoke run)")
    args = parser.parse_args()
    start = time.perf_counter()

    def say(message):
        print(f"[{time.perf_counter() - start:6.1f} s] {message}", flush=True)

    return args, say
