"""Command-line entry points used by the Makefile: ``python -m helpers COMMAND``.

Commands
--------
data      obtain, extract and verify the CIFAR-10 archive
rules     print the Makefile rules for the runs in a settings file
execute   run a notebook with papermill (strict parameters, project kernel)
render    render an executed notebook to self-contained HTML
check     check a rendered report: every setting, both figures each, finite Table 1

A :class:`~helpers.errors.UserError` ends the command with one line on stderr
and exit status 2; Ctrl-C ends it with status 130 and nothing half-written.
"""

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from helpers.errors import UserError


def cmd_data(args):
    from helpers.archive import extract_and_verify
    from helpers.download import ARCHIVE_ENV, obtain_archive

    local = args.archive or os.environ.get(ARCHIVE_ENV) or None
    archive = obtain_archive(args.data_dir, local=local, url=args.url, progress=not args.quiet)
    folder = extract_and_verify(archive, args.data_dir)
    print(f"data: verified CIFAR-10 in {folder} (from {archive})")


#: Make variable -> the notebook whose helper dependencies it lists. The report's
#: prerequisites are all of helpers/ instead: its section 2.5 documents every module.
NOTEBOOK_DEPS = (("TRAIN_DEPS", "train"), ("WEIGHTS_DEPS", "weights"), ("GRADCHECK_DEPS", "gradient_check"))


def dependency_lines(root):
    """``NAME_DEPS := files`` lines: the helper files each notebook depends on."""
    from helpers.deps import notebook_dependencies

    root = Path(root)
    return [f"{var} := {' '.join(str(f.relative_to(root)) for f in notebook_dependencies(root / 'notebooks' / f'{stem}.ipynb', root / 'helpers'))}"
            for var, stem in NOTEBOOK_DEPS]


def make_rules(runs, settings_path, root=None):
    """The Makefile fragment for ``runs``: one training and one weights rule per run.

    Returns
    -------
    str
    """
    root = Path(root) if root else Path(__file__).resolve().parent.parent
    out = [f"# Generated from {settings_path} by `python -m helpers rules`; do not edit.",
           *dependency_lines(root),
           f"RUN_IDS := {' '.join(p.run_id for p in runs)}"]
    for p in runs:
        rid = p.run_id
        params = " ".join(f"-p {k} {shlex.quote(str(v))}" for k, v in p.as_dict().items())
        label = shlex.quote(f"setting lam={p.lam:g}, eta={p.eta:g} ({rid})")
        out += [
            "",
            f"$(RESULTS_DIR)/{rid}/results.json $(FIGURES_DIR)/{rid}_curves.png &: "
            "notebooks/train.ipynb $(TRAIN_DEPS) $(DATA_STAMP) $(NVAL_STAMP) | $(VENV_STAMP)",
            f"\t@$(EXECUTE) notebooks/train.ipynb $(RESULTS_DIR)/{rid}/train.ipynb --label {label} "
            f"{params} $(DATA_PARAMS)",
            "",
            f"$(FIGURES_DIR)/{rid}_weights.png: notebooks/weights.ipynb "
            f"$(RESULTS_DIR)/{rid}/results.json $(WEIGHTS_DEPS) | $(VENV_STAMP)",
            f"\t@$(EXECUTE) notebooks/weights.ipynb $(RESULTS_DIR)/{rid}/weights.ipynb --label {label} "
            f"-p run_dir $(RESULTS_DIR)/{rid} -p figure $(FIGURES_DIR)/{rid}_weights.png",
        ]
    out += ["",
            "RUN_RESULTS := $(foreach r,$(RUN_IDS),$(RESULTS_DIR)/$(r)/results.json)",
            "RUN_FIGURES := $(foreach r,$(RUN_IDS),$(FIGURES_DIR)/$(r)_curves.png $(FIGURES_DIR)/$(r)_weights.png)",
            ""]
    return "\n".join(out)


def cmd_rules(args):
    from helpers.atomic import write_text
    from helpers.settings import read_settings

    text = make_rules(read_settings(args.settings), args.settings)
    if args.output:
        write_text(args.output, text)
    else:
        sys.stdout.write(text)


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

    from helpers.execute import execute

    params = {name: parse_value(value) for name, value in args.p}
    label = args.label or Path(args.notebook).stem
    say(f"[{label}] {args.notebook} -> {args.output}")
    start = time.perf_counter()
    # progress only on a terminal (see helpers.execute): in a log it would print a line per update
    execute(args.notebook, args.output, params, label=label, progress=not args.quiet and sys.stderr.isatty())
    say(f"[{label}] done in {time.perf_counter() - start:.1f} s")


def cmd_kernel_quiet(args):
    from helpers.execute import quiet_kernel

    quiet_kernel(args.name)


def cmd_render(args):
    from helpers.render import render_html

    render_html(args.notebook, args.output)


def cmd_check(args):
    from helpers.check import check_report
    from helpers.settings import read_settings

    summary = check_report(args.html, read_settings(args.settings))
    print(summary)


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m helpers", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="obtain, extract and verify CIFAR-10")
    p.add_argument("--data-dir", default="data")
    p.add_argument("--archive", help="local cifar-10-python.tar.gz (default: $CIFAR10_ARCHIVE)")
    p.add_argument("--url", default=None, help="download address (default: the official one)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("rules", help="Makefile rules for a settings file")
    p.add_argument("settings")
    p.add_argument("-o", "--output")
    p.set_defaults(func=cmd_rules)

    p = sub.add_parser("execute", help="run a notebook with papermill")
    p.add_argument("notebook")
    p.add_argument("output")
    p.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    p.add_argument("--label")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_execute)

    p = sub.add_parser("kernel-quiet", help="make a registered kernel log errors only")
    p.add_argument("name")
    p.set_defaults(func=cmd_kernel_quiet)

    p = sub.add_parser("render", help="render an executed notebook to HTML")
    p.add_argument("notebook")
    p.add_argument("output")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("check", help="check a rendered report")
    p.add_argument("html")
    p.add_argument("settings")
    p.set_defaults(func=cmd_check)
    return parser


def skip_slow_optional_imports():
    """Keep jsonschema from importing ``rfc3987_syntax`` in this process.

    jsonschema imports that optional package (installed with Jupyter) only to
    check the "iri" string format, which no notebook schema uses; importing it
    compiles a grammar and costs about 0.8 s, once per notebook run. Marking
    the module as absent makes jsonschema skip that one format check.
    """
    sys.modules.setdefault("rfc3987_syntax", None)


def main(argv=None):
    skip_slow_optional_imports()
    args = build_parser().parse_args(argv)
    if args.command == "data" and args.url is None:
        from helpers.download import OFFICIAL_URL

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
