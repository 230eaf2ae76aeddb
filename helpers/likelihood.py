"""The audit's answer: the one configuration that best explains a whole section of the original.

A *section* is a set of numbers the original printed from one run of one program: section 1.1's
twelve gradient-check statistics, or Table 1's twelve test metrics. A *configuration* is one set of
choices the original does not state (``changed``: the choices that differ from the course setup,
``{}`` for the course setup itself), with our values of every number over seeds (draws).

Scoring (the report prints :data:`FORMULAS`):

* Our values of a number under a configuration, over ``n`` seeds with mean ``m`` and sample std
  ``s``, give the distribution of the value one more run would print. Each run's value is taken to
  be normal; with its mean and std both estimated from ``n`` seeds, the value of one more run
  follows Student's t with ``n - 1`` degrees of freedom, centre ``m`` and scale
  ``s * sqrt(1 + 1/n)`` (the predictive distribution of a normal sample). Its tails are heavier than
  a normal's: three seeds do not pin a std down, so a miss by many spreads costs the logarithm of
  the distance, not its square. |Δ| statistics of the gradient check span orders of magnitude, so
  for them the same is fitted to the logarithms of the values (log-normal runs).
* The original's printed text ``x`` (last digit's unit ``u``) says the true value lies in an
  interval: ``[x - u/2, x + u/2]`` if it rounded, ``[x, x + u)`` if it cut (truncated) the digits
  (``(x - u, x]`` for a negative ``x``). The probability of the number is the mass the distribution
  puts on that interval; the log-likelihood of a configuration is the sum of the logs over the
  section's numbers. A configuration with a wide distribution spreads its mass thin, so it earns
  little for any single number: noise does not win.
* Each choice changed from the course setup costs ``ln(N) / 2`` (``N``: the section's count of
  numbers; the BIC's penalty per parameter), so the score is ``ln L - k ln(N) / 2``.
* A configuration that contradicts what the original states (:data:`helpers.original.STATED`) is
  never an explanation; it is scored and shown, but not named.
* The printing convention (rounded or cut) is one choice for the whole report: each convention's
  evidence is the sum over the sections of the best configuration's score under it.
* Calibration: each seed of the course setup in turn is a pretend original, printed with the
  original's digits; that seed is left out of every configuration, and the same search names a
  configuration. Any name other than the course setup explains pure seed noise: the share of such
  names is the false-explanation rate.
"""

import math
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

import numpy as np
from scipy import stats

from helpers import original

ROUNDED, CUT = "rounded", "cut"
#: The four verdicts of a printed number, in the order the report counts them (:func:`verdict`).
REPRODUCED, DIGITS, EXPLAINED, UNEXPLAINED = "reproduced", "within the printed digits", "explained", "unexplained"
VERDICTS = (REPRODUCED, DIGITS, EXPLAINED, UNEXPLAINED)
CONVENTIONS = (ROUNDED, CUT)
#: Statistics whose values span orders of magnitude: scored on a log scale.
LOG_STATS = frozenset({"diff_mean", "diff_std", "diff_max"})
#: How far, in the configuration's scales, a printed interval may lie from our mean and still be
#: reproduced: the two spreads of the project's earlier verdicts.
REPRODUCED_WITHIN = 2.0
#: The finest scale a distribution gets, as a share of the printed interval's width: values that do not
#: vary over seeds (a deterministic number) claim the value to 1 % of the printed last digit, not exactly,
#: so that far misses stay comparable instead of all being "impossible".
RESOLUTION = 0.01

FORMULAS = """\
* Our values of a number under one configuration (``n`` seeds, mean ``m``, sample std ``s``) give the
  distribution of what one more run prints: each run normal, so one more run follows Student's t with
  ``n − 1`` degrees of freedom, centre ``m`` and scale ``σ = s·sqrt(1 + 1/n)`` (the predictive
  distribution when mean and std are both estimated); for the gradient check's |Δ| statistics, the same
  on the logarithms of the values (log-normal runs).
  ``σ`` is at least 1 % of the printed interval's width (a value that never varies is known to that
  resolution, not exactly).
* The printed text ``x`` with last-digit unit ``u`` is an interval: ``[x − u/2, x + u/2]`` if the
  original *rounded*, ``[x, x + u)`` if it *cut* the digits (mirrored for negative ``x``).
* Probability of a number: the distribution's mass on that interval. Log-likelihood of a
  configuration for a section: the sum of the logs over the section's ``N`` numbers.
* Score: ``ln L − k·ln(N)/2``, ``k`` the choices changed from the course setup (BIC-like). The section's
  answer is the highest-scoring configuration that contradicts nothing the original states; its
  log-likelihood ratio is ``ln L(answer) − ln L(course setup)``.
* A number is *reproduced* by a configuration when its printed interval lies within ``2σ`` of ``m``
  (on the log scale for |Δ|).
* Printing convention: the one whose sections' best scores sum higher; the difference is its evidence.
* False-explanation rate: each course seed in turn printed as a pretend original (left out of every
  configuration); the share of those for which the search names anything but the course setup.
"""


