"""MindSpore Hub loader: ``mshub.load(uid)`` gives a network with verified weights.

Compatible with upstream ``mindspore_hub``: its functions (load, load_weights, hub_list,
get_hub_dir, set_hub_dir, manage.*) and its import paths (``from mindspore_hub.load import
load_weights``, ``from mindspore_hub.info import CellInfo``, ``mindspore_hub.list.hub_list``,
``__version__``, ``manage.CACHE_DIR``). And safe: checkpoints are verified by sha256 before
they are kept and re-hashed whenever they are loaded, downloads resume and are shared across
processes, a warm cache needs no network, weights load strictly, and downloaded code runs only
when trusted.

The flow reads top to bottom: names -> metadata -> code -> download -> load into the network.

>>> import mindspore_hub as mshub
>>> net = mshub.load("mindspore/ascend/1.3/ssdresnet50_v1.3_coco2017")   # doctest: +SKIP
"""

from __future__ import annotations

import importlib.metadata

from . import manage
from .errors import (ChecksumError, DownloadError, HubError, LockTimeoutError, OfflineError,
                     UnsafeNameError, UnsafePathError, UntrustedRepoError, WeightsMismatchError)
# As upstream: the modules load.py, info.py and list.py exist, and these names are their functions.
from .info import info
from .list import hub_list
from .load import download, load, load_weights, verify
from .manage import get_hub_dir, set_hub_dir

try:
    __version__ = importlib.metadata.version("ssd-resnet50-hub")  # the distribution this package ships in
except importlib.metadata.PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0+unknown"

__all__ = [
    "load", "load_weights", "hub_list", "info", "download", "verify", "get_hub_dir", "set_hub_dir",
    "manage", "HubError", "DownloadError", "ChecksumError", "OfflineError", "LockTimeoutError",
    "UnsafeNameError", "UnsafePathError", "UntrustedRepoError", "WeightsMismatchError", "__version__",
]
