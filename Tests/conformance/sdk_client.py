"""What every SDK client script here shares: its arguments, and how it fails.

A script prints one JSON line with what its client saw, and exits 1, printing why on standard
output (where the test shows it), when the SDK raised or an answer was not what a client of
that API expects.
"""
import sys


def report_and_exit(kind, value, traceback):
    print(f"{kind.__name__}: {value}")
    sys.exit(1)


def fail(why):
    print(why)
    sys.exit(1)


def arguments():
    """BASE_URL API_KEY MODEL, with any exception reported as a failure from here on."""
    sys.excepthook = report_and_exit
    if len(sys.argv) != 4:
        fail(f"usage: {sys.argv[0]} BASE_URL API_KEY MODEL")
    return sys.argv[1:4]