# --- one printed number ----------------------------------------------------------------------

def unit(text):
    """The unit of the last printed digit: ``"0.27"`` -> 0.01, ``"5.12e-09"`` -> 1e-11."""
    return 10.0 ** Decimal(text).as_tuple().exponent


def printed_interval(text, convention):
    """The interval the true value lies in, given the printed ``text`` and the printing ``convention``.

    Parameters
    ----------
    text : str
        The number as printed.
    convention : {"rounded", "cut"}

    Returns
    -------
    (float, float)
        ``(lo, hi)``: rounded ``[x - u/2, x + u/2]``; cut ``[x, x + u]``, or ``[x - u, x]`` for a
        negative ``x`` (cutting moves a value toward zero).
    """
    x, u = float(text), unit(text)
    if convention == ROUNDED:
        return x - u / 2, x + u / 2
    if convention == CUT:
        return (x - u, x) if text.strip().startswith("-") else (x, x + u)
    raise ValueError(f"convention must be one of {CONVENTIONS}, not {convention!r}")


def printed_like(value, text, convention):
    """``value`` printed with the digits of ``text`` (the same last-digit unit) under ``convention``.

    ``printed_like(0.4167, "0.41", "cut")`` -> ``"0.41"``; with ``"rounded"`` -> ``"0.42"``.
    """
    exponent = Decimal(text).as_tuple().exponent
    rounding = ROUND_DOWN if convention == CUT else ROUND_HALF_EVEN
    return str(Decimal(repr(float(value))).quantize(Decimal(1).scaleb(exponent), rounding=rounding))


def predictive(values, log=False):
    """Centre, scale and degrees of freedom of the distribution of one more run's value, from ``values``.

    Returns
    -------
    (float, float, float)
        ``m``, ``σ = s·sqrt(1 + 1/n)`` (on the natural logarithm of the values when ``log``) and ``n - 1``
        (at least 1); ``σ`` is at least 1e-12 of ``|m|`` (and positive), so that identical values give a
        narrow, not a degenerate, distribution. NaN when a value is not finite (or not positive for ``log``).
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0 or not np.all(np.isfinite(v)) or (log and np.any(v <= 0)):
        return math.nan, math.nan, math.nan
    v = np.log(v) if log else v
    m = float(v.mean())
    s = float(v.std(ddof=1)) if v.size > 1 else 0.0
    return m, max(s * math.sqrt(1 + 1 / v.size), 1e-12 * abs(m), 1e-300), float(max(v.size - 1, 1))


def log_mass(lo, hi, m, sigma, df=math.inf):
    """``ln P(lo <= X <= hi)`` for ``X = m + sigma T``, ``T`` Student's t with ``df`` degrees of freedom
    (a normal when ``df`` is infinite); ``-inf`` when a parameter is NaN. Accurate far into the tails."""
    if not all(math.isfinite(v) for v in (lo, hi, m, sigma)) or hi <= lo or not df > 0:
        return -math.inf
    a, b = (lo - m) / sigma, (hi - m) / sigma
    if a + b < 0:  # mirror, so that the interval is on the upper side, where the survival function is exact
        a, b = -b, -a
    dist = stats.norm if math.isinf(df) else stats.t(df)
    la, lb = float(dist.logsf(a)), float(dist.logsf(b))
    return la + math.log1p(-math.exp(lb - la)) if lb < la else -math.inf


def scored_interval(text, convention, log=False):
    """:func:`printed_interval` on the scale a number is scored on: its natural logarithm when ``log`` (a log
    scale has no zero: an interval starting at or below 0 starts far below the printed value instead)."""
    lo, hi = printed_interval(text, convention)
    if not log:
        return lo, hi
    lo = lo if lo > 0 else min(hi, abs(float(text))) * 1e-3
    return math.log(lo), math.log(hi)


def number_log_likelihood(text, values, convention, log=False):
    """The log-probability that a run like ours prints ``text`` (see the module doc)."""
    lo, hi = scored_interval(text, convention, log)
    m, sigma, df = predictive(values, log)
    return log_mass(lo, hi, m, max(sigma, (hi - lo) * RESOLUTION), df)


def reproduces(text, values, convention, log=False):
    """True when the printed interval of ``text`` lies within ``2σ`` of our mean (see the module doc)."""
    lo, hi = scored_interval(text, convention, log)
    m, sigma, _ = predictive(values, log)
    if not math.isfinite(m):
        return False
    distance = 0.0 if lo <= m <= hi else min(abs(lo - m), abs(hi - m))
    return distance <= REPRODUCED_WITHIN * sigma


# --- sections and configurations -------------------------------------------------------------

def table1_numbers():
    """Table 1's numbers as a section: dicts with ``id`` ((λ, η, metric)), ``text``, ``log``, ``name``."""
    return [{"id": (n["lam"], n["eta"], n["metric"]), "text": n["text"], "log": False,
             "name": f"λ = {n['lam']:g}, η = {n['eta']:g}, {n['metric']}"} for n in original.table1_numbers()]


