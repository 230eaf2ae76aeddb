"""The names of the rendered run pages: the report links to them, the build renders them (``pipeline.render``).

Apart from :mod:`helpers.paths`, which every notebook imports: renaming a page re-renders the report and
retrains nothing.
"""

#: Where the report's provenance links point, relative to its page: the executed notebooks, rendered with their code
#: (``python -m pipeline render-runs``, run by ``make report``).
RUNS_DIR = "runs"


def run_page(notebook, setting_id=None):
    """The file name, under :data:`RUNS_DIR`, of an executed notebook's rendered page: ``notebook``
    ("gradient_check", "train" or "figures"), and for a setting's run its id (``train_<setting>.html``)."""
    return f"{notebook}.html" if setting_id is None else f"{notebook}_{setting_id}.html"
