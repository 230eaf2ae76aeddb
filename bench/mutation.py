"""The mutation run's scores (``make mutation``): per module, and every surviving mutant with the reason it survives.

mutmut (the ``mutation`` extra of pyproject.toml, configured in its ``[tool.mutmut]``) changes one
operator, constant or call at a time in the modules the report's verdicts rest on and runs their
unit tests. A mutant is *killed* when a test fails, *survives* when none does, and has *no tests*
when no selected test reaches its function. ``tests/equivalent_mutants.txt`` lists the survivors
that are equivalent to the original code or not worth a test, one per line: the mutant's name, then
the reason.
"""

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from helpers.paths import ROOT

EQUIVALENT = ROOT / "tests" / "equivalent_mutants.txt"
#: mutmut's words for a mutant's fate, and ours.
STATUS = {"killed": "killed", "survived": "survived", "no tests": "no tests", "timeout": "killed",
          "segfault": "killed", "suspicious": "suspicious", "skipped": "skipped", "not checked": "not checked"}
_LINE = re.compile(r"^\s*(?P<name>[\w.]+?)\.x(?:ǁ\w+ǁ)?_?\w*?__mutmut_\d+: (?P<status>[a-z ]+)$")


def module_of(name):
    """``helpers.audit`` for the mutant ``helpers.audit.x_explain__mutmut_3`` (methods: ``xǁClassǁ...``)."""
    m = _LINE.match(f"{name}: killed")
    return m.group("name") if m else name.rsplit(".", 1)[0]


def parse_results(text):
    """Mutant name -> status, from ``mutmut results --all true``."""
    found = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if m:
            found[line.split(":")[0].strip()] = STATUS.get(m.group("status").strip(), m.group("status").strip())
    return found


def read_equivalent(path=EQUIVALENT):
    """Mutant name -> reason, from the list of survivors that need no test (``#`` starts a comment)."""
    reasons = {}
    if Path(path).is_file():
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                name, _, reason = line.partition(" ")
                reasons[name] = reason.strip()
    return reasons


def score_table(results):
    """One line per module: killed, survived, no tests, total and the score (killed / total)."""
    counts = {}
    for name, status in results.items():
        counts.setdefault(module_of(name), Counter())[status] += 1
    total = Counter()
    lines = [f"{'module':<20} {'killed':>7} {'survived':>9} {'no tests':>9} {'total':>6} {'score':>7}"]
    for module in sorted(counts) + ["all"]:
        c = total if module == "all" else counts[module]
        if module != "all":
            total.update(c)
        n = sum(c.values())
        lines.append(f"{module:<20} {c['killed']:>7} {c['survived']:>9} {c['no tests']:>9} {n:>6} "
                     f"{c['killed'] / n if n else float('nan'):>7.1%}")
    return "\n".join(lines)


def survivors_report(results, reasons):
    """The survivors (and mutants no test reaches), each with its listed reason or "not explained yet"."""
    lines = []
    for name, status in sorted(results.items()):
        if status in ("survived", "no tests"):
            lines.append(f"{name} ({status}): {reasons.get(name) or 'NOT EXPLAINED YET: kill it or list why'}")
    return "\n".join(lines)


def main(argv=None):
    mutmut = Path(sys.executable).with_name("mutmut")
    out = subprocess.run([str(mutmut), "results", "--all", "true"], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        print(f"error: `mutmut results` failed: {out.stderr.strip()[-500:]}", file=sys.stderr)
        return 2
    results = parse_results(out.stdout)
    if not results:
        print("error: no mutation results; run `make mutation`", file=sys.stderr)
        return 2
    reasons = read_equivalent()
    print(score_table(results))
    report = survivors_report(results, reasons)
    if report:
        print("\nsurvivors and mutants no test reaches:\n" + report)
    unexplained = report.count("NOT EXPLAINED YET")
    print(f"\n{unexplained} survivors not explained yet" if unexplained else "\nevery survivor is explained")
    return 0


if __name__ == "__main__":
    sys.exit(main())
