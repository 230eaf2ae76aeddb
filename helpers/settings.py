"""The settings file: one training run per row.

``settings.csv`` has a header row and one row per setting. Required columns:
``lam, eta, n_batch, n_epochs``; optional: ``init_std`` (default 0.01) and
``seed`` (default 2022). Blank lines and lines starting with ``#`` are ignored.
Adding a row adds a run to the Makefile, Table 1 and both figures; no code
changes are needed.

This module only uses the standard library, so the Makefile can read the file
before the virtual environment exists.
"""

import csv
import io
from pathlib import Path

from helpers.errors import ParameterError
from helpers.params import validate_params

REQUIRED = ("lam", "eta", "n_batch", "n_epochs")
OPTIONAL = ("init_std", "seed")


def parse_number(text):
    """Parse ``text`` as int if it is an integer literal, else float; else return it unchanged."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_settings(text, source="settings.csv"):
    """Parse the text of a settings file.

    Returns
    -------
    list of TrainParams
        In file order.

    Raises
    ------
    ParameterError
        Naming the file, the line and the row of the first bad row.
    """
    lines = [(no, line) for no, line in enumerate(text.splitlines(), 1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise ParameterError(f"{source} is empty; it needs a header ({','.join(REQUIRED)}) and one row per setting")
    header_no, header = lines[0]
    columns = [c.strip() for c in next(csv.reader([header]))]
    missing = [c for c in REQUIRED if c not in columns]
    unknown = [c for c in columns if c not in REQUIRED + OPTIONAL]
    if missing or unknown:
        raise ParameterError(
            f"{source} line {header_no}: header must have columns {', '.join(REQUIRED)} "
            f"(optional: {', '.join(OPTIONAL)}); missing {missing or 'none'}, unknown {unknown or 'none'}"
        )
    runs, seen = [], {}
    for row_no, (line_no, line) in enumerate(lines[1:], 1):
        values = next(csv.reader(io.StringIO(line)))
        where = f"{source} row {row_no} (line {line_no})"
        if len(values) != len(columns):
            raise ParameterError(f"{where}: has {len(values)} values, the header has {len(columns)}")
        kwargs = {c: parse_number(v) for c, v in zip(columns, values)}
        try:
            params = validate_params(**kwargs)
        except ParameterError as exc:
            raise ParameterError(f"{where}: {exc}") from None
        if params.run_id in seen:
            raise ParameterError(f"{where}: repeats row {seen[params.run_id]}")
        seen[params.run_id] = row_no
        runs.append(params)
    if not runs:
        raise ParameterError(f"{source} has a header but no settings rows")
    return runs


def read_settings(path):
    """Read and validate the settings file at ``path`` (see :func:`parse_settings`)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ParameterError(f"cannot read the settings file {path} ({exc.strerror or exc})") from None
    return parse_settings(text, source=str(path))
