"""What a notebook's results depend on, for the Makefile: its code, and the helper modules it imports.

A notebook's runs are out of date when its code changes, not when it is saved:
:func:`notebook_code_key` hashes the code cells and the parameters' names, leaving
out outputs, metadata, Markdown and the parameters' default values (a JupyterLab
save, ``quick = True``, another ``lam``), and the Makefile depends on a stamp
named after it. make passes every parameter (``pipeline execute --all-parameters``),
so a default never reaches a build.

A notebook's results depend on the ``helpers`` modules it imports and,
transitively, on the modules those import (imports inside functions included,
so the answer errs on the safe side). The Makefile depends on a stamp named
after these files' content (:func:`content_key`), not on their times, so
editing ``helpers/figures.py`` re-draws the figures and re-renders the report
but retrains nothing, editing ``helpers/model.py`` retrains every setting, and
touching a file, a ``git stash`` and ``pop`` or a branch switch and back that
leaves every byte as it was redoes nothing. The build machinery (``pipeline/``)
is never a prerequisite of a result: the science package does not import it.

Run by make with the virtual environment's Python, while it writes the rules.
"""

import ast
import hashlib
import json
from pathlib import Path

PACKAGE = "helpers"


def imported_helpers(source):
    """Names of ``helpers`` modules imported anywhere in Python ``source`` (e.g. ``{"train"}``)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] == PACKAGE:
                if len(parts) > 1:
                    found.add(parts[1])
                else:
                    found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == PACKAGE and len(parts) > 1:
                    found.add(parts[1])
    return found


#: Cells with this tag only show things (plots inline): what they import does not make the
#: notebook's results depend on it, so restyling a plot retrains nothing.
DISPLAY_TAG = "display"


def notebook_source(path):
    """The code cells of a notebook, joined (IPython magics, shell lines and ``display`` cells dropped)."""
    nb = json.loads(Path(path).read_text())
    lines = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and DISPLAY_TAG not in cell.get("metadata", {}).get("tags", []):
            src = cell.get("source", "")
            src = "".join(src) if isinstance(src, list) else src
            lines += [ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    return "\n".join(lines)


def _cells(path):
    """(source, tags) of each code cell of the notebook at ``path``."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            src = cell.get("source", "")
            yield ("".join(src) if isinstance(src, list) else src), cell.get("metadata", {}).get("tags", [])


def parameter_names(source):
    """The names a ``parameters`` cell assigns, in order (``lam = 0.1`` -> ``lam``)."""
    names = []
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def notebook_code_key(path):
    """A hash of what a notebook does: its code cells, and of its ``parameters`` cell only the names.

    Outputs, execution counts, metadata, Markdown and the parameters' values are left out.
    """
    h = hashlib.sha256()
    for source, tags in _cells(path):
        part = "parameters: " + " ".join(parameter_names(source)) if "parameters" in tags else source.strip()
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:16]


def module_closure(modules, package_dir):
    """``modules`` plus every helpers module they import, transitively.

    Returns
    -------
    list of Path
        Sorted module files (plus ``__init__.py``), and the C source a module
        compiles (``helpers/compiled_epoch.c`` beside ``helpers/compiled_epoch.py``).
    """
    package_dir = Path(package_dir)
    seen, todo = set(), list(modules)
    while todo:
        name = todo.pop()
        path = package_dir / f"{name}.py"
        if name in seen or not path.is_file():
            continue
        seen.add(name)
        todo.extend(imported_helpers(path.read_text()))
    files = {package_dir / f"{name}.py" for name in seen} | {package_dir / "__init__.py"}
    files |= {c for c in (package_dir / f"{name}.c" for name in seen) if c.is_file()}   # a module's C source
    return sorted(files)


def notebook_dependencies(notebook, package_dir):
    """The helper files a notebook depends on (see :func:`module_closure`)."""
    return module_closure(imported_helpers(notebook_source(notebook)), package_dir)


def content_key(files, root):
    """A hash of ``files``' paths (relative to ``root``) and bytes: the same files with the same content, the same key.

    Their modification times are left out, so touching a file, or a checkout that rewrites it as it was,
    changes nothing.
    """
    h = hashlib.sha256()
    for path in sorted(Path(f) for f in files):
        h.update(str(path.relative_to(root)).encode("utf-8") + b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]
