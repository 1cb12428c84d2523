"""Errors that are the user's to fix.

`UserError` is raised anywhere in the project for bad input (a missing folder, a bad option value, a
corrupt prediction file). The `bench` CLI prints its message as one line and exits non-zero, with no
traceback; anything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A mistake in the user's input, reported as one clear sentence."""