def gradcheck_numbers():
    """Section 1.1's numbers as a section: ``id`` ((param, stat)), ``text``, ``log`` (|Δ| statistics), ``name``."""
    return [{"id": (param, stat), "text": text, "log": stat in LOG_STATS, "name": f"g{param}, {stat.replace('_', ' ')}"}
            for param, stats in original.GRADCHECK.items() for stat, text in stats.items()]


def contradictions(section, changed):
    """The facts the original states that a configuration changing ``changed`` contradicts (list of str)."""
    stated = original.STATED[section]
    return [f"{k} = {v}, where the original states {stated[k]}" for k, v in changed.items()
            if k in stated and v != stated[k]]


def table1_configurations(records, baseline="course"):
    """Each variant of the training runs as one configuration of Table 1 (all settings at once).

    Parameters
    ----------
    records : list of dict
        :func:`helpers.audit.run_record` of every run.

    Returns
    -------
    list of dict
        ``name`` (the variant), ``changed`` (its overrides; ``{}`` for ``baseline``), ``values``
        (number id -> our values over seeds), ``seeds`` (number id -> the seeds, in the same order),
        ``contradicts`` (:func:`contradictions`).
    """
    configs = {}
    for r in records:
        if not r["original_setting"]:
            continue
        changed = {} if r["variant"] == baseline else dict(r["overrides"])
        # one configuration per set of choices: two variants that make the same choices (a confirmation's
        # extra seeds, helpers.likelihood.confirmation) pool their runs; the first variant names it
        c = configs.setdefault(_choices_key(changed), {"name": r["variant"], "values": {}, "seeds": {}, "changed": changed})
        for metric in ("loss", "cost", "accuracy"):
            key = (r["lam"], r["eta"], metric)
            c["values"].setdefault(key, []).append(r["test"][metric])
            c["seeds"].setdefault(key, []).append(r["seed"])
    return [{**c, "contradicts": contradictions("Table 1", c["changed"])} for c in configs.values()]


def _choices_key(changed):
    return tuple(sorted((k, repr(v)) for k, v in changed.items()))


# --- the search's stages: screen, combine, confirm (make search) -----------------------------

#: At most this many single choices that raise the score are combined in pairs (the rest only in the greedy chain).
COMBINE_PAIRS_OF = 4


def raising_choices(numbers, configs, convention):
    """The screen's verdict: per choice, the best value that raises a section's score over the course setup.

    A screen tries each choice alone with few seeds, so it asks only whether a choice moves the means
    toward the printed values: every configuration is scored with the same spread per number, pooled
    over all of them (:func:`screen_score`). With each configuration's own spread from its few seeds, the
    luck of those draws decides among choices that all miss by far (a spread that came out wide
    earns more there). And each configuration is compared with the course setup on the same seeds.

    Parameters
    ----------
    numbers, configs :
        A section's numbers and configurations (:func:`table1_configurations`), the course setup among them.

    Returns
    -------
    list of dict
        One per choice key, best first: ``changed`` (that choice alone), ``score`` (its
        :func:`screen_score`) and ``course`` (the course setup's on the same seeds), for the best value
        of each choice that beats the course setup, the penalty for its one change included, and that
        contradicts nothing stated.
    """
    course = next((c for c in configs if not c["changed"]), None)
    if course is None:
        return []
    pooled = pooled_scales(numbers, configs)
    best = {}
    for c in configs:
        if len(c["changed"]) != 1 or c["contradicts"]:
            continue
        seeds = set().union(*map(set, c["seeds"].values())) if c["seeds"] else set()
        mine = screen_score(numbers, c, convention, pooled)
        base = screen_score(numbers, _only_seeds(course, seeds), convention, pooled)
        (key,) = c["changed"]
        if math.isfinite(mine) and math.isfinite(base) and mine > base and (key not in best or mine > best[key]["score"]):
            best[key] = {"changed": dict(c["changed"]), "score": mine, "course": base, "name": c["name"]}
    return sorted(best.values(), key=lambda s: -s["score"])


