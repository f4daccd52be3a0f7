"""`ssd-resnet50 serve`: this model behind an HTTP server (Open Inference Protocol, /v1/detect, a page at /).

    ssd-resnet50 serve                                   # the published weights, on http://127.0.0.1:8080
    ssd-resnet50 serve --weights my.ckpt --labels cat dog --score-threshold 0.4 --port 9000

The short form of `mshub serve mindspore/ascend/1.3/ssdresnet50_v1.3_coco2017`, with the weights,
backend and post-processing options of `detect`; the server is `mindspore_hub.deploy`'s.
"""
from mindspore_hub.deploy import ServeSettings, serve_pipeline
from mindspore_hub.deploy.options import add_serve_arguments, settings_from_args

from ..serving import DetectionPipeline
from .arguments import add_weights_arguments, detector_from_args

SUMMARY = "serve the detector over HTTP (Open Inference Protocol, /v1/detect, a web page)"
MODEL_NAME = "ssd_resnet50"


def add_arguments(parser):
    add_weights_arguments(parser)
    parser.add_argument("--score-threshold", type=float, default=0.3,
                        help="report detections above this score (default 0.3; the page's slider filters further)")
    parser.add_argument("--max-pixels", type=int, default=None,
                        help="refuse images with more pixels, before decoding (default: Pillow's limit, 89.5 million)")
    parser.add_argument("--no-exif", action="store_true",
                        help="keep uploaded pixels as stored; by default photos are turned upright by their EXIF "
                             "orientation and boxes are in the upright image")
    parser.add_argument("--model-name", default=MODEL_NAME, help=f"the name in /v2/models/NAME (default {MODEL_NAME})")
    add_serve_arguments(parser)


def run(args) -> int:
    settings: ServeSettings = settings_from_args(args)  # bad server options are refused before the model loads
    detector = detector_from_args(args, score_threshold=args.score_threshold, batch_size=settings.max_batch_size,
                                  exif=not args.no_exif)
    pipeline = DetectionPipeline(detector, max_batch_size=settings.max_batch_size, max_pixels=args.max_pixels)
    return serve_pipeline(pipeline, args.model_name, settings)
