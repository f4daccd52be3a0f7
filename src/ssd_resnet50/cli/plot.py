"""`ssd-resnet50 plot`: draw a training run's results.png again from its history.

    ssd-resnet50 plot runs/pets                    # -> runs/pets/results.png
    ssd-resnet50 plot runs/pets --out pets.png
"""
from ..training.plots import PLOT_EXTRA_NOTE, draw_results, plotting_available

SUMMARY = "draw a training run's results.png from its history.jsonl"


def add_arguments(parser):
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the run's --out folder (holding history.jsonl)")
    parser.add_argument("--out", metavar="PNG", help="where the picture goes (default RUN_DIR/results.png)")


def run(args) -> int:
    if not plotting_available():
        raise ImportError(PLOT_EXTRA_NOTE.replace("results.png not drawn", "cannot draw"))
    print(f"drew {draw_results(args.run_dir, args.out)}")
    return 0
