"""The ``mshub`` command: list, info, download, verify, cache ls|rm, trust, validate, serve.

Exit status: 0 success, 1 failure (the reason on stderr), 2 usage error. Everything printed
that came from metadata, an index or the file system has its control characters escaped
(`names.printable`): a newline or an ANSI escape in a name cannot forge or hide a line.
"""

from __future__ import annotations

import argparse
import json
import sys

import mindspore_hub as mshub

from . import cache, manage, names, trust, urls
from .errors import HubError, IndexUnavailableError
from .load import checkpoint_asset


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mshub", description="MindSpore Hub: find, fetch and verify models.")
    parser.add_argument("--hub-dir", help="cache directory (default: MSHUB_DIR or ~/.cache/mindspore_hub)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="print the uids the hub offers")
    listing.add_argument("--version", help="hub version (e.g. 1.3); default: the current one")
    listing.add_argument("--force-reload", action="store_true", help="fetch the remote index again")
    listing.add_argument("--local", action="store_true",
                         help="list only the local hub roots and the cached remote listing (no network)")

    for command, text in (("info", "print a model's metadata"),
                          ("download", "download and verify a model's checkpoint; print its path")):
        sub = commands.add_parser(command, help=text)
        sub.add_argument("name", metavar="UID", help="uid, URL to a .md, or a .md path")
        sub.add_argument("--source", choices=("gitee", "github", "local"))
        sub.add_argument("--force-reload", action="store_true", help="fetch again even if cached")
    commands.choices["info"].add_argument("--json", action="store_true", help="print JSON")

    check = commands.add_parser("verify", help="re-hash a cached checkpoint (by uid or path)")
    check.add_argument("name", metavar="UID|PATH")
    check.add_argument("--source", choices=("gitee", "github", "local"))

    store = commands.add_parser("cache", help="inspect or clear the cache")
    actions = store.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("ls", help="list cached checkpoints")
    remove = actions.add_parser("rm", help="remove cached checkpoints")
    remove.add_argument("targets", nargs="*", metavar="UID|SHA256")
    remove.add_argument("--all", action="store_true", help="remove every cached checkpoint")

    trusting = commands.add_parser("trust", help="list, add or remove trusted repositories (code from a "
                                                  "model's repo-link runs only from these)")
    trusting.add_argument("urls", nargs="*", metavar="URL", help="repository URL, as the untrusted error names it")
    trusting.add_argument("--remove", action="store_true", help="stop trusting the URLs")

    validate = commands.add_parser("validate", help="validate hub markdown files")
    from . import validate as validator

    validator.add_arguments(validate)

    from .deploy import options as serve_options  # the server's options; it imports FastAPI only to serve

    serve_options.add_command_arguments(commands.add_parser(
        "serve", help="serve a model over HTTP (Open Inference Protocol, a page at /); needs the [serve] extra"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.hub_dir:
        manage.set_hub_dir(args.hub_dir)
    try:
        return COMMANDS[args.command](args)
    except (HubError, OSError, ValueError) as error:
        print(f"mshub: error: {names.printable_lines(error)}", file=sys.stderr)
        return 1


def _show(*parts) -> None:
    """Print one line, its parts escaped (`names.printable`)."""
    print(" ".join(names.printable(part) for part in parts))


def _list(args) -> int:
    """The uids; when the remote index cannot be listed, the local ones and a line saying what is missing."""
    try:
        uids, missing = mshub.hub_list(args.version, args.force_reload, local_only=args.local), None
    except IndexUnavailableError as error:
        uids, missing = mshub.hub_list(args.version, local_only=True), error
    for uid in uids:
        _show(uid)
    if missing is None:
        return 0
    print(f"mshub: listed {len(uids)} uid(s) of the local hub roots and the cache only; "
          f"not listed: the remote index. {names.printable_lines(missing)}", file=sys.stderr)
    return 1


def _info(args) -> int:
    meta = mshub.info(args.name, args.source, args.force_reload)
    fields = {key: value for key, value in meta.fields.items()}
    fetched = checkpoint_asset(meta) if meta.assets else None
    will_fetch = fetched and {"url": urls.apply_mirrors(fetched.asset_link), "sha256": fetched.asset_sha256}
    if will_fetch:
        try:
            urls.asset_url(fetched.asset_link)
        except HubError as error:  # the policy refuses it (after mirrors): say so, do not show it as fetched
            will_fetch["refused"] = str(error)
    if args.json:  # JSON escapes control characters itself
        print(json.dumps({"uid": meta.uid, "path": meta.path, "fields": fields, "will_fetch": will_fetch},
                         indent=2, default=str))
        return 0
    _show(f"uid: {meta.uid}")
    _show(f"metadata: {meta.path}")
    for key, value in fields.items():
        if key != "asset":
            _show(f"{key}: {value}")
    for asset in meta.assets:
        _show(f"asset: {asset.file_format} {asset.asset_link} sha256={asset.asset_sha256}")
    if will_fetch and "refused" in will_fetch:
        _show(f"will not fetch: {will_fetch['refused']}")
    elif will_fetch:
        _show(f"will fetch: {will_fetch['url']} sha256={will_fetch['sha256']}")
    return 0


def _download(args) -> int:
    _show(mshub.download(args.name, args.source, args.force_reload))
    return 0


def _verify(args) -> int:
    if mshub.verify(args.name, args.source):
        _show("ok:", args.name)
        return 0
    print(f"mshub: {names.printable(args.name)}: sha256 mismatch; the corrupt file was deleted", file=sys.stderr)
    return 1


def _cache(args) -> int:
    if args.action == "ls":
        for entry in cache.entries():
            _show(f"{entry.state:<10} {entry.size:>14,}", entry.path)
        return 0
    if args.all == bool(args.targets):
        print("mshub: error: cache rm takes UID/SHA256 arguments or --all", file=sys.stderr)
        return 2
    targets = cache.cached_keys() if args.all else args.targets
    for target in targets:
        sha256 = target.lower() if names.is_sha256(target.lower()) else _sha256_of(target)
        link = cache.is_link(sha256)
        if not cache.remove(sha256):
            _show("not cached", target)
        elif link:
            _show("removed the link", target, "(its target was left alone)")
        else:
            _show("removed", target)
    return 0


def _trust(args) -> int:
    if not args.urls:
        for url in sorted(trust.trusted_repos()):
            _show(url)
        return 0
    for url in args.urls:
        if args.remove:
            _show("no longer trusted:" if trust.forget(url) else "was not trusted:", url)
        else:
            trust.remember(url)
            _show("trusted:", url)
    return 0


def _sha256_of(name: str) -> str:
    return checkpoint_asset(mshub.info(name)).asset_sha256.lower()


def _validate(args) -> int:
    from . import validate as validator

    return validator.run(args)


def _serve(args) -> int:
    from .deploy import options as serve_options

    return serve_options.run_command(args)


COMMANDS = {"list": _list, "info": _info, "download": _download, "verify": _verify, "cache": _cache,
            "trust": _trust, "validate": _validate, "serve": _serve}

if __name__ == "__main__":
    sys.exit(main())
