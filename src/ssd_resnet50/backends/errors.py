"""Errors the backends share."""


class BackendUnavailable(ImportError):
    """The requested backend cannot run here; the message says what to install."""