def pooled_scales(numbers, configs):
    """Number id -> (pooled std, its degrees of freedom): the within-configuration spread of each number,
    pooled over every configuration with at least two finite values (on the log scale for |Δ|)."""
    out = {}
    for n in numbers:
        ss = df = 0.0
        for c in configs:
            v = np.asarray(c["values"].get(n["id"]) or [], dtype=np.float64)
            if v.size < 2 or not np.all(np.isfinite(v)) or (n["log"] and np.any(v <= 0)):
                continue
            v = np.log(v) if n["log"] else v
            ss += float(((v - v.mean()) ** 2).sum())
            df += v.size - 1
        out[n["id"]] = (math.sqrt(ss / df), df) if df else (math.nan, math.nan)
    return out


def screen_score(numbers, config, convention, pooled):
    """A configuration's score with the pooled spreads of :func:`pooled_scales`: ``ln L - k ln(N)/2``, each
    number's distribution a Student's t with centre our mean over the configuration's ``n`` seeds, scale
    ``s_pooled·sqrt(1 + 1/n)`` and the pooled degrees of freedom; ``-inf`` if a number is missing."""
    total = []
    for n in numbers:
        v = np.asarray(config["values"].get(n["id"]) or [], dtype=np.float64)
        s, df = pooled[n["id"]]
        if v.size == 0 or not np.all(np.isfinite(v)) or (n["log"] and np.any(v <= 0)) or not math.isfinite(s):
            return -math.inf
        v = np.log(v) if n["log"] else v
        lo, hi = scored_interval(n["text"], convention, n["log"])
        sigma = max(s * math.sqrt(1 + 1 / v.size), (hi - lo) * RESOLUTION)
        total.append(log_mass(lo, hi, float(v.mean()), sigma, max(df, 1.0)))
    return math.fsum(total) - len(config["changed"]) * math.log(len(numbers)) / 2


def _only_seeds(config, seeds):
    """``config`` with the runs of ``seeds`` only."""
    values, kept_seeds = {}, {}
    for key, vals in config["values"].items():
        kept = [(v, s) for v, s in zip(vals, config["seeds"][key]) if s in seeds]
        values[key], kept_seeds[key] = [v for v, _ in kept], [s for _, s in kept]
    return {**config, "values": values, "seeds": kept_seeds}


#: Where a continuous choice's refinement stops: neighbours closer than this ratio, or a value beyond the bounds.
REFINE_CLOSEST = 1.15
REFINE_BOUNDS = {"init_std": (1e-4, 1.0), "smooth": (0.005, 0.9)}
#: The continuous choices of Table 1's search and the course's value of each: each refined alone, on a log scale.
CONTINUOUS = {"init_std": 0.01, "smooth": 0.0}
#: The outward step when a single positive value was tried (the course's value is 0: no ratio to step by).
DEFAULT_STEP = 3.0


def scored_values(numbers, configs, convention, key, course_value):
    """{value: screen score} of a continuous choice ``key`` tried alone, the course setup at ``course_value``
    included (:func:`screen_score` with the penalty left out: every value is one choice); only finite scores."""
    course = next((c for c in configs if not c["changed"]), None)
    if course is None:
        return {}
    pooled = pooled_scales(numbers, configs)
    scored = {float(course_value): screen_score(numbers, course, convention, pooled)}
    for c in configs:
        if set(c["changed"]) == {key} and not c["contradicts"]:
            scored[float(c["changed"][key])] = screen_score(numbers, {**c, "changed": {}}, convention, pooled)
    return {v: x for v, x in scored.items() if math.isfinite(x)}


def refinement(numbers, configs, convention, key, course_value):
    """The refine stage: new values of a continuous choice (``key``, e.g. init_std) around its best, on a log scale.

    Every configuration that changes ``key`` alone, and the course setup (at ``course_value``), is scored
    (:func:`scored_values`). The scale is logarithmic, over the positive values tried; a best value of 0
    (label smoothing's course value) lies on the bound of what the choice can be, and is not refined. At the
    best value:

    * on an edge of the positive values tried, one more step outward, at the ratio to its neighbour
      (:data:`DEFAULT_STEP` when it has none; the range grows until the best lies inside it, or the next value
      leaves :data:`REFINE_BOUNDS`: implausible);
    * inside, the geometric midpoints with both neighbours, where they differ from the neighbours by more
      than :data:`REFINE_CLOSEST`.

    Returns
    -------
    (float or None, list of float)
        The best value tried, and the values to try next (2 significant digits), none already tried.
    """
    return _refine(scored_values(numbers, configs, convention, key, course_value), key)


