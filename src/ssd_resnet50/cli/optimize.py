"""`ssd-resnet50 optimize`: an int8 model by NNCF post-training quantization, its accuracy cost shown.

    ssd-resnet50 optimize --calibration-images photos/ --out ssd_int8 [--weights CKPT | --hub UID]
    ssd-resnet50 optimize --calibration-images photos/ --annotations val.json --eval-images val/ --out ssd_int8
    ssd-resnet50 detect photo.jpg --int8-model ssd_int8
"""
from ..model.checkpoint import load_network
from ..optimize import DEFAULT_SUBSET, PRESETS, compare, quantize, side_by_side
from .arguments import add_weights_arguments, checkpoint_path, positive_int

SUMMARY = "quantize the network to int8 (OpenVINO, NNCF) over calibration images"


def add_arguments(parser):
    parser.add_argument("--calibration-images", required=True, metavar="DIR",
                        help="images like those the model will see (unreadable files are skipped with a warning)")
    parser.add_argument("--subset", type=positive_int, default=DEFAULT_SUBSET, metavar="N",
                        help=f"calibrate on N of them, a fixed random sample (default {DEFAULT_SUBSET}, NNCF's "
                             "recommendation; all when fewer)")
    parser.add_argument("--out", required=True, metavar="MODEL_DIR",
                        help="where model.xml, model.bin and the sidecar model.json go")
    add_weights_arguments(parser, backend=False)
    parser.add_argument("--annotations", metavar="JSON",
                        help="a COCO annotation file: evaluate fp32 and int8 on its images and print both")
    parser.add_argument("--eval-images", metavar="DIR",
                        help="directory of the annotation file's images (default: --calibration-images)")
    parser.add_argument("--preset", choices=PRESETS, default="mixed",
                        help="NNCF preset: mixed (default; symmetric weights, asymmetric activations) or performance")
    parser.add_argument("--force", action="store_true", help="quantize again even if MODEL_DIR is up to date")
    parser.add_argument("--batch-size", type=positive_int, default=8, help="images a network call when evaluating")


def run(args) -> int:
    if args.eval_images and not args.annotations:
        raise ValueError("--eval-images needs --annotations")
    checkpoint = checkpoint_path(args)
    network = load_network(checkpoint, args.num_classes, args.image_size, args.labels)
    result = quantize(network, args.calibration_images, args.out, subset_size=args.subset, preset=args.preset,
                      checkpoint=checkpoint, force=args.force)
    calibration = result.calibration
    used = f"{len(calibration.inputs)} calibration images" + (
        f" ({len(calibration.skipped)} unreadable skipped)" if calibration.skipped else "")
    if result.reused:
        print(f"{args.out} is up to date (same weights, {used}, preset and versions): reused")
    else:
        print(f"wrote {args.out} (model.xml, model.bin, model.json) from {used} in {result.seconds:.0f} s")
    if args.annotations:
        fp32, int8, failed = compare(network, args.out, args.annotations, args.eval_images or args.calibration_images,
                                     labels=args.labels, batch_size=args.batch_size, checkpoint=checkpoint)
        print(f"COCO metrics on {fp32.num_images} images of {args.annotations}"
              + (f" ({len(failed)} unreadable skipped)" if failed else "") + ", OpenVINO fp32 and int8:")
        print(side_by_side(fp32, int8), end="")
    weights = f" --weights {args.weights}" if args.weights else (f" --hub {args.hub}" if args.hub else "")
    print(f"use it: ssd-resnet50 detect IMAGE{weights} --int8-model {args.out}  (Python: "
          f"Detector.from_checkpoint(CKPT, int8_model={args.out!r}))")
    return 0
