"""Errors that the user can act on.

Every failure that a user can cause (a wrong archive, a bad parameter, a bad
settings row) raises a subclass of :class:`UserError`. The command-line entry
points print its message on one line and exit non-zero instead of showing a
traceback.
"""


class UserError(Exception):
    """A failure with a one-line, actionable message for the user."""


class DataError(UserError):
    """The data set could not be obtained, verified or loaded."""


class ParameterError(UserError):
    """A training or settings parameter is outside its allowed range."""
