"""Where the project is: relative paths are taken from the project's root folder.

Standard library only, so importing it adds no dependency to a notebook.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def project_path(path):
    """``path`` as an absolute path; relative paths are relative to the project root."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else ROOT / path
