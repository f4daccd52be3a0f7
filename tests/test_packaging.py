"""What `pip install .` ships: every package below src/ (a missing one installs a broken project)."""
import configparser
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_setup_cfg_lists_every_package_below_src():
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    found = {".".join(init.parent.relative_to(REPO / "src").parts) for init in (REPO / "src").rglob("__init__.py")}
    assert found - listed == set(), "add these to [options] packages in setup.cfg"
    assert listed - found == {"mindspore_hub._res"}  # the hub metadata, mapped from mshub_res/