def _refine(scored, key):
    """:func:`refinement` from the scores of :func:`scored_values`."""
    if len(scored) < 2:
        return None, []
    best = max(sorted(scored), key=lambda v: scored[v])
    values = sorted(v for v in scored if v > 0)
    if best <= 0:
        return best, []
    i = values.index(best)
    lo, hi = REFINE_BOUNDS.get(key, (0.0, math.inf))
    if len(values) == 1:           # the only positive value tried: a step both ways
        proposals = [best * DEFAULT_STEP, best / DEFAULT_STEP]
    elif i == 0:                   # the lower edge
        proposals = [best / (values[1] / values[0])]
    elif i == len(values) - 1:     # the upper edge
        proposals = [best * (values[-1] / values[-2])]
    else:
        proposals = [math.sqrt(best * values[i - 1]), math.sqrt(best * values[i + 1])]
    out = []
    for v in proposals:
        v = float(f"{v:.2g}")
        if lo <= v <= hi and all(max(v, t) / min(v, t) > REFINE_CLOSEST for t in values) and v not in out:
            out.append(v)
    return best, out


def range_report(numbers, configs, convention, key, course_value):
    """Where a continuous choice's best value alone lies in the range tried.

    Returns
    -------
    dict or None
        ``best``, ``low`` and ``high`` (the positive values tried), ``where``: "inside" (between two values
        tried), "edge" (on an edge: the refinement would step outward), "bound" (on an edge, and the next step is
        implausible, beyond :data:`REFINE_BOUNDS`) or "course" (0, the course's value and the choice's own
        bound, scores best); ``next``, the values the refinement would try. None when fewer than two values
        were scored.
    """
    scored = scored_values(numbers, configs, convention, key, course_value)
    values = sorted(v for v in scored if v > 0)
    if len(scored) < 2 or not values:
        return None
    best, proposals = _refine(scored, key)     # the same scores: not computed twice
    if best <= 0:
        where = "course"
    elif values[0] < best < values[-1]:
        where = "inside"
    else:
        where = "edge" if proposals else "bound"
    return {"key": key, "best": best, "low": values[0], "high": values[-1], "where": where, "next": proposals}


def combinations(raising, tried=(), pairs_of=COMBINE_PAIRS_OF):
    """The combine stage: choice sets to try next, from the screen's :func:`raising_choices` (best first).

    Every pair of the best ``pairs_of`` raising choices, then the greedy chain (the best three, four,
    ... together, up to all of them); each as one ``changed`` dict, the ones in ``tried`` (``changed``
    dicts already trained) left out, in that order, without repeats.
    """
    singles = [s["changed"] for s in raising]
    out, seen = [], {_choices_key(t) for t in tried}
    candidates = [{**a, **b} for i, a in enumerate(singles[:pairs_of]) for b in singles[i + 1:pairs_of]]
    candidates += [dict(kv for c in singles[:k] for kv in c.items()) for k in range(3, len(singles) + 1)]
    for c in candidates:
        if _choices_key(c) not in seen:
            seen.add(_choices_key(c))
            out.append(c)
    return out


def confirmation(ranking, seeds_wanted):
    """The confirm stage: the winner (best eligible configuration of ``ranking``) and the seeds it still
    needs to have ``seeds_wanted`` (the course setup's), or None when the course setup wins or nothing is
    eligible.

    Returns
    -------
    (dict, tuple of int) or None
        The winner's :func:`score` and the seeds of ``seeds_wanted`` it was not trained with (empty: it
        already has them all).
    """
    eligible = [s for s in ranking if _eligible(s)]
    if not eligible or not eligible[0]["changed"]:
        return None
    winner = eligible[0]
    have = set().union(*map(set, winner["seeds"].values())) if winner["seeds"] else set()
    return winner, tuple(s for s in seeds_wanted if s not in have)


