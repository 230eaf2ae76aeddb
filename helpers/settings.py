"""The runs of the report: settings (λ, η, ...), variants (how the data and model are set up) and seeds.

``settings.csv`` has a header row and one row per setting. Required columns:
``lam, eta, n_batch, n_epochs``; optional: the other training choices (``init_std``,
``b_init``, ``smooth``: a row may leave them blank, the course's value) and ``variants``, the
variants of ``variants.csv`` the row is trained in besides the course: blank (the course
only, the default for a new row), ``all``, or names separated by spaces.

``variants.csv`` has one row per variant: ``name, seeds, overrides, description``.
``seeds`` is a space-separated list of training seeds; ``overrides`` is a
``;``-separated list of ``key=value`` changes to the course's setup, with keys
``init_std`` (W and b drawn from N(0, init_std²)), ``split`` (``course`` or
``one-batch``), ``normalise`` (``true``/``false``), ``dtype``, ``norm``
(``dimension``, ``channel`` or ``pixel``), ``stats`` (``train`` or ``all``) and
``val`` (``last`` or ``first``): :data:`helpers.params.WORDS`. The variant
named ``course`` (no overrides) is the report's own setup: Table 1 and the
figures show it. Every setting is trained in the course and in the variants its
``variants`` column names, once per seed of the variant.

In both files blank lines and lines starting with ``#`` are ignored. Adding a
row adds its runs to the Makefile, the tables and the figures; no code changes
are needed.
"""

import csv
import io
import re
from dataclasses import dataclass, replace
from pathlib import Path

from helpers.errors import ParameterError
from helpers.params import DATA_OPTIONS, OPTIONAL_CHOICES, TRAIN_CHOICES, DataOptions, parse_data_option, validate_choice, validate_params

#: settings.csv's columns, from the declaration of the training choices (helpers.params.TRAIN_CHOICES).
REQUIRED = tuple(c.name for c in TRAIN_CHOICES if c.required)
OPTIONAL = OPTIONAL_CHOICES
#: settings.csv's column naming the variants a row is trained in besides the course, and its word for every one.
TRAINED_IN, ALL = "variants", "all"
VARIANT_COLUMNS = ("name", "seeds", "overrides", "description")
BASELINE = "course"
#: Overrides a variant may set: the optional training choices and the data options.
TRAIN_OVERRIDES = OPTIONAL
DATA_OVERRIDES = DATA_OPTIONS
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


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


