"""One third-party warning the package hides, and why."""

from __future__ import annotations

import warnings


def hide_numcodecs_shutdown_warning():
    """numcodecs 0.15 (zarr 2, which scikit-allel imports when it is installed, e.g. with
    tsinfer) calls its own deprecated ``blosc._destroy`` at interpreter exit, so every process
    ended with "DeprecationWarning: Call to deprecated function (or staticmethod) _destroy"
    on stderr. It is a shutdown message of a third party, not a problem of the user's: hide
    that one message only. moments resets the filters at import (``simplefilter('once')``),
    so this is called again after importing it."""
    warnings.filterwarnings("ignore", message=r"Call to deprecated function \(or "
                            r"staticmethod\) _destroy", category=DeprecationWarning)