def gradcheck_configurations(search_rows, baseline):
    """Each configuration of the gradient check's search (:func:`helpers.gradcheck.search_gradient_check`).

    Parameters
    ----------
    search_rows : list of dict
        One row per configuration, seed and parameter.
    baseline : dict
        The course setup's value of each choice (``lam``, ``n_images``, ``n_dims``, ``h``, ``method``).

    Returns
    -------
    list of dict
        As :func:`table1_configurations`; ``name`` is the tuple of the choices' values.
    """
    choices = tuple(baseline)
    configs = {}
    for r in search_rows:
        key = tuple(r[c] for c in choices)
        c = configs.setdefault(key, {"name": key, "values": {}, "seeds": {},
                                     "changed": {k: v for k, v in zip(choices, key) if v != baseline[k]}})
        for stat in original.GRADCHECK[r["param"]]:
            c["values"].setdefault((r["param"], stat), []).append(r[stat])
            c["seeds"].setdefault((r["param"], stat), []).append(r["seed"])
    return [{**c, "contradicts": contradictions("1.1", c["changed"])} for c in configs.values()]


def named_check_choices(search_rows, baseline):
    """The gradient-check configurations the audit names from ``search_rows``, one per printing
    convention, each as its full choices (``baseline`` with the named ``changed``)."""
    numbers, configs = gradcheck_numbers(), gradcheck_configurations(search_rows, baseline)
    named = [answer(numbers, configs, c)["named"] for c in CONVENTIONS]
    return [{**baseline, **n["changed"]} for n in named if n]


def score(numbers, config, convention):
    """One configuration's log-likelihood and score for a section (see the module doc).

    Returns
    -------
    dict
        The configuration's ``name``, ``changed``, ``contradicts``, plus ``complete`` (it has values
        for every number), ``log_likelihood``, ``per_number`` (id -> log-probability), ``penalty``,
        ``score`` and ``reproduced`` (ids of the numbers it reproduces).
    """
    per = {n["id"]: number_log_likelihood(n["text"], config["values"][n["id"]], convention, n["log"])
           for n in numbers if config["values"].get(n["id"])}
    complete = len(per) == len(numbers)
    ll = math.fsum(per.values()) if complete else -math.inf
    penalty = len(config["changed"]) * math.log(len(numbers)) / 2
    return {"name": config["name"], "changed": dict(config["changed"]), "contradicts": list(config["contradicts"]),
            "values": config["values"], "seeds": config.get("seeds", {}), "complete": complete, "log_likelihood": ll,
            "per_number": per, "penalty": penalty, "score": ll - penalty,
            "reproduced": [n["id"] for n in numbers if config["values"].get(n["id"])
                           and reproduces(n["text"], config["values"][n["id"]], convention, n["log"])]}


def _log_masses(lo, hi, m, sigma, df):
    """:func:`log_mass` for arrays ``m``, ``sigma``, ``df`` (one interval): the same formula, vectorised."""
    a, b = (lo - m) / sigma, (hi - m) / sigma
    flip = a + b < 0
    a, b = np.where(flip, -b, a), np.where(flip, -a, b)
    normal = np.isinf(df)
    dfs = np.where(normal, 1.0, df)
    la = np.where(normal, stats.norm.logsf(a), stats.t.logsf(a, dfs))
    lb = np.where(normal, stats.norm.logsf(b), stats.t.logsf(b, dfs))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = la + np.log1p(-np.exp(lb - la))
    return np.where(np.isfinite(m) & np.isfinite(sigma) & (lb < la), out, -np.inf)


def score_all(numbers, configs, convention):
    """:func:`score` of every configuration, each number's distributions evaluated at once (the same values)."""
    n_c = len(configs)
    logs = np.full((n_c, len(numbers)), np.nan)
    repro = np.zeros((n_c, len(numbers)), dtype=bool)
    for j, n in enumerate(numbers):
        have = np.array([bool(c["values"].get(n["id"])) for c in configs], dtype=bool)
        params = np.array([predictive(c["values"][n["id"]], n["log"]) if h else (np.nan,) * 3
                           for c, h in zip(configs, have)], dtype=np.float64).reshape(n_c, 3)
        m, sigma, df = params.T
        lo, hi = scored_interval(n["text"], convention, n["log"])
        logs[:, j] = np.where(have, _log_masses(lo, hi, m, np.maximum(sigma, (hi - lo) * RESOLUTION), df), np.nan)
        with np.errstate(invalid="ignore"):
            distance = np.where((lo <= m) & (m <= hi), 0.0, np.minimum(np.abs(lo - m), np.abs(hi - m)))
            repro[:, j] = have & np.isfinite(m) & (distance <= REPRODUCED_WITHIN * sigma)
    out = []
    for i, config in enumerate(configs):
        per = {n["id"]: float(logs[i, j]) for j, n in enumerate(numbers) if not np.isnan(logs[i, j])}
        complete = len(per) == len(numbers)
        ll = math.fsum(per.values()) if complete else -math.inf
        penalty = len(config["changed"]) * math.log(len(numbers)) / 2
        out.append({"name": config["name"], "changed": dict(config["changed"]), "contradicts": list(config["contradicts"]),
                    "values": config["values"], "seeds": config.get("seeds", {}), "complete": complete,
                    "log_likelihood": ll, "per_number": per, "penalty": penalty, "score": ll - penalty,
                    "reproduced": [n["id"] for j, n in enumerate(numbers) if repro[i, j]]})
    return out


