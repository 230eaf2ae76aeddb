"""Where the project is (relative paths are taken from its root folder), and the names of the rendered run pages.

Standard library only, so importing it adds no dependency to a notebook.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def project_path(path):
    """``path`` as an absolute path; relative paths are relative to the project root."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else ROOT / path


#: The folder, beside the report's page, of the executed notebooks rendered as pages (the report links to them).
RUNS_DIR = "runs"


def run_page(notebook, setting_id=None):
    """The file name, under :data:`RUNS_DIR`, of an executed notebook's rendered page: ``notebook``
    ("gradient_check", "train" or "figures"), and for a setting's run its id (``train_<setting>.html``)."""
    return f"{notebook}.html" if setting_id is None else f"{notebook}_{setting_id}.html"
