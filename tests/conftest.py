"""Fixtures every test may use."""
import importlib.util

import pytest

from tests.shared_files import shared_path


@pytest.fixture(scope="session")
def fixture_weights_module():
    """../shared/spec/fixture_weights.py, imported from where it lies (never copied)."""
    path = shared_path("spec", "fixture_weights.py")
    spec = importlib.util.spec_from_file_location("fixture_weights", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
