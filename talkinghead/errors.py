"""The one exception type the CLI turns into a one-line message and exit code 2."""


class UserError(Exception):
    """Bad input or environment that the user can fix (missing file, no face, ...)."""
