"""Errors shared by the domain and every entry point (the API answers them 409)."""


class Conflict(Exception):
    """The request does not fit the current state (resuming a stopped enrollment, lifting an
    unsubscribe)."""
