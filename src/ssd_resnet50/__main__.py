"""`python -m ssd_resnet50 COMMAND ...`: the `ssd-resnet50` command (msrun starts workers this way)."""
import sys

from .cli import main

sys.exit(main())
