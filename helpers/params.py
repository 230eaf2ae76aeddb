"""Parameters of a run: training parameters (validated, with stable identifiers) and data options.

Every value is checked before any training starts, with a message that names
the parameter and its allowed range. Integers are accepted where floats are
expected (papermill turns ``-p lam 0`` into ``int 0``); booleans and strings
are not.
"""

import math
import numbers
from dataclasses import asdict, dataclass, field, make_dataclass

from helpers.errors import ParameterError


#: W and b are drawn from N(0, DEFAULT_INIT_STD²) unless a setting or variant says otherwise: the course's value.
DEFAULT_INIT_STD = 0.01


def _real(name, value, low, low_open, allowed, high=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{name}={value!r} is not a number; allowed: {allowed}")
    value = float(value)
    if (not math.isfinite(value) or value < low or (low_open and value == low)
            or (high is not None and value >= high)):
        raise ParameterError(f"{name}={value:g} is out of range; allowed: {allowed}")
    return value


def _integer(name, value, low, high=None, allowed=""):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value).is_integer():
            value = int(value)
        else:
            raise ParameterError(f"{name}={value!r} is not an integer; allowed: {allowed}")
    value = int(value)
    if value < low or (high is not None and value > high):
        raise ParameterError(f"{name}={value} is out of range; allowed: {allowed}")
    return value


def _word(name, value, words):
    if value not in words:
        raise ParameterError(f"{name}={value!r} is not allowed; allowed: {', '.join(map(repr, words))}")
    return value


@dataclass(frozen=True)
class Choice:
    """One training choice of a run, declared once: everything else about it is derived from here.

    Attributes
    ----------
    name : str
        The parameter's name: the settings.csv column, the variants' override key, the key in the
        training notebook's ``run`` and in results.json's ``params``.
    kind : {"real", "integer", "word"}
    default : object
        The course's value (None: lam and eta have none).
    low, low_open, high : numbers, optional
        The allowed range of a real or integer (``high`` is exclusive for a real, inclusive for an integer).
    words : tuple of str
        The values a word may take, the course's first.
    tag : str
        The folder-name part: always written for a required choice (``nb100``), otherwise only when the
        value is not the default (``_std0.1``, ``_b-zero``).
    label : str
        How captions name it (``λ``).
    required : bool
        Every settings.csv row gives it (a column of its own, always in the folder name and the label's
        start); the others are optional columns and variants' overrides.
    """

    name: str
    kind: str
    default: object = None
    low: float = 0
    low_open: bool = False
    high: float | None = None
    words: tuple = ()
    tag: str = ""
    label: str = ""
    required: bool = False

    @property
    def allowed(self):
        """The allowed values in words, for error messages."""
        if self.kind == "word":
            return " or ".join(map(repr, self.words))
        what = "an integer" if self.kind == "integer" else "a number"
        if self.high is not None:
            return f"{what} from {self.low:g} to {self.high:g}" + (" (exclusive)" if self.kind == "real" else "")
        return f"{what} {'>' if self.low_open else '>='} {self.low:g}"

    def check(self, value, high=None):
        """The value validated (an integral float becomes an int, an int a float); raises ParameterError."""
        if self.kind == "word":
            return _word(self.name, value, self.words)
        if self.kind == "integer":
            high = high if high is not None else self.high
            allowed = f"an integer from {self.low} to {high}" if high is not None else self.allowed
            return _integer(self.name, value, self.low, high, allowed)
        return _real(self.name, value, self.low, self.low_open, self.allowed, self.high)

    def part(self, value):
        """This choice's part of a setting's folder name ("" for a default that is left out)."""
        if self.required:
            return f"{self.tag}{_fmt(value) if self.kind == 'real' else value}"
        if value == self.default:
            return ""
        return f"_{self.tag}{_fmt(value) if self.kind == 'real' else value}"


