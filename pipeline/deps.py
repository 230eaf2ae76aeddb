"""Which helper modules a notebook depends on, for the Makefile.

A notebook's results depend on the ``helpers`` modules it imports and,
transitively, on the modules those import (imports inside functions included,
so the answer errs on the safe side). The Makefile lists these files as
prerequisites, so editing ``helpers/figures.py`` re-draws the figures and
re-renders the report but retrains nothing, while editing ``helpers/model.py``
retrains every setting. The build machinery (``pipeline/``) is never a
prerequisite of a result: the science package does not import it.

Standard library only: it runs before the virtual environment exists.
"""

import ast
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


def module_closure(modules, package_dir):
    """``modules`` plus every helpers module they import, transitively.

    Returns
    -------
    list of Path
        Sorted module files (plus ``__init__.py``), and the C source a module
        compiles (``helpers/kernel.c`` beside ``helpers/kernel.py``).
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
