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
search    the deeper search of Table 1: ``plan`` its runs, ``record`` what was searched

A :class:`~helpers.errors.UserError` ends the command with one line on stderr
and exit status 2; Ctrl-C ends it with one line and status 130, SIGTERM with
status 143, and nothing half-written. Each line is written in one write, so the
lines of parallel runs (``make -j``) never interleave (see :mod:`pipeline.progress`).
"""

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

from helpers.errors import UserError
from helpers.params import DATA_OPTIONS, DataOptions, parse_data_option


def cmd_data(args):
    from pipeline.download import ARCHIVE_ENV, obtain_archive
    from pipeline.extract import extract_and_verify

    local = args.archive or os.environ.get(ARCHIVE_ENV) or None
    archive = obtain_archive(args.data_dir, local=local, url=args.url, progress=not args.quiet)
    verified_before = _verified_folder(args.data_dir)
    folder = extract_and_verify(archive, args.data_dir)
    say(f"data: verified CIFAR-10 in {folder} (from {archive})")
    if local:
        keep_local_archive(archive, args.data_dir, verified_now=not verified_before)


def _verified_folder(data_dir):
    """True if ``data_dir`` already holds verified batches (extract_and_verify then skips the archive)."""
    from helpers.cifar10 import FOLDER_NAME, PIXEL_FILES, read_marker

    marker = read_marker(Path(data_dir) / FOLDER_NAME) or {}
    return set(marker.get("file_sha256") or ()) == set(PIXEL_FILES)


def keep_local_archive(archive, data_dir, verified_now):
    """Keep the archive given by CIFAR10_ARCHIVE in ``data_dir``, once it is known to be good.

    Known good: its content was verified in this run, or (when the data folder was
    verified before and extraction skipped it) its md5 is the official archive's.
    A failure to keep it is a warning only: the verified data are there.
    """
    from helpers.files import file_digest
    from pipeline.download import ARCHIVE_ENV, ARCHIVE_NAME, OFFICIAL_MD5, keep_archive

    with contextlib.suppress(OSError):
        if os.path.samefile(archive, Path(data_dir) / ARCHIVE_NAME):
            return  # kept before (or CIFAR10_ARCHIVE names data/'s own archive)
    if not verified_now and file_digest(archive, "md5") != OFFICIAL_MD5:
        say(f"data: {archive} is not the official archive and was not verified in this run: not kept in {data_dir}")
        return
    try:
        how = keep_archive(archive, data_dir)
    except OSError as exc:
        say(f"warning: could not keep {archive} in {data_dir} ({exc.strerror or exc}); "
            f"after `make clean`, set {ARCHIVE_ENV} again", sys.stderr)
        return
    if how:
        kind = "a hard link" if how == "link" else "a copy"
        say(f"data: kept {archive} as {Path(data_dir) / ARCHIVE_NAME} ({kind}): later runs need no {ARCHIVE_ENV}")


def cmd_rules(args):
    from helpers.files import write_text
    from helpers.settings import read_setting_rows, read_variants
    from pipeline.rules import make_rules

    settings, trained_in = read_setting_rows(args.settings)
    text = make_rules(settings, read_variants(args.variants), f"{args.settings} and {args.variants}",
                      trained_in=trained_in)
    if args.output:
        write_text(args.output, text)
    else:
        sys.stdout.write(text)


def cmd_validate(args):
    from helpers.compiled_epoch import compiler_notice
    from helpers.settings import check_batch_sizes, check_duplicate_runs, read_setting_rows, read_variants

    notice = compiler_notice()   # training compiles helpers/compiled_epoch.c: say so now, not in the first run

    # The data's own size once they are verified (CIFAR-10's 50000 before the first `make data`).
    n_images = 50000
    if args.data_folder and (Path(args.data_folder) / "train_labels.npy").is_file():
        from helpers.cifar10 import count_training_images

        n_images = count_training_images(args.data_folder) or n_images
    (settings, trained_in), variants = read_setting_rows(args.settings), read_variants(args.variants)
    check_batch_sizes(settings, variants, args.n_val, n_images, trained_in)
    check_duplicate_runs(settings, variants, trained_in)
    if notice:
        print(notice, file=sys.stderr)


def cmd_cache(args):
    from helpers.data import build_cache

    options = DataOptions(n_val=args.n_val, **{k: parse_data_option(k, getattr(args, k)) for k in DATA_OPTIONS})
    say(f"[data] preparing {options.key}")
    build_cache(args.data_dir, options)


def say(line, stream=None):
    """Print one line in a single write, so lines of parallel runs (make -j) never interleave."""
    stream = stream or sys.stdout
    stream.write(f"{line}\n")
    stream.flush()


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
    execute(args.notebook, args.output, params, label=label, all_parameters=args.all_parameters)
    if args.expect:
        from pipeline.expect import check_group, expect_files

        expect_files(args.expect)
        for path in args.expect:
            if Path(path).name == "summary.json":
                check_group(path, params)
    done = f"[{label}] done in {time.perf_counter() - start:.1f} s"
    if args.progress:   # LOG:TOTAL:START from make: this run's place in the whole build
        from pipeline.progress import record_done

        log, total, build_start = args.progress.rsplit(":", 2)
        done += f" ({record_done(log, int(total), float(build_start))})"
    say(done)


def cmd_render(args):
    from pipeline.render import render_html

    render_html(args.notebook, args.output)


def cmd_readme(args):
    from pipeline.readme import update_readme

    changed = update_readme(args.readme, args.findings)
    say(f"readme: {args.readme}'s findings {'rewritten' if changed else 'already'} from {args.findings}")


def cmd_render_runs(args):
    from helpers.settings import read_settings
    from pipeline.render import render_runs

    render_runs(args.results_dir, args.out_dir, read_settings(args.settings))


def cmd_check(args):
    from helpers.settings import read_settings, read_variants
    from pipeline.check import check_report

    from pipeline.check import findings_beside

    findings = args.findings or findings_beside(args.html)
    summary = check_report(args.html, read_settings(args.settings), read_variants(args.variants), findings)
    print(summary)


def cmd_search(args):
    from helpers import audit
    from pipeline import search

    files = (args.settings, args.variants, args.results_dir, args.out)
    if args.stage == "plan":
        chosen, extra = search.plan_search(*files)
        if chosen:
            settings = ", ".join(f"λ = {s.lam:g}, η = {s.eta:g}" for s in chosen)
            print(f"search: screen: {len(extra)} variants (a finer init_std, each further choice alone, with "
                  f"{len(extra[0].seeds) if extra else 0} seeds) for every setting of the original: {settings}")
        else:
            print("search: every Table 1 number is reproduced or explained by a single variant; nothing to train")
    elif args.stage == "refine":
        found, new = search.refine_search(*files, args.gradcheck)
        parts = [f"{audit.choice_name(key)} {best:g} scores best alone so far, "
                 + (f"trying {', '.join(f'{v:g}' for v in values)}" if values else "nothing further to try")
                 for key, best, values in found if best is not None]
        print(f"search: refine round {args.round} of at most {args.rounds}: "
              + ("; ".join(parts) if parts else "nothing to refine") + f" ({counted(len(new), 'variant')} to train)")
    elif args.stage == "combine":
        raising, new = search.combine_search(*files, args.gradcheck)
        print(f"search: combine: {counted(len(raising), 'choice')} {'raises' if len(raising) == 1 else 'raise'} "
              "Table 1's score over the course setup"
              + (f" ({'; '.join(audit.describe(r['changed']) for r in raising)})" if raising else "")
              + f"; {counted(len(new), 'combination')} to train")
    elif args.stage == "confirm":
        winner, new = search.confirm_search(*files, args.gradcheck)
        print("search: confirm: " + ("the course setup scores best; nothing to confirm" if winner is None else
                                     f"{audit.describe(winner['changed'])} scores best; "
                                     + (f"trained again with seeds {' '.join(map(str, new.seeds))}" if new
                                        else "it has every seed already")))
    else:
        doc = search.record_search(args.out, args.record)
        print(f"search: recorded {len(doc['variants'])} variants x {len(doc['settings'])} settings in {args.record}")


def counted(n, noun):
    """``n`` and ``noun``, plural unless n is 1: "1 variant", "2 variants"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


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
    p.add_argument("--n-val", type=int, default=5000)
    defaults = DataOptions()
    for name in DATA_OPTIONS:   # one flag per data option, declared in helpers.params
        default = getattr(defaults, name)
        p.add_argument(f"--{name}", default=str(default).lower() if isinstance(default, bool) else default)
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
    p.add_argument("--data-folder", help="the verified data folder (its size bounds n_batch)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("execute", help="run a notebook with papermill")
    p.add_argument("notebook")
    p.add_argument("output")
    p.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    p.add_argument("--label")
    p.add_argument("--all-parameters", action="store_true",
                   help="refuse to run unless every parameter of the notebook is given (make's runs)")
    p.add_argument("--progress", metavar="LOG:TOTAL:START",
                   help="count this run in the build's progress file and print k of N runs and the time left")
    p.add_argument("--expect", action="append", default=[], metavar="FILE",
                   help="a file the run must write (a training group's summary.json: also checked to be that run)")
    p.set_defaults(func=cmd_execute)

    p = sub.add_parser("render", help="render an executed notebook to HTML")
    p.add_argument("notebook")
    p.add_argument("output")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("render-runs", help="render the executed notebooks the report links to (code shown)")
    p.add_argument("results_dir")
    p.add_argument("out_dir")
    p.add_argument("settings")
    p.set_defaults(func=cmd_render_runs)

    p = sub.add_parser("readme", help="rewrite the README's findings paragraph from the last build's findings")
    p.add_argument("readme")
    p.add_argument("findings")
    p.set_defaults(func=cmd_readme)

    p = sub.add_parser("check", help="check a rendered report")
    p.add_argument("html")
    p.add_argument("settings")
    p.add_argument("variants")
    p.add_argument("--findings", help="the build's findings.json (default: results/findings.json beside the "
                                      "report's folder): the page's counts must be its counts")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("search", help="the deeper search of Table 1: plan (screen), refine, combine, confirm, record")
    p.add_argument("stage", choices=("plan", "refine", "combine", "confirm", "record"))
    p.add_argument("--gradcheck", default="results/gradcheck.json",
                   help="the gradient check's results (for the printing convention)")
    p.add_argument("--settings", default="settings.csv")
    p.add_argument("--variants", default="variants.csv")
    p.add_argument("--results-dir", default="results")
    p.add_argument("--out", default="build/search", help="where the search's settings and variants files go")
    p.add_argument("--record", default="results/search.json")
    p.add_argument("--round", type=int, default=1, help="refine: which round this is (for the message)")
    p.add_argument("--rounds", type=int, default=1, help="refine: the most rounds make search runs (for the message)")
    p.set_defaults(func=cmd_search)
    return parser


def main(argv=None):
    import signal

    from pipeline.execute import Interrupted

    args = build_parser().parse_args(argv)
    if args.command == "data" and args.url is None:
        from pipeline.download import OFFICIAL_URL

        args.url = OFFICIAL_URL

    handled = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def terminated(signum, frame):
        # the first signal stops the command; later ones (make sends its children a SIGTERM of its own after
        # the group's, a second Ctrl-C) must not cut the cleanup short: they are ignored until it is done
        for sig, was in handled.items():
            if was in (signal.SIG_DFL, signal.default_int_handler):
                signal.signal(sig, signal.SIG_IGN)
        raise Interrupted(signum)

    # SIGTERM (kill, a CI timeout) ends a command as Ctrl-C does: in order, nothing half-written
    # (execute installs its own handlers while a kernel runs); a signal that is ignored stays so
    for sig, was in handled.items():
        if was in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(sig, terminated)
    try:
        args.func(args)
    except UserError as exc:
        say(f"error: {exc}", sys.stderr)
        return 2
    except OSError as exc:  # a missing notebook, a folder that cannot be written, a full disk
        where = f": {exc.filename}" if exc.filename else ""
        say(f"error: {exc.strerror or exc}{where}", sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        say("interrupted: nothing partial was kept; run the same command again to resume", sys.stderr)
        return 128 + getattr(exc, "signum", signal.SIGINT)
    finally:
        for sig, was in handled.items():
            if was in (signal.SIG_DFL, signal.default_int_handler):
                signal.signal(sig, was)
    return 0
