"""Command-line entry points used by the Makefile: ``python -m pipeline COMMAND``.

Commands
--------
data      obtain, extract and verify the CIFAR-10 archive
cache     build the preprocessed arrays of one data variant
rules     print the Makefile rules for the runs of the settings and variants files
validate  check every setting against every variant before any run starts
execute   run a notebook with papermill (strict parameters, project kernel)
render    render an executed notebook to self-contained HTML
check     check a rendered report: every setting, both figures each, finite tables

A :class:`~helpers.errors.UserError` ends the command with one line on stderr
and exit status 2; Ctrl-C ends it with status 130 and nothing half-written.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from helpers.errors import UserError


def cmd_data(args):
    from pipeline.download import ARCHIVE_ENV, obtain_archive
    from pipeline.extract import extract_and_verify

    local = args.archive or os.environ.get(ARCHIVE_ENV) or None
    archive = obtain_archive(args.data_dir, local=local, url=args.url, progress=not args.quiet)
    folder = extract_and_verify(archive, args.data_dir)
    print(f"data: verified CIFAR-10 in {folder} (from {archive})")


def cmd_rules(args):
    from helpers.files import write_text
    from helpers.settings import read_settings, read_variants
    from pipeline.rules import make_rules

    text = make_rules(read_settings(args.settings), read_variants(args.variants), f"{args.settings} and {args.variants}")
    if args.output:
        write_text(args.output, text)
    else:
        sys.stdout.write(text)


def cmd_validate(args):
    from helpers.settings import check_batch_sizes, read_settings, read_variants

    check_batch_sizes(read_settings(args.settings), read_variants(args.variants), args.n_val)


def cmd_cache(args):
    from helpers.data import build_cache
    from helpers.params import DataOptions

    options = DataOptions(split=args.split, n_val=args.n_val, normalise=args.normalise == "true", dtype=args.dtype)
    say(f"[data] preparing {options.key}")
    build_cache(args.data_dir, options)


def say(line):
    """Print one line in a single write, so lines of parallel runs (make -j) never interleave."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def parse_value(text):
    """A ``-p`` value: JSON if it parses (numbers, lists, true/false), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def cmd_execute(args):
    import time

    from pipeline.execute import execute

    params = {name: parse_value(value) for name, value in args.p}
    label = args.label or Path(args.notebook).stem
    say(f"[{label}] {args.notebook} -> {args.output}")
    start = time.perf_counter()
    # progress only on a terminal (see pipeline.execute): in a log it would print a line per update
    execute(args.notebook, args.output, params, label=label, progress=not args.quiet and sys.stderr.isatty())
    say(f"[{label}] done in {time.perf_counter() - start:.1f} s")


def cmd_render(args):
    from pipeline.render import render_html

    render_html(args.notebook, args.output)


def cmd_check(args):
    from helpers.settings import read_settings, read_variants
    from pipeline.check import check_report

    summary = check_report(args.html, read_settings(args.settings), read_variants(args.variants))
    print(summary)


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="obtain, extract and verify CIFAR-10")
    p.add_argument("--data-dir", default="data")
    p.add_argument("--archive", help="local cifar-10-python.tar.gz (default: $CIFAR10_ARCHIVE)")
    p.add_argument("--url", default=None, help="download address (default: the official one)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("cache", help="build the preprocessed arrays of one data variant")
    p.add_argument("--data-dir", default="data")
    p.add_argument("--split", default="course")
    p.add_argument("--n-val", type=int, default=5000)
    p.add_argument("--normalise", choices=("true", "false"), default="true")
    p.add_argument("--dtype", default="float64")
    p.set_defaults(func=cmd_cache)

    p = sub.add_parser("rules", help="Makefile rules for the settings and variants files")
    p.add_argument("settings")
    p.add_argument("variants")
    p.add_argument("-o", "--output")
    p.set_defaults(func=cmd_rules)

    p = sub.add_parser("validate", help="check every setting against every variant")
    p.add_argument("settings")
    p.add_argument("variants")
    p.add_argument("--n-val", type=int, default=5000)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("execute", help="run a notebook with papermill")
    p.add_argument("notebook")
    p.add_argument("output")
    p.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    p.add_argument("--label")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_execute)

    p = sub.add_parser("render", help="render an executed notebook to HTML")
    p.add_argument("notebook")
    p.add_argument("output")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("check", help="check a rendered report")
    p.add_argument("html")
    p.add_argument("settings")
    p.add_argument("variants")
    p.set_defaults(func=cmd_check)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "data" and args.url is None:
        from pipeline.download import OFFICIAL_URL

        args.url = OFFICIAL_URL
    try:
        args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a missing notebook, a folder that cannot be written, a full disk
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing partial was kept; run the same command again to resume", file=sys.stderr)
        return 130
    return 0
