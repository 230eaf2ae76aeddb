"""What the original report printed: its numbers, as printed, and its claims, in our words.

The original: "KTH DD2424 Deep Learning in Data Science, Assignment 1", by Ali
Banaei Mobarak Abadi, April 1, 2022. Its numbers are facts and are kept here as
the strings it printed, so that their precision (the rounding half-unit) is
known. Its claims (section 1.2 and 1.1) are paraphrased, never quoted at length.
"""

from decimal import Decimal

CITATION = ('"KTH DD2424 Deep Learning in Data Science, Assignment 1", '
            "Ali Banaei Mobarak Abadi, April 1, 2022")

#: Table 1 of the original: (lam, eta) -> printed test loss, cost, accuracy.
TABLE1 = {
    (0.0, 0.1): ("6.92", "6.92", "0.27"),
    (0.0, 0.001): ("2.02", "2.02", "0.32"),
    (0.1, 0.001): ("1.74", "1.80", "0.41"),
    (1.0, 0.001): ("1.85", "1.92", "0.37"),
}

#: Section 1.1 of the original (centred differences; its subset is not stated):
#: gradient -> statistic -> printed value.
GRADCHECK = {
    "W": {"diff_mean": "5.12e-09", "diff_std": "3.75e-09", "diff_max": "2.11e-08",
          "grad_min": "-1.72", "grad_max": "1.53", "grad_std": "0.42"},
    "b": {"diff_mean": "1.60e-09", "diff_std": "1.33e-09", "diff_max": "4.21e-09",
          "grad_min": "-0.1", "grad_max": "0.064", "grad_std": "0.12"},
}
GRADCHECK_METHOD = "centred"

#: What the original states about how it produced each section: section -> choice -> the stated value.
#: A configuration that changes one of these contradicts the original and is never an explanation.
#: Section 1.1: the slower (centred) method for the final check, W and b drawn with variance 4.
#: Table 1: the settings' λ and η are its rows; n_batch 100 and 40 epochs (the course's settings it
#: says it used), and 5000 of the training images validate, the rest (45000) train.
STATED = {
    "1.1": {"method": "centred", "variance": 4.0},
    "Table 1": {"n_batch": 100, "n_epochs": 40, "split": "course", "n_val": 5000},
}

#: The original's claims, paraphrased: id -> (where, statement).
CLAIMS = {
    "eta-0.1": ("1.2", "With η = 0.1 the model is already fairly good after the first epoch, "
                       "but it keeps overshooting and does not converge."),
    "eta-0.001": ("1.2", "With η = 0.001 training converges and the final accuracy is higher."),
    "lambda-gap": ("1.2", "Without regularisation (λ = 0) training and validation loss and accuracy differ "
                          "clearly; the difference shrinks as λ grows."),
    "lambda-1": ("1.2", "λ = 1 performs worse than λ = 0.1."),
    "smooth-W": ("1.2", "The larger λ, the smoother the images of W (Figure 2)."),
    "gradients": ("1.1", "The differences between analytic and numerical gradients are tiny "
                         "while the gradients themselves are not."),
}


def value(text):
    """The printed number as a float."""
    return float(text)


def half_unit(text):
    """Half a unit of the last printed digit: the rounding error of the printed number.

    ``"0.27"`` -> 0.005, ``"5.12e-09"`` -> 5e-12, ``"-0.1"`` -> 0.05.
    """
    exponent = Decimal(text).as_tuple().exponent
    return 0.5 * 10.0 ** exponent


def table1_numbers():
    """Every number of the original's Table 1: dicts with ``lam``, ``eta``, ``metric``, ``text``."""
    return [{"lam": lam, "eta": eta, "metric": metric, "text": text}
            for (lam, eta), row in TABLE1.items() for metric, text in zip(("loss", "cost", "accuracy"), row)]
