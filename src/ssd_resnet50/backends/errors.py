"""Errors the backends share."""


class BackendUnavailable(ImportError):
    """The requested backend cannot run here; the message says what to install."""


class PrecisionUnavailable(BackendUnavailable):
    """The requested precision cannot run here (the CPU lacks it, or the backend has no such mode);
    the message says what can."""


class QuantizedModelError(ValueError):
    """An int8 model directory that is damaged, incomplete or made for other weights; the message
    names the directory and how to make it again."""