def _eligible(scored):
    return scored["complete"] and not scored["contradicts"] and math.isfinite(scored["score"])


def rank(numbers, configs, convention):
    """Every configuration's :func:`score`, the eligible ones (complete, contradicting nothing stated)
    first, each group best first; ties keep the order of ``configs``."""
    scored = score_all(numbers, configs, convention)
    return sorted(scored, key=lambda s: (not _eligible(s), -s["score"] if math.isfinite(s["score"]) else math.inf))


def answer(numbers, configs, convention):
    """The section's answer under one convention: the named configuration against the course setup.

    Returns
    -------
    dict
        ``named`` (the best eligible :func:`score`, or None), ``course`` (the course setup's, ``changed``
        empty; None if absent), ``ratio`` (``ln L(named) - ln L(course)``), ``tried`` (configurations
        scored), ``eligible`` (how many could be named), ``ranking`` (:func:`rank`).
    """
    ranking = rank(numbers, configs, convention)
    eligible = [s for s in ranking if _eligible(s)]
    named = eligible[0] if eligible else None
    course = next((s for s in ranking if not s["changed"]), None)
    ratio = named["log_likelihood"] - course["log_likelihood"] if named and course else math.nan
    return {"named": named, "course": course, "ratio": ratio, "tried": len(ranking), "eligible": len(eligible),
            "ranking": ranking, "convention": convention, "n": len(numbers)}


def convention_evidence(sections):
    """Which printing convention the evidence favours, from every section at once.

    Parameters
    ----------
    sections : dict
        Section name -> (numbers, configs).

    Returns
    -------
    dict
        ``scores`` (convention -> the sum over sections of the named configuration's score; a section with
        no configuration to name adds nothing),
        ``favoured`` (the convention with the higher sum; rounded on a tie) and ``evidence`` (the
        difference of the two sums: a log-likelihood ratio).
    """
    return _evidence({c: [answer(numbers, configs, c) for numbers, configs in sections.values()] for c in CONVENTIONS})


def _evidence(answers):
    """:func:`convention_evidence` from each convention's :func:`answer` of every section."""
    totals = {c: math.fsum(a["named"]["score"] for a in answers[c] if a["named"])   # nothing to name adds 0
              for c in CONVENTIONS}
    favoured = max(CONVENTIONS, key=lambda c: (totals[c], c == ROUNDED))
    other = next(c for c in CONVENTIONS if c != favoured)
    return {"scores": totals, "favoured": favoured, "evidence": totals[favoured] - totals[other]}


# --- calibration -----------------------------------------------------------------------------

def _without_seed(config, seed):
    values, seeds = {}, {}
    for key, vals in config["values"].items():
        kept = [(v, s) for v, s in zip(vals, config["seeds"][key]) if s != seed]
        values[key], seeds[key] = [v for v, _ in kept], [s for _, s in kept]
    return {**config, "values": values, "seeds": seeds}


def pretend_originals(numbers, course):
    """One pretend original per seed of the course setup: (seed, {number id: the seed's value}); none when the
    course setup lacks a number of the section (a section it did not run whole cannot be printed)."""
    if not all(course["seeds"].get(n["id"]) for n in numbers):
        return []
    seeds = sorted(set.intersection(*(set(course["seeds"][n["id"]]) for n in numbers)))
    return [(seed, {n["id"]: course["values"][n["id"]][course["seeds"][n["id"]].index(seed)] for n in numbers})
            for seed in seeds]


def calibrate(numbers, configs, convention):
    """The false-explanation rate of one section's search (see the module doc).

    Each seed of the course setup is printed with the original's digits under ``convention``; that
    seed is left out of every configuration (the other configurations share the seeds' draws), and
    :func:`answer` names a configuration for it.

    Returns
    -------
    dict
        ``trials``, ``false`` (names other than the course setup), ``rate``, ``interval`` (Wilson 95 %
        interval of the rate) and ``named`` (seed -> the ``changed`` of the configuration named).
    """
    course = next((c for c in configs if not c["changed"]), None)
    if course is None:
        return {"trials": 0, "false": 0, "rate": math.nan, "interval": (math.nan, math.nan), "named": {}}
    named = {}
    for seed, values in pretend_originals(numbers, course):
        pretend = [{**n, "text": printed_like(values[n["id"]], n["text"], convention)} for n in numbers]
        best = answer(pretend, [_without_seed(c, seed) for c in configs], convention)["named"]
        named[seed] = best["changed"] if best else None
    false = sum(v != {} for v in named.values())
    return {"trials": len(named), "false": false, "rate": false / len(named) if named else math.nan,
            "interval": wilson(false, len(named)), "named": named}


