"""The server's command-line options, one definition for `mshub serve` and `ssd-resnet50 serve`."""

from __future__ import annotations

import argparse

from .settings import API_KEY_ENV, ServeSettings

DEFAULTS = ServeSettings()


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """--host, --port, batching, limits, auth, CORS and grace options (defaults: `ServeSettings`)."""
    group = parser.add_argument_group("server")
    group.add_argument("--host", default=DEFAULTS.host, help=f"address to listen on (default {DEFAULTS.host}: "
                                                             "this machine only)")
    group.add_argument("--port", type=int, default=DEFAULTS.port, help=f"port (default {DEFAULTS.port}; 0: any free)")
    group.add_argument("--max-batch-size", type=int, default=DEFAULTS.max_batch_size,
                       help=f"samples one model call takes at most (default {DEFAULTS.max_batch_size})")
    group.add_argument("--max-delay-ms", type=float, default=DEFAULTS.max_delay_ms,
                       help="how long a batch waits for more samples after its first "
                            f"(default {DEFAULTS.max_delay_ms:g})")
    group.add_argument("--max-queue", type=int, default=DEFAULTS.max_queue,
                       help=f"samples that may wait; beyond, 503 with Retry-After (default {DEFAULTS.max_queue})")
    group.add_argument("--workers", type=int, default=DEFAULTS.workers,
                       help=f"model calls that may run at once, on threads (default {DEFAULTS.workers})")
    group.add_argument("--timeout", type=float, default=DEFAULTS.timeout,
                       help=f"seconds a request may wait for its result, then 504 (default {DEFAULTS.timeout:g})")
    group.add_argument("--max-body-mb", type=float, default=DEFAULTS.max_body_mb,
                       help=f"larger request bodies get 413 (default {DEFAULTS.max_body_mb:g})")
    group.add_argument("--api-key", default=None,
                       help=f"require 'Authorization: Bearer KEY' (default: ${API_KEY_ENV}); needed to bind a "
                            "non-loopback --host")
    group.add_argument("--insecure-no-auth", action="store_true",
                       help="allow a non-loopback --host without an API key")
    group.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                       help="allow browser pages of ORIGIN to call the API (repeatable; default: CORS off)")
    group.add_argument("--grace", type=float, default=DEFAULTS.grace,
                       help=f"seconds SIGTERM waits for accepted requests (default {DEFAULTS.grace:g})")


def settings_from_args(args) -> ServeSettings:
    return ServeSettings(host=args.host, port=args.port, max_batch_size=args.max_batch_size,
                         max_delay_ms=args.max_delay_ms, max_queue=args.max_queue, workers=args.workers,
                         timeout=args.timeout, max_body_mb=args.max_body_mb, api_key=args.api_key,
                         insecure_no_auth=args.insecure_no_auth, cors_origins=tuple(args.cors_origin), grace=args.grace)


def add_command_arguments(parser: argparse.ArgumentParser) -> None:
    """`mshub serve UID|MD [options]`."""
    parser.add_argument("name", metavar="UID|MD", help="the model: a uid, a URL to its .md, or a .md path")
    parser.add_argument("--source", choices=("gitee", "github", "local"))
    parser.add_argument("--trust-repo", action="store_true", help="run the model's code from its repo-link "
                                                                  "(remembered; see `mshub trust`)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", type=_option,
                        help="an option of the model's pipeline, VALUE read as JSON where it parses (repeatable): "
                             "for ssd_resnet50 score_threshold=0.3, backend=openvino, max_pixels=50000000; for "
                             "a tensor model input_shape=[3,224,224]")
    add_serve_arguments(parser)


def run_command(args) -> int:
    from . import serving

    settings = settings_from_args(args)  # bad options are refused before the model loads
    return serving(args.name, settings.port, settings.host, source=args.source,
                   trust_repo=True if args.trust_repo else None, pipeline_options=dict(args.option),
                   **{field: getattr(settings, field) for field in _SETTINGS_FIELDS})


_SETTINGS_FIELDS = [name for name in ServeSettings.__dataclass_fields__ if name not in ("host", "port")]


def _option(text: str) -> tuple:
    import json

    key, equals, value = text.partition("=")
    if not equals or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE with KEY a name, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value