def _rows(text, source, required, optional, what):
    """(where, {column: text}) for every row of a CSV text, header checked."""
    lines = [(no, line) for no, line in enumerate(text.splitlines(), 1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise ParameterError(f"{source} is empty; it needs a header ({','.join(required)}) and one row per {what}")
    header_no, header = lines[0]
    columns = [c.strip() for c in next(csv.reader([header]))]
    missing = [c for c in required if c not in columns]
    unknown = [c for c in columns if c not in required + optional]
    if missing or unknown:
        hint = "; the seeds are set per variant, in variants.csv" if "seed" in unknown else ""
        raise ParameterError(
            f"{source} line {header_no}: header must have columns {', '.join(required)} "
            f"(optional: {', '.join(optional) + ', which a row may leave blank' if optional else 'none'}); "
            f"missing {missing or 'none'}, unknown {unknown or 'none'}{hint}"
        )
    rows = []
    for row_no, (line_no, line) in enumerate(lines[1:], 1):
        values = next(csv.reader(io.StringIO(line)))
        where = f"{source} row {row_no} (line {line_no})"
        if len(values) != len(columns):
            raise ParameterError(f"{where}: has {len(values)} values, the header has {len(columns)}")
        rows.append((row_no, where, dict(zip(columns, values))))
    if not rows:
        raise ParameterError(f"{source} has a header but no {what} rows")
    return rows


def _parse_setting_rows(text, source):
    """[(TrainParams, variants the row is trained in besides the course: ALL or a tuple of names)]."""
    runs, seen = [], {}
    for row_no, where, row in _rows(text, source, REQUIRED, OPTIONAL + (TRAINED_IN,), "settings"):
        named = row.pop(TRAINED_IN, "").split()
        try:   # an optional column left blank: its default
            params = validate_params(**{c: parse_number(v) for c, v in row.items() if c in REQUIRED or v.strip()})
            if ALL in named and len(named) > 1:
                raise ParameterError(f"{TRAINED_IN} is {ALL!r} or names of variants, not both")
            if len(set(named)) < len(named):
                raise ParameterError(f"{TRAINED_IN} names a variant twice")
            bad = [n for n in named if n != ALL and not _NAME.match(n)]
            if bad:
                raise ParameterError(f"{TRAINED_IN} holds {bad[0]!r}, which is no variant's name; allowed: {ALL!r} or "
                                     "names of variants.csv, separated by spaces")
        except ParameterError as exc:
            raise ParameterError(f"{where}: {exc}") from None
        if params.setting_id in seen:
            raise ParameterError(f"{where}: repeats row {seen[params.setting_id]}")
        seen[params.setting_id] = row_no
        runs.append((params, ALL if named == [ALL] else tuple(n for n in named if n != BASELINE)))
    return runs


def parse_settings(text, source="settings.csv"):
    """Parse the text of a settings file.

    Returns
    -------
    list of TrainParams
        In file order (seed: the default; the variants give the seeds).

    Raises
    ------
    ParameterError
        Naming the file, the line and the row of the first bad row.
    """
    return [params for params, _ in _parse_setting_rows(text, source)]


def parse_setting_rows(text, source="settings.csv"):
    """The settings (:func:`parse_settings`) and the variants each is trained in (:func:`parse_trained_in`),
    from one parse of the text."""
    rows = _parse_setting_rows(text, source)
    return [params for params, _ in rows], {params.setting_id: named for params, named in rows}


def parse_trained_in(text, source="settings.csv"):
    """The variants each row of a settings file is trained in besides the course.

    Returns
    -------
    dict
        ``setting_id`` -> :data:`ALL` or a tuple of variant names (empty: the course only).
    """
    return parse_setting_rows(text, source)[1]


def named_variants(setting, trained_in=None):
    """The variants besides the course that ``setting`` is trained in: :data:`ALL`, or a tuple of names
    (empty: the course only). ``trained_in``: :func:`parse_trained_in`; None: every variant."""
    return ALL if trained_in is None else trained_in.get(setting.setting_id, ())


def training_pairs(settings, variants, trained_in=None):
    """The (variant, row) pairs a build trains, variant by variant in the order of ``variants``.

    Every row is trained in the course (the baseline: Table 1 and the figures); in another variant
    when its ``variants`` column names it or says ``all``.

    Parameters
    ----------
    settings : list of TrainParams
    variants : list of Variant
    trained_in : dict or None
        :func:`parse_trained_in` of the settings file; None: every row in every variant.

    Raises
    ------
    ParameterError
        A row names a variant that ``variants`` does not have.
    """
    if trained_in is not None:
        known = [v.name for v in variants]
        for row_no, s in enumerate(settings, 1):
            named = named_variants(s, trained_in)
            unknown = [] if named == ALL else [n for n in named if n not in known]
            if unknown:
                raise ParameterError(f"settings row {row_no} ({s.label}): {TRAINED_IN} names {unknown[0]!r}, which is "
                                     f"not a variant; the variants: {', '.join(known)} (or {ALL!r} for every one)")

    def wanted(v, s):
        named = named_variants(s, trained_in)
        return v.name == BASELINE or named == ALL or v.name in named

    return [(v, s) for v in variants for s in settings if wanted(v, s)]


@dataclass(frozen=True)
class Variant:
    """One way of running the same code (a row of ``variants.csv``).

    Attributes
    ----------
    name : str
    seeds : tuple of int
    train : dict
        Overrides of the training choices (``init_std``, ``b_init``, ``smooth``).
    data : dict
        Overrides of the data options (``split``, ``normalise``, ``dtype``).
    description : str
    """

    name: str
    seeds: tuple
    train: dict
    data: dict
    description: str = ""

    def __hash__(self):
        return hash((self.name, self.seeds))

    @property
    def overrides_text(self):
        """The overrides as written in the file, normalised (``key=value; ...``), or ``none``."""
        items = {**self.train, **self.data}
        return "; ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in items.items()) or "none"


def parse_overrides(text):
    """``"init_std=0.1; normalise=false"`` -> ({"init_std": 0.1}, {"normalise": False}): training choices, data options."""
    train, data = {}, {}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        key, sep, value = (s.strip() for s in item.partition("="))
        if not sep or not value:
            raise ParameterError(f"override {item!r} is not of the form key=value")
        if key in TRAIN_OVERRIDES:
            train[key] = validate_choice(key, parse_number(value))
        elif key in DATA_OVERRIDES:
            data[key] = parse_data_option(key, value)
        else:
            raise ParameterError(f"unknown override {key!r}; allowed: {', '.join(TRAIN_OVERRIDES + DATA_OVERRIDES)}")
    return train, data


def parse_seeds(text):
    """``"2022 2023"`` -> (2022, 2023): distinct integers >= 0, at least one."""
    seeds = []
    for part in text.replace(",", " ").split():
        seed = parse_number(part)
        if not isinstance(seed, int) or seed < 0:
            raise ParameterError(f"seed {part!r} is not an integer >= 0")
        if seed in seeds:
            raise ParameterError(f"seed {seed} is listed twice")
        seeds.append(seed)
    if not seeds:
        raise ParameterError("no seeds; list at least one (e.g. 2022 2023 2024)")
    return tuple(seeds)


def parse_variants(text, source="variants.csv"):
    """Parse the text of a variants file.

    Returns
    -------
    list of Variant
        In file order; the first is the baseline ``course``.
    """
    variants = {}
    for _, where, row in _rows(text, source, VARIANT_COLUMNS, (), "variant"):
        name = row["name"].strip()
        try:
            if not _NAME.match(name):
                raise ParameterError(f"name {name!r} must be lower-case letters, digits, '.', '_' or '-'")
            if name in variants:
                raise ParameterError(f"repeats the variant {name!r}")
            train, data = parse_overrides(row["overrides"])
            if name == BASELINE and (train or data):
                raise ParameterError(f"the baseline {BASELINE!r} is the course's setup and takes no overrides")
            variants[name] = Variant(name, parse_seeds(row["seeds"]), train, data, row["description"].strip())
        except ParameterError as exc:
            raise ParameterError(f"{where}: {exc}") from None
    if BASELINE not in variants:
        raise ParameterError(f"{source} has no row named {BASELINE!r} (the course's own setup, the baseline)")
    return [variants[BASELINE]] + [v for k, v in variants.items() if k != BASELINE]


def _read(path, parse, what):
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ParameterError(f"cannot read the {what} file {path} ({exc.strerror or exc})") from None
    return parse(text, source=str(path))


def read_settings(path):
    """Read and validate the settings file at ``path`` (see :func:`parse_settings`)."""
    return _read(path, parse_settings, "settings")


def read_setting_rows(path):
    """The settings of the file at ``path`` and the variants each is trained in (see :func:`parse_setting_rows`)."""
    return _read(path, parse_setting_rows, "settings")


def read_variants(path):
    """Read and validate the variants file at ``path`` (see :func:`parse_variants`)."""
    return _read(path, parse_variants, "variants")


def check_batch_sizes(settings, variants, n_val, n_images=50000, trained_in=None):
    """Refuse a setting whose ``n_batch`` exceeds the training set of a variant it is trained in, before any run starts.

    Parameters
    ----------
    n_images : int
        Training images in all (the five batches; 50000 for CIFAR-10).
    trained_in : dict or None
        The variants each row is trained in (:func:`training_pairs`).

    Raises
    ------
    ParameterError
        Naming the setting, the variant and the allowed range.
    """
    for v, s in training_pairs(settings, variants, trained_in):
        options = DataOptions(n_val=n_val, **v.data)
        n_train = n_images // 5 if options.split == "one-batch" else n_images - n_val
        if s.n_batch > n_train:
            raise ParameterError(
                f"setting {s.label} with variant {v.name!r}: n_batch={s.n_batch} is out of range; "
                f"allowed: an integer from 1 to {n_train} (its training set)")


def run_setting(setting, variant):
    """The setting a variant's runs of ``setting`` train: the row with the variant's overrides (e.g. init_std)."""
    return replace(setting, **variant.train)


def check_duplicate_runs(settings, variants, trained_in=None):
    """Refuse, before any run, two (row, variant) pairs of different variants that would train the same runs.

    Two rows that one variant trains alike (a row with ``init_std`` 0.05 and one without, in a
    variant that sets ``init_std``) are one run: make trains it once and the report shows it under
    both rows. Across variants the runs live in each variant's folder, so the same parameters, data
    and seed in two variants (a row with ``init_std`` 0.1 in ``course`` and the variant
    ``init-std-0.1``) would be trained twice: refused, naming both.

    Parameters
    ----------
    trained_in : dict or None
        The variants each row is trained in (:func:`training_pairs`).

    Raises
    ------
    ParameterError
    """
    seen, row_of = {}, {s: no for no, s in enumerate(settings, 1)}
    for v, s in training_pairs(settings, variants, trained_in):
        row_no = row_of[s]
        key = (run_setting(s, v), tuple(sorted(DataOptions(**v.data).__dict__.items())))
        for other_v, other_row, other_s in seen.get(key, []):
            common = sorted(set(v.seeds) & set(other_v.seeds))
            if other_v.name != v.name and common:
                raise ParameterError(
                    f"settings row {row_no} ({s.label}) in variant {v.name!r} is the run of settings row "
                    f"{other_row} ({other_s.label}) in variant {other_v.name!r} (same parameters, data and "
                    f"seeds {' '.join(map(str, common))}): remove the row or change one of the variants")
        seen.setdefault(key, []).append((v, row_no, s))


#: The finer scale of init_std the deeper search of Table 1 tries, beside the variants' own values.
#: init_std values the deeper search tries besides the variants' own: a log scale from 0.003 to 0.3, finer
#: around 0.1, where Table 1's best explanation lay (0.1 to 0.2 was a gap before).
FINE_INIT_STD = (0.003, 0.03, 0.05, 0.07, 0.13, 0.16, 0.2, 0.3)
#: Choices public implementations of the assignment differ on, tried alone by the deeper search
#: (``make search``) beside the variants' own: name -> (overrides, description). An override's key is a
#: training choice (helpers.params.TRAIN_CHOICES) or a data option (helpers.params.DATA_OPTIONS).
SEARCH_CHOICES = {
    "b-zero": ({"b_init": "zero"}, "b starts at zero; W is drawn as in the course"),
    "smooth-0.1": ({"smooth": 0.1}, "smoothed training targets: 0.9 on the label plus 0.01 on every class"),
    "smooth-0.3": ({"smooth": 0.3}, "smoothed training targets: 0.7 on the label plus 0.03 on every class"),
    "norm-channel": ({"norm": "channel"}, "inputs normalised by each colour channel's mean and std, not each dimension's"),
    "norm-pixel": ({"norm": "pixel"}, "inputs normalised by one mean and std over every pixel"),
    "stats-all": ({"stats": "all"}, "the mean and std taken over all 50000 training-batch images, validation included"),
    "val-first": ({"val": "first"}, "the first 5000 images validate, the last 45000 train"),
    "float32": ({"dtype": "float32"}, "single precision (float32) for the data and the weights"),
}


#: How many of the course's seeds (its first) each variant of the screen trains: few, since the screen compares
#: a choice with the course on the same seeds and pools the spreads over every configuration; the winner is
#: then trained with all the course's seeds (the confirm stage). Sized for `make search`'s 45-minute budget.
SCREEN_SEEDS = 2


def search_variants(variants, fine_init_std=FINE_INIT_STD, seeds=None, choices=SEARCH_CHOICES):
    """The screen of the deeper search of Table 1: each choice alone, a finer scale of init_std among them.

    Combinations are the combine stage's (:func:`helpers.likelihood.combinations`), of the choices that
    raise the score, so the screen trains no pairs.

    Parameters
    ----------
    variants : list of Variant
        The variants of ``variants.csv``, the baseline first.
    fine_init_std : sequence of float
        init_std values to try alone, besides those a variant already sets.
    seeds : tuple of int or None
        Seeds of each new variant (default: the baseline's first :data:`SCREEN_SEEDS`).
    choices : dict
        Choices to try alone (:data:`SEARCH_CHOICES`), unless a variant already makes them.

    Returns
    -------
    list of Variant
        The init_std values, named ``init-std-VALUE``, then the other choices.
    """
    seeds = seeds or variants[0].seeds[:SCREEN_SEEDS]
    out = []
    tried = {v.train.get("init_std") for v in variants if not v.data}
    for std in fine_init_std:
        if std not in tried:
            out.append(Variant(f"init-std-{std:g}", seeds, {"init_std": std}, {},
                               f"W and b drawn from N(0, {std:g}²)"))
    made = [{**v.train, **v.data} for v in variants]
    for name, (overrides, description) in choices.items():
        if overrides not in made:
            train = {k: v for k, v in overrides.items() if k in TRAIN_OVERRIDES}
            out.append(Variant(name, seeds, train, {k: v for k, v in overrides.items() if k not in train}, description))
    return out


def variants_csv(variants):
    """The text of a variants file for ``variants`` (read back by :func:`parse_variants`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(VARIANT_COLUMNS)
    for v in variants:
        writer.writerow([v.name, " ".join(map(str, v.seeds)), "" if v.overrides_text == "none" else v.overrides_text,
                         v.description])
    return out.getvalue()


def settings_csv(settings, trained_in=ALL):
    """The text of a settings file for ``settings``, each row trained in ``trained_in`` (read back by
    :func:`parse_settings` and :func:`parse_trained_in`): :data:`ALL` variants by default, as the deeper
    search's own files want."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REQUIRED + OPTIONAL + (TRAINED_IN,))
    named = trained_in if trained_in == ALL else " ".join(trained_in)
    writer.writerows([*(repr(v) if isinstance(v, float) else v for v in (getattr(s, c) for c in REQUIRED + OPTIONAL)),
                      named] for s in settings)
    return out.getvalue()
