"""Where ../shared is (the spec and data beside the checkout), read at run time, never copied."""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SSD_SHARED_DIR", REPO.parent / "shared"))


def shared_path(*parts) -> Path:
    """A file of ../shared, or a skip naming it when it is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"{path} is absent (the shared spec/data folder beside the checkout)"
        if os.environ.get("SSD_REQUIRE_SHARED") == "1":  # CI: fidelity tests must run
            pytest.fail(message)
        pytest.skip(message)
    return path