#: The training choices of a run, in the order ``validate_params`` takes them positionally. A new choice is
#: one line here (and the code that uses its value): the settings' columns and overrides, make's ``-p``
#: arguments, the notebook's check, ``pipeline.expect``, results.json and the report's labels follow.
TRAIN_CHOICES = (
    Choice("lam", "real", tag="lam", label="λ", required=True),
    Choice("eta", "real", low_open=True, tag="eta", label="η", required=True),
    Choice("n_batch", "integer", 100, low=1, tag="nb", label="n_batch", required=True),
    Choice("n_epochs", "integer", 40, low=1, tag="ep", label="n_epochs", required=True),
    Choice("init_std", "real", DEFAULT_INIT_STD, low_open=True, tag="std", label="init_std"),
    Choice("seed", "integer", 2022, low=0, label="seed"),
    # b's start: drawn like W (the course), or zeros
    Choice("b_init", "word", "like-W", words=("like-W", "zero"), tag="b-", label="b starts"),
    # the training targets (1 - smooth) one-hot + smooth / K: 0 is one-hot (the course)
    Choice("smooth", "real", 0.0, high=1.0, tag="smooth", label="label smoothing"),
)
CHOICES = {c.name: c for c in TRAIN_CHOICES}
#: The choices that name a setting (all but the seed: a setting's runs with several seeds share a folder).
SETTING_CHOICES = tuple(c.name for c in TRAIN_CHOICES if c.name != "seed")
#: The choices a settings row may leave blank and a variant may override (all but λ, η, n_batch, epochs, seed).
OPTIONAL_CHOICES = tuple(c.name for c in TRAIN_CHOICES if not c.required and c.name != "seed")


class _Params:
    """Methods of :class:`TrainParams` (its fields come from :data:`TRAIN_CHOICES`)."""

    def as_dict(self):
        return asdict(self)

    @property
    def setting_id(self):
        """A file-name-safe identifier of the setting, e.g. ``lam0_eta0.1_nb100_ep40_std0.1``.

        Every required choice is in it, and every other choice whose value is not the course's; the
        seed is not (a setting's runs with several seeds share it).
        """
        parts = [CHOICES[n].part(getattr(self, n)) for n in SETTING_CHOICES]
        return "_".join(p for p in parts if p and not p.startswith("_")) + "".join(p for p in parts if p.startswith("_"))

    @property
    def label(self):
        """Human label for captions: λ and η, plus every other choice (but the seed) not at the course's value."""
        parts = []
        for name in SETTING_CHOICES:
            c, value = CHOICES[name], getattr(self, name)
            if c.default is None or value != c.default:
                parts.append(f"{c.label} = {_fmt(value) if c.kind == 'real' else value}")
        return ", ".join(parts)

    @property
    def changes(self):
        """{name: value} of the choices (but λ, η and the seed) that differ from the course's."""
        return {n: getattr(self, n) for n in SETTING_CHOICES
                if CHOICES[n].default is not None and getattr(self, n) != CHOICES[n].default}

    @property
    def is_original_setting(self):
        """True when every choice but λ, η (and the seed) is the original report's: the course's defaults."""
        return not self.changes


#: Hyperparameters of one training run: one field per choice of :data:`TRAIN_CHOICES`, frozen.
TrainParams = make_dataclass(
    "TrainParams",
    [(c.name, {"real": float, "integer": int, "word": str}[c.kind])
     if c.default is None else (c.name, object, field(default=c.default)) for c in TRAIN_CHOICES],
    bases=(_Params,), frozen=True)
TrainParams.__module__ = __name__
TrainParams.__doc__ = "Hyperparameters of one training run; fields: " + ", ".join(CHOICES) + " (TRAIN_CHOICES)."


def group_dir(results_root, variant, setting):
    """The folder of a setting's runs in a variant, ``results_root/variant/setting_id``: the one place it is made.

    ``setting`` is the TrainParams the variant trains (the row with the variant's overrides).
    """
    return f"{results_root}/{variant}/{setting.setting_id}"


def split_run(run, n_val=5000, n_train=None):
    """A run's description {training choice or data option: value} -> (TrainParams, DataOptions), validated.

    A choice or option left out takes the course's value. ``n_batch`` may not exceed the training set
    (``n_train``, or the split's own size when None).
    """
    unknown = [k for k in run if k not in CHOICES and k not in DATA_OPTIONS]
    if unknown:
        raise ParameterError(f"unknown choice {unknown[0]!r} in the run; allowed: {', '.join((*CHOICES, *DATA_OPTIONS))}")
    options = DataOptions(n_val=n_val, **{k: v for k, v in run.items() if k in DATA_OPTIONS})
    setting = validate_params(n_train=options.n_train if n_train is None else n_train,
                              **{k: v for k, v in run.items() if k in CHOICES})
    return setting, options


def _fmt(x):
    """Short but exact enough to tell settings apart (15 significant digits)."""
    return format(float(x), ".15g")


def validate_choice(name, value, n_train=None):
    """One training choice's value, validated; raises ParameterError naming it and its allowed range."""
    if name not in CHOICES:
        raise ParameterError(f"unknown training choice {name!r}; allowed: {', '.join(CHOICES)}")
    return CHOICES[name].check(value, n_train if name == "n_batch" else None)


