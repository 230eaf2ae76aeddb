"""Parameters of a run: training parameters (validated, with stable identifiers) and data options.

Every value is checked before any training starts, with a message that names
the parameter and its allowed range. Integers are accepted where floats are
expected (papermill turns ``-p lam 0`` into ``int 0``); booleans and strings
are not.
"""

import math
import numbers
from dataclasses import asdict, dataclass, fields

from helpers.errors import ParameterError


#: W and b are drawn from N(0, DEFAULT_INIT_STD²) unless a setting or variant says otherwise: the course's value.
DEFAULT_INIT_STD = 0.01


@dataclass(frozen=True)
class TrainParams:
    """Hyperparameters of one training run.

    Attributes
    ----------
    lam : float
        L2 penalty strength, >= 0.
    eta : float
        Learning rate, > 0.
    n_batch : int
        Mini-batch size, 1..n_train.
    n_epochs : int
        Number of epochs, >= 1.
    init_std : float
        W and b are drawn from N(0, init_std**2); > 0. The course uses :data:`DEFAULT_INIT_STD`.
    seed : int
        Seed of the run's generator (initialisation and shuffling), >= 0.
    """

    lam: float
    eta: float
    n_batch: int = 100
    n_epochs: int = 40
    init_std: float = DEFAULT_INIT_STD
    seed: int = 2022

    def as_dict(self):
        return asdict(self)

    @property
    def setting_id(self):
        """A file-name-safe identifier of the setting: λ, η, n_batch, epochs (and init_std if not the default).

        The seed is not part of it: a setting's runs with several seeds share it.
        """
        std = "" if self.init_std == DEFAULT_INIT_STD else f"_std{_fmt(self.init_std)}"
        return f"lam{_fmt(self.lam)}_eta{_fmt(self.eta)}_nb{self.n_batch}_ep{self.n_epochs}{std}"

    @property
    def label(self):
        """Human label for captions: λ and η, plus n_batch, epochs and init_std when not the default."""
        parts = [f"λ = {_fmt(self.lam)}", f"η = {_fmt(self.eta)}"]
        for f in fields(self)[2:5]:
            value = getattr(self, f.name)
            if value != f.default:
                parts.append(f"{f.name} = {_fmt(value) if isinstance(value, float) else value}")
        return ", ".join(parts)

    @property
    def is_original_setting(self):
        """True when n_batch, n_epochs and init_std are the original report's (100, 40 and the course's 0.01)."""
        return self.n_batch == 100 and self.n_epochs == 40 and self.init_std == DEFAULT_INIT_STD


def _fmt(x):
    """Short but exact enough to tell settings apart (15 significant digits)."""
    return format(float(x), ".15g")


def _real(name, value, low, low_open, allowed):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{name}={value!r} is not a number; allowed: {allowed}")
    value = float(value)
    if not math.isfinite(value) or value < low or (low_open and value == low):
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


def validate_params(lam, eta, n_batch=100, n_epochs=40, init_std=DEFAULT_INIT_STD, seed=2022, n_train=None):
    """Check every training parameter and return them as :class:`TrainParams`.

    Parameters
    ----------
    n_train : int or None
        Size of the training set; when given, ``n_batch`` may not exceed it.

    Raises
    ------
    ParameterError
        Naming the first invalid parameter and its allowed range.
    """
    high = n_train if n_train is not None else None
    batch_range = f"an integer from 1 to {n_train}" if n_train else "an integer >= 1"
    return TrainParams(
        lam=_real("lam", lam, 0.0, False, "a number >= 0"),
        eta=_real("eta", eta, 0.0, True, "a number > 0"),
        n_batch=_integer("n_batch", n_batch, 1, high, batch_range),
        n_epochs=_integer("n_epochs", n_epochs, 1, None, "an integer >= 1"),
        init_std=_real("init_std", init_std, 0.0, True, "a number > 0"),
        seed=_integer("seed", seed, 0, None, "an integer >= 0"),
    )


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