def wilson(k, n, z=1.96):
    """Wilson score interval of a proportion ``k / n`` (95 % for the default ``z``)."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


# --- the whole audit -------------------------------------------------------------------------

#: The sections of the original, in the order the report shows them.
SECTIONS = ("1.1", "Table 1")


def sections_of(records, search_rows, check_baseline):
    """Each section's numbers and configurations: section -> (numbers, configs)."""
    return {"1.1": (gradcheck_numbers(), gradcheck_configurations(search_rows, check_baseline)),
            "Table 1": (table1_numbers(), table1_configurations(records))}


def audit_answer(records, search_rows, check_baseline):
    """The audit's answer: the printing convention, then per section the configuration named and its calibration.

    Parameters
    ----------
    records : list of dict
        Every training run (:func:`helpers.audit.run_record`).
    search_rows : list of dict
        The gradient check's search (:func:`helpers.gradcheck.search_gradient_check`).
    check_baseline : dict
        The course setup of the gradient check.

    Returns
    -------
    dict
        ``convention`` (:func:`convention_evidence`) and ``sections``: section -> :func:`answer` under the
        favoured convention, plus ``other`` (its :func:`answer` under the other convention),
        ``calibration`` (:func:`calibrate`) and ``numbers``.
    """
    sections = sections_of(records, search_rows, check_baseline)
    answers = {c: {name: answer(numbers, configs, c) for name, (numbers, configs) in sections.items()}
               for c in CONVENTIONS}
    convention = _evidence({c: list(answers[c].values()) for c in CONVENTIONS})
    favoured = convention["favoured"]
    other = next(c for c in CONVENTIONS if c != favoured)
    out = {}
    for name, (numbers, configs) in sections.items():
        out[name] = {**answers[favoured][name], "other": answers[other][name],
                     "calibration": calibrate(numbers, configs, favoured), "numbers": numbers}
    return {"convention": convention, "sections": out}


# --- one verdict per number, from its section's answer ---------------------------------------

def number_id(row):
    """The id of a row of :func:`helpers.audit.numbers_audit` in its section's numbers."""
    return (row["lam"], row["eta"], row["metric"]) if row["section"] == "Table 1" else (row["param"], row["stat"])


def verdict(number, section_answer, convention):
    """One number's verdict from its section's answer, one of :data:`VERDICTS`.

    *reproduced*: the printed value lies within ``2σ`` of the course setup's mean; *within the printed
    digits*: its printed interval does (:func:`reproduces`); *explained*: the course setup does not
    reproduce it and the configuration named for the section does; *unexplained*: neither.
    """
    course, named = section_answer["course"], section_answer["named"]
    if course and course["values"].get(number["id"]):
        values = course["values"][number["id"]]
        m, sigma, _ = predictive(values, number["log"])
        x = float(number["text"])
        x = math.log(x) if number["log"] and x > 0 else x
        if math.isfinite(m) and abs(x - m) <= REPRODUCED_WITHIN * sigma:
            return REPRODUCED
        if reproduces(number["text"], values, convention, number["log"]):
            return DIGITS
    if named and named["changed"] and number["id"] in named["reproduced"]:
        return EXPLAINED
    return UNEXPLAINED


def apply_answer(rows, ans):
    """The rows of :func:`helpers.audit.numbers_audit` with their verdicts from the audit's answer.

    Returns
    -------
    list of dict
        Each row with ``verdict`` (:func:`verdict`), ``diagnostic`` (the per-number rule's verdict, which it
        had), ``named`` (the section's named configuration: ``changed`` and our ``values`` of this number, or
        None) and ``convention``.
    """
    convention = ans["convention"]["favoured"]
    out = []
    for row in rows:
        a = ans["sections"][row["section"]]
        n = next(n for n in a["numbers"] if n["id"] == number_id(row))
        named = a["named"]
        out.append({**row, "diagnostic": row["verdict"], "verdict": verdict(n, a, convention), "convention": convention,
                    "named": {"changed": named["changed"], "values": named["values"][n["id"]]} if named else None})
    return out