def validate_params(*args, n_train=None, **kwargs):
    """Check every training parameter and return them as :class:`TrainParams`.

    Positional arguments follow :data:`TRAIN_CHOICES` (lam, eta, n_batch, n_epochs, init_std, seed, ...);
    a choice not given takes its default (lam and eta have none).

    Parameters
    ----------
    n_train : int or None
        Size of the training set; when given, ``n_batch`` may not exceed it.

    Raises
    ------
    ParameterError
        Naming the first invalid parameter and its allowed range.
    """
    if len(args) > len(TRAIN_CHOICES):
        raise ParameterError(f"too many values: the training choices are {', '.join(CHOICES)}")
    values = dict(zip(CHOICES, args))
    for name, value in kwargs.items():
        if name in values:
            raise ParameterError(f"{name} is given twice")
        values[name] = value
    unknown = [n for n in values if n not in CHOICES]
    if unknown:
        raise ParameterError(f"unknown training choice {unknown[0]!r}; allowed: {', '.join(CHOICES)}")
    missing = [c.name for c in TRAIN_CHOICES if c.default is None and c.name not in values]
    if missing:
        raise ParameterError(f"{missing[0]} is required; allowed: {CHOICES[missing[0]].allowed}")
    return TrainParams(**{n: validate_choice(n, v, n_train) for n, v in values.items()})


BATCH_SIZE = 10000
SPLITS = ("course", "one-batch")
#: The data options that take one of a few words, declared once: option -> the words allowed, the course's
#: first. The settings' overrides, the cache command's flags, the notebook's parameters and the cache's
#: folder name all come from here.
WORDS = {
    "split": SPLITS,
    "dtype": ("float64", "float32"),
    # what the mean and std are pooled over: each of the 3072 dimensions (the course), each colour
    # channel, or every pixel at once
    "norm": ("dimension", "channel", "pixel"),
    # which images give the mean and std: the training part of the split (the course), or all 50000
    "stats": ("train", "all"),
    # which images of the course split validate: the last n_val (the course), or the first
    "val": ("last", "first"),
}
#: The data options in the order a variant's overrides and the cache command list them.
DATA_OPTIONS = ("split", "normalise", "dtype", "norm", "stats", "val")


@dataclass(frozen=True)
class DataOptions:
    """How the data are split and preprocessed.

    Attributes
    ----------
    split : {"course", "one-batch"}
    n_val : int
        Validation images taken from the training batches (``course`` only).
    normalise : bool
        Normalise by the mean and std of the training set's [0, 1] pixels.
    dtype : {"float64", "float32"}
    norm : {"dimension", "channel", "pixel"}
        What the mean and std are pooled over when normalising (:data:`WORDS`).
    stats : {"train", "all"}
        Which images give the mean and std: the training part, or all 50000 training-batch images.
    val : {"last", "first"}
        Which ``n_val`` images of the course split validate.
    """

    split: str = "course"
    n_val: int = 5000
    normalise: bool = True
    dtype: str = "float64"
    norm: str = "dimension"
    stats: str = "train"
    val: str = "last"

    def __post_init__(self):
        for name, allowed in WORDS.items():
            if getattr(self, name) not in allowed:
                raise ParameterError(f"{name}={getattr(self, name)!r} is not allowed; allowed: "
                                     f"{', '.join(map(repr, allowed))}")
        if not isinstance(self.normalise, bool):
            raise ParameterError(f"normalise={self.normalise!r} is not allowed; allowed: true or false")

    @property
    def n_train(self):
        """Training images of this split (50000 training images in all)."""
        return BATCH_SIZE if self.split == "one-batch" else 5 * BATCH_SIZE - self.n_val

    @property
    def key(self):
        """A folder name determined by every option, e.g. ``course-val5000-norm-float64`` (an option at the
        course's value adds nothing; another adds ``-name-value``, e.g. ``-norm-channel``)."""
        split = f"course-val{self.n_val}" if self.split == "course" else self.split
        extra = "".join(f"-{k}-{getattr(self, k)}" for k in ("norm", "stats", "val") if getattr(self, k) != WORDS[k][0])
        return f"{split}-{'norm' if self.normalise else 'raw'}-{self.dtype}{extra}"


def parse_data_option(key, text):
    """A data option's value from its text (``"false"`` -> False for ``normalise``); raises ParameterError."""
    value = text.strip()
    if key == "normalise":
        if value.lower() not in ("true", "false"):
            raise ParameterError(f"{key}={text!r} is not allowed; allowed: true or false")
        return value.lower() == "true"
    if key not in WORDS:
        raise ParameterError(f"unknown data option {key!r}; allowed: {', '.join(DATA_OPTIONS)}")
    DataOptions(**{key: value})  # checks the value
    return value
