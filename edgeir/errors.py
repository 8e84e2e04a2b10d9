"""The one exception type for user errors, and the one for SIGTERM.

The CLI prints an ``EdgeIRError`` as a single line and exits 1; anything else is a bug
and keeps its traceback.
"""


class EdgeIRError(Exception):
    """A user error: wrong option, bad file, illegal size. The message is one line that
    says what was expected and what was found."""


class Terminated(BaseException):
    """SIGTERM, raised by the CLI where the program is, so that partial writes are cleaned
    up and a bench writes what it measured on the way out, as for Ctrl-C (a
    BaseException, so no ``except Exception`` swallows it)."""
