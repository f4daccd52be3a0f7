"""`ssd-resnet50 export`: the network with a checkpoint's weights as MINDIR or ONNX, for deployment.

    ssd-resnet50 export --format MINDIR --weights ssd.ckpt --out ssd_resnet50.mindir
    ssd-resnet50 export --format ONNX --hub mindspore/ascend/1.3/ssdresnet50_v1.3_coco2017 --out ssd.onnx
"""
import os

from ..export import FORMATS, describe_io, export_checkpoint
from .arguments import add_weights_arguments, checkpoint_path, positive_int

SUMMARY = "export the network to MINDIR or ONNX for deployment"


def add_arguments(parser):
    parser.add_argument("--format", type=str.upper, choices=tuple(FORMATS), default="MINDIR",
                        help="MINDIR (MindSpore, MindSpore Lite) or ONNX (onnxruntime and others); default MINDIR")
    add_weights_arguments(parser, backend=False)
    parser.add_argument("--batch-size", type=positive_int, default=1, help="fixed batch dimension of the input (default 1)")
    parser.add_argument("--dynamic-batch", action="store_true",
                        help="leave the batch dimension open (MINDIR only)")
    parser.add_argument("--out", required=True, metavar="FILE",
                        help="file to write (.mindir / .onnx is appended when missing)")


def run(args) -> int:
    if args.dynamic_batch and args.format == "ONNX":  # before any download
        raise ValueError("MindSpore 2.8 cannot export ONNX with a dynamic batch; give --batch-size instead")
    out, config = export_checkpoint(checkpoint_path(args), args.out, args.format, args.batch_size,
                                    args.dynamic_batch, num_classes=args.num_classes,
                                    image_size=args.image_size, labels=args.labels)
    batch = "B" if args.dynamic_batch else str(args.batch_size)
    print(f"wrote {out} ({os.path.getsize(out) / 2**20:.1f} MiB, {args.format})\n{describe_io(config, batch)}")
    return 0
