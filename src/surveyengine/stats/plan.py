"""What the statistics pass computes: the definition, apart from any implementation.

A *cell* is one combination of segment units in one wave; a *unit* is one
combination of segment units over all waves. Every statistic is a sum over
the rows of a cell (or unit) of a per-row expression, so cells merge by
addition and a database can compute the same sums with ``GROUP BY``. With
``w`` the respondent weight (1 when unweighted), ``x`` an answer, and
"answered" meaning not missing:

Per cell
  ``n`` = Σ 1, ``sum_w`` = Σ w, ``sum_w2`` = Σ w².

Per cell and moment variable (numeric items, then one factor score per factor)
  ``count`` = Σ answered, ``wsum`` = Σ w·answered, ``wsum2`` = Σ w²·answered,
  ``sum`` = Σ w·x, ``sumsq`` = Σ w·x².
  A factor score is the mean of the factor's answered rating items rescaled to
  0-100, missing when none is answered.

Per cell, discrete item and value ``v`` (rating scales and integer choice codes)
  ``freq`` = Σ w·[x = v], ``freq_n`` = Σ [x = v].

Per cell and expectation pair (perception p, expectation e), rows with both answered
  ``gap_count`` = Σ 1, ``gap_wsum`` = Σ w, ``gap_wsum2`` = Σ w², ``gap_sum`` = Σ w·(p−e),
  ``gap_sumsq`` = Σ w·(p−e)², ``gap_met`` = Σ w·[p ≥ e].

Per cell, complaint group g (complained, did not) and outcome o
  ``split_count``, ``split_wsum``, ``split_wsum2``, ``split_sum``, ``split_sumsq`` as for
  moments, over the rows of that group with o answered.

Cross-products, pairwise-complete (for correlations, regressions, reliability)
  For variables i, j with M the answered indicator and x zero where missing:
  ``xx`` = Σ w·x_i·x_j, ``xm`` = Σ w·x_i·M_j, ``x2m`` = Σ w·x_i²·M_j, ``mm`` = Σ w·M_i·M_j.
  These give, for every pair, the exact pairwise-complete count, means,
  variances and covariance, so every correlation uses all respondents who
  answered both of its variables (not only those who answered everything:
  with 5% missing per item, only about 12% answer all 48 items).
  - the *factor block* (factor scores and outcomes) per cell, so factor-level
    importance merges to any roll-up, waves included;
  - the *item block* (every factor item, the structural model's indicators, factor
    scores and outcomes) per unit,
    pooled over waves: item-level importance and measurement diagnostics per
    segment unit, hierarchy roll-up and total. Per unit and wave the base is
    too small for a model of fifty variables anyway.
  - the *replicate block* (factor scores, outcomes and the structural model's
    indicators) per *replicate group*: every respondent is assigned to one of ``replicates`` groups
    by a hash of their id (the first byte of its MD5, modulo ``replicates``: the same group in
    every backend, whatever the order of the rows). Resampling whole groups
    with replacement is a nonparametric bootstrap of the total that needs no
    rows downstream (the random-groups method of survey sampling); groups of
    separate passes merge by addition like everything else.

Banner cells (only for the questions a study's banners put in their columns)
  The same per-cell statistics, with the cell defined by the answer of one banner question
  instead of segment units × wave: one cell per answer slot (``low``, ``low + 1``, ... as for
  frequencies), respondents without an answer in none. Computed by the same pass definition
  (``banner_plan``: moments, frequencies and the factor block; no gaps, splits, unit or
  replicate blocks), so a banner column is a merge of answer cells, as a segment column is a
  merge of cells.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..model import Questionnaire

MAX_DISCRETE_VALUES = 101
REPLICATE_GROUPS = 64  # random groups for the total's bootstrap: the error of a standard error is ~1/sqrt(2*63)
FACTOR_PREFIX = "@"


@dataclass(frozen=True)
class FactorScore:
    id: str  # the factor id
    items: tuple[int, ...]  # indices into the numeric items
    low: tuple[float, ...]  # each item's scale minimum and maximum, for rescaling to 0-100
    high: tuple[float, ...]


@dataclass(frozen=True)
class StatsPlan:
    items: tuple[str, ...]  # numeric items, in Responses.items order
    factors: tuple[FactorScore, ...] = ()
    discrete: tuple[int, ...] = ()  # item indices with frequency tables
    discrete_low: tuple[int, ...] = ()  # their lowest value
    values: int = 0  # value slots per discrete item
    gaps: tuple[tuple[int, int], ...] = ()  # (perception, expectation) item indices
    complaint: tuple[int, tuple[float, ...]] | None = None  # complaint item index and its 'yes' codes
    outcomes: tuple[int, ...] = ()  # variable indices of outcome items (overall, recommend, repurchase)
    item_block: tuple[int, ...] = ()  # variable indices in the per-unit cross-products
    factor_block: tuple[int, ...] = ()  # variable indices in the per-cell cross-products
    replicates: int = 0  # random groups of respondents, each with the replicate block (the total's bootstrap)
    replicate_block: tuple[int, ...] = ()  # variable indices in the per-group cross-products

    @property
    def variables(self) -> tuple[str, ...]:
        return self.items + tuple(FACTOR_PREFIX + f.id for f in self.factors)

    def variable(self, name: str) -> int:
        return self.variables.index(name)


def plan_for(q: Questionnaire, items: tuple[str, ...]) -> StatsPlan:
    """The statistics a questionnaire needs, for the numeric items as the data layer laid them out."""
    index = {item_id: k for k, item_id in enumerate(items)}
    factors = []
    for factor in q.walk_factors():
        members = [i for i in factor.all_items() if i.id in index and i.question_type == "rating"]
        if not members:
            continue
        scales = [q.scales[i.scale] for i in members]  # type: ignore[index]
        factors.append(FactorScore(factor.id, tuple(index[i.id] for i in members),
                                   tuple(float(s.min) for s in scales), tuple(float(s.max) for s in scales)))
    discrete, lows, widths = [], [], []
    for item_id, k in index.items():
        item = q.item(item_id)
        if item.scale:
            low, high = q.scales[item.scale].min, q.scales[item.scale].max
        elif item.choices and all(isinstance(c, int) for c in q.choices[item.choices].options):
            codes = [int(c) for c in q.choices[item.choices].options]
            low, high = min(codes), max(codes)
        elif item.choices:
            low, high = 1, len(q.choices[item.choices].options)  # text codes are stored as positions
        else:
            continue
        if high - low + 1 <= MAX_DISCRETE_VALUES:
            discrete.append(k)
            lows.append(low)
            widths.append(high - low + 1)
    gaps = tuple((index[i.id], index[i.expectation]) for i in q.all_items()
                 if i.expectation and i.id in index and i.expectation in index)
    complaint = None
    if q.outcomes.complaint is not None and q.outcomes.complaint.item in index:
        c = q.outcomes.complaint
        complaint = (index[c.item], tuple(q.stored_value(c.item, code) for code in c.yes))
    outcome_ids = [o for o in (*q.outcomes.overall, q.outcomes.recommend, q.outcomes.repurchase)
                   if o is not None and o in index and q.item(o).question_type == "rating"]
    outcomes = tuple(dict.fromkeys(index[o] for o in outcome_ids))
    factor_variables = tuple(len(items) + f for f in range(len(factors)))
    driver_items = tuple(index[i.id] for factor in q.factors for i in factor.all_items()
                         if i.id in index and i.question_type == "rating")
    model_items: tuple[int, ...] = ()
    if q.model is not None:  # the structural model's indicators, wherever they live in the questionnaire
        model_items = tuple(index[i] for c in q.model.constructs for i in q.construct_items(c)
                            if i in index and q.item(i).question_type == "rating")
    item_block = tuple(dict.fromkeys(driver_items + model_items + factor_variables + outcomes))
    factor_block = tuple(dict.fromkeys(factor_variables + outcomes))
    wants_bootstrap = q.index.bootstrap > 0 or (q.model is not None and q.model.bootstrap > 0)
    replicate_block = tuple(dict.fromkeys(factor_block + model_items)) if wants_bootstrap else ()
    return StatsPlan(items, tuple(factors), tuple(discrete), tuple(lows), max(widths, default=0), gaps, complaint,
                     outcomes, item_block, factor_block, REPLICATE_GROUPS if replicate_block else 0, replicate_block)


def banner_plan(plan: StatsPlan) -> StatsPlan:
    """What a banner pass computes: the plan's moments, frequencies and factor block only."""
    return replace(plan, gaps=(), complaint=None, item_block=(), replicates=0, replicate_block=())


def answer_slots(plan: StatsPlan, item_id: str) -> tuple[int, int]:
    """(lowest value, number of slots) of a discrete item: its banner cells are ``value - low``."""
    k = plan.items.index(item_id)
    if k not in plan.discrete:
        raise ValueError(f"'{item_id}' has no frequency table: banner columns need a single choice or rating item")
    return plan.discrete_low[plan.discrete.index(k)], plan.values
