"""The one exception type for user errors.

The CLI prints an ``EdgeIRError`` as a single line and exits 1; anything else is a bug
and keeps its traceback.
"""


class EdgeIRError(Exception):
    """A user error: wrong option, bad file, illegal size. The message is one line that
    says what was expected and what was found."""
