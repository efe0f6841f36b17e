"""The questionnaire and the study config as frozen, typed models. No I/O here.

A questionnaire is what a consultant writes in YAML: scales and choice lists,
factors (product, service, corporate image, ...) holding rating items,
standalone questions (expectations, complaint, comments, profile), the
outcomes, the segments, the wave, the respondent weights and the index. The
JSON Schema that editors autocomplete comes from these classes
(``surveyengine schema``); cross-references are checked in
``questionnaire.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

SCHEMA_VERSION = 1

Id = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=64),
    Field(description="An identifier: a letter, then letters, digits or underscores."),
]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
Text = Annotated[
    Union[str, dict[LanguageCode, str]],
    Field(description="Text in one language, or a mapping of language code to text, e.g. {en: Price, zh: 价格}."),
]
Code = Union[int, str]

FACTOR_KINDS = ("product", "service", "image")


class _Model(BaseModel):
    # version: 2026.1 and column: 5 are text to a consultant; true/false only, never 'yes' or 'on'
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, coerce_numbers_to_str=True)


def text_in(text: Text | None, language: str, fallback: str | None = None) -> str:
    """The text for ``language``; else the fallback language's; else any; '' for None."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    for lang in (language, fallback):
        if lang and lang in text:
            return text[lang]
    return next(iter(text.values()), "")


class Scale(_Model):
    """A rating range such as 1-5, 1-10 or 0-10, with labelled points and codes that count as missing."""

    min: int = Field(description="Lowest valid answer, e.g. 1.")
    max: int = Field(description="Highest valid answer, e.g. 5 or 10.")
    labels: dict[int, Text] = Field(default_factory=dict, description="Labels of scale points, at least the end points.")
    missing: dict[int, Text] = Field(
        default_factory=dict,
        description="Codes that mean don't know / refused / not applicable; they count as missing, e.g. {99: Don't know}.",
    )
    top_box: int | None = Field(
        default=None, ge=1, description="How many top categories count as 'top box'. Default: 2 up to 7 points, 3 above."
    )
    bottom_box: int | None = Field(default=None, ge=1, description="How many bottom categories count as 'bottom box'.")

    @property
    def points(self) -> int:
        return self.max - self.min + 1

    @property
    def top_box_size(self) -> int:
        return self.top_box if self.top_box is not None else (2 if self.points <= 7 else 3)

    @property
    def bottom_box_size(self) -> int:
        return self.bottom_box if self.bottom_box is not None else self.top_box_size

    def rescale(self, value: float) -> float:
        """A value on this scale as 0-100."""
        return (value - self.min) / (self.max - self.min) * 100.0


class ChoiceList(_Model):
    """Answer options with their codes, for single or multiple choice questions."""

    options: dict[Code, Text] = Field(description="Code -> label, e.g. {1: Yes, 2: No}.")
    missing: dict[Code, Text] = Field(default_factory=dict, description="Codes that count as missing.")


QuestionType = Literal["rating", "single", "multiple", "text", "number"]


class Item(_Model):
    """One question. In a factor it is a rating item; elsewhere it may be any type."""

    id: Id
    text: Text = Field(description="The question as asked.")
    type: QuestionType | None = Field(
        default=None,
        description="rating (needs scale), single or multiple (need choices), text (open answer), number. "
        "Default: rating with a scale, single with choices.",
    )
    scale: Id | None = Field(default=None, description="Id of a scale (rating items).")
    choices: Id | None = Field(default=None, description="Id of a choice list (single / multiple choice).")
    expectation: Id | None = Field(
        default=None, description="Id of the item that asked the expectation paired with this perception item."
    )
    column: str | None = Field(default=None, description="Data column holding the answer. Default: the item id.")
    when: str | None = Field(
        default=None,
        description="Asked only when this condition holds, e.g. 'complained == 1' or "
        "'visit_type in [2, 3] and age >= 18'.",
    )
    required: bool = Field(default=False, strict=True, description="An answer is required of every respondent asked.")
    note: Text | None = Field(default=None, description="Interviewer or analyst note (Markdown).")

    @property
    def question_type(self) -> str:
        if self.type is not None:
            return self.type
        if self.scale is not None:
            return "rating"
        if self.choices is not None:
            return "single"
        return "text"

    @property
    def data_column(self) -> str:
        return self.column or self.id


class Factor(_Model):
    """A driver of satisfaction: product, service, corporate image or a kind of your own; may nest."""

    id: Id
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$")] = Field(
        description="product, service, image (the three components of satisfaction) or a kind of your own."
    )
    label: Text
    description: Text | None = Field(default=None, description="Markdown.")
    items: tuple[Item, ...] = ()
    factors: tuple[Factor, ...] = Field(default=(), description="Sub-factors, e.g. hardware and software value.")

    def all_items(self) -> Iterator[Item]:
        yield from self.items
        for sub in self.factors:
            yield from sub.all_items()

    def walk(self) -> Iterator[Factor]:
        yield self
        for sub in self.factors:
            yield from sub.walk()


class Block(_Model):
    """A reusable group of items, placed in a factor or in questions with ``- block: id``."""

    label: Text | None = None
    items: tuple[Item, ...]


class Complaint(_Model):
    """The complaint questions: did the customer complain, was it resolved, how was it handled."""

    item: Id = Field(description="Did you complain? (a single choice or rating item)")
    yes: tuple[Code, ...] = Field(default=(1,), description="Codes of that item that mean 'complained'.")
    resolved: Id | None = Field(default=None, description="Was it resolved? (single choice)")
    resolved_yes: tuple[Code, ...] = Field(default=(1,), description="Codes of 'resolved' that mean yes.")
    handling: Id | None = Field(default=None, description="Satisfaction with complaint handling (rating).")
    description: Id | None = Field(default=None, description="What the complaint was about (open text).")


class Outcomes(_Model):
    """What satisfaction leads to."""

    overall: tuple[Id, ...] = Field(min_length=1, description="Overall satisfaction item(s).")
    recommend: Id | None = Field(default=None, description="Likelihood to recommend, 0-10 (for NPS).")
    repurchase: Id | None = Field(default=None, description="Repurchase / revisit intention.")
    complaint: Complaint | None = None
    comments: tuple[Id, ...] = Field(default=(), description="Open comment items.")


class Segment(_Model):
    """A reporting unit such as region or dealer; ``parent`` makes a hierarchy."""

    id: Id
    label: Text
    column: str | None = Field(default=None, description="Data column. Default: the segment id.")
    parent: Id | None = Field(default=None, description="The segment this one nests in, e.g. dealer within region.")
    labels: dict[Code, Text] = Field(default_factory=dict, description="Code -> display name of each unit.")

    @property
    def data_column(self) -> str:
        return self.column or self.id


class Wave(_Model):
    """The fieldwork period: a period column, or a date column bucketed by frequency."""

    column: str = Field(description="Data column with the period ('2026-03') or the interview date.")
    frequency: Literal["month", "quarter", "year"] = "month"
    label: Text | None = None


class RakeTarget(_Model):
    """Population shares of one variable, e.g. region: {North: 0.4, South: 0.6}."""

    variable: str = Field(description="A segment id or a single choice item id.")
    shares: dict[Code, float] = Field(description="Category -> population share; shares sum to 1.")
    within: str | None = Field(default=None, description="Rake separately inside each unit of this segment.")


class Weighting(_Model):
    """Respondent weights: a column that holds them, or targets to rake the sample to."""

    column: str | None = Field(default=None, description="Data column with a weight per respondent.")
    rake: tuple[RakeTarget, ...] = Field(default=(), description="Marginal population targets for rim weighting.")
    max_iterations: int = Field(default=100, ge=1)
    tolerance: float = Field(default=1e-6, gt=0)
    cap: float | None = Field(default=None, gt=1, description="Largest weight allowed, relative to the mean weight.")

    @model_validator(mode="after")
    def _one_source(self) -> Weighting:
        if (self.column is None) == (not self.rake):
            raise ValueError("give exactly one of 'column' or 'rake'")
        return self


PluginId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$")]
OptionName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]


class Index(_Model):
    """The CSI: its drivers, its outcome, how driver importance is derived, and base-size rules."""

    drivers: tuple[Id, ...] = Field(default=(), description="Factor ids. Default: every top-level factor.")
    outcome: Id | None = Field(default=None, description="Outcome item. Default: the first overall item.")
    method: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$")] = Field(
        default="relative-weights",
        description="Weighting plugin that derives factor importance (see 'surveyengine plugins').",
    )
    item_method: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$")] | None = Field(
        default=None, description="Weighting plugin for item importance within factors. Default: method."
    )
    options: dict[PluginId, dict[OptionName, float | int | bool | str]] = Field(
        default_factory=dict,
        description="Parameters per weighting plugin, e.g. {shapley: {max_exact: 16}, ridge: {alpha: 0.2}}.",
    )
    csi_weights: Literal["total", "own"] = Field(
        default="total",
        description="Whose factor weights make each group's CSI: the total sample's (one yardstick for every "
                    "segment and wave, so their CSIs compare), or each group's own model ('own').",
    )
    model_min_base: int = Field(
        default=100, ge=3,
        description="Fewest respondents for a group's own importance model; smaller groups borrow the weights "
                    "of their parent unit, else of the total.",
    )
    bootstrap: int = Field(
        default=200, ge=0, le=100_000,
        description="Resamples for the confidence intervals of importance (0: none).",
    )
    bootstrap_items: bool = Field(
        default=False,
        description="Also bootstrap the item-level models of every segment unit (the total's always are): "
                    "resamples x units x item models refits, seconds for hundreds of units.",
    )
    seed: int = Field(default=20260101, ge=0, description="Seed of the bootstrap and of sampled Shapley values.")
    min_base: int = Field(default=30, ge=1, description="Results on fewer respondents are flagged as small bases.")
    privacy_min: int = Field(default=5, ge=1, description="Results on fewer respondents are never shown.")

    @model_validator(mode="after")
    def _bases(self) -> Index:
        if self.privacy_min > self.min_base:
            raise ValueError(f"privacy_min ({self.privacy_min}) is larger than min_base ({self.min_base})")
        return self


class Construct(_Model):
    """A latent construct of the structural model, measured by its items (reflective, PLS mode A)."""

    id: Id
    label: Text | None = Field(default=None, description="Default: the factor's label, else the id.")
    factor: Id | None = Field(default=None, description="Take the rating items of this factor (sub-factors included).")
    items: tuple[Id, ...] = Field(default=(), description="Rating items measuring the construct (besides `factor`).")


class StructuralModel(_Model):
    """A structural equation model of satisfaction (ACSI / ECSI), estimated by PLS path modelling."""

    constructs: tuple[Construct, ...] = Field(min_length=2)
    paths: dict[Id, tuple[Id, ...]] = Field(
        description="Each construct -> the constructs it drives, e.g. {image: [expectations, satisfaction]}.")
    method: PluginId = Field(default="pls", description="Structural-model plugin (see 'surveyengine plugins').")
    scheme: Literal["path", "centroid", "factorial"] = Field(
        default="path", description="Inner weighting scheme of PLS: path weighting (the default), centroid, factorial.")
    tolerance: float = Field(default=1e-7, gt=0, description="Convergence: largest change of an outer weight.")
    max_iterations: int = Field(default=300, ge=1, description="Iteration limit of the PLS algorithm.")
    bootstrap: int = Field(default=500, ge=0, le=100_000,
                           description="Resamples for standard errors and intervals of the total's model (0: none).")
    bootstrap_units: bool = Field(default=False, description="Also bootstrap the model of every segment unit.")
    min_base: int = Field(default=100, ge=10, description="Fewest respondents for a unit's own model; smaller "
                                                          "units' construct indices use the total's weights.")


Polarity = Literal["praise", "complaint", "neutral"]
Phrases = dict[LanguageCode, tuple[str, ...]]


class CommentCode(_Model):
    """One code of a codeframe: what a comment may be about, e.g. waiting time or staff attitude."""

    id: Id
    label: Text
    polarity: Polarity | None = Field(default=None, description="praise, complaint or neutral.")
    keywords: Phrases = Field(
        default_factory=dict,
        description="Per language, words that assign the code (case-insensitive; in languages written with "
                    "spaces a keyword matches at the start of a word, so 'wait' finds 'waited').")
    patterns: Phrases = Field(
        default_factory=dict,
        description="Per language, regular expressions that assign the code (Python syntax, case-insensitive; "
                    "no nested repetition, no backreferences).")
    examples: Phrases = Field(
        default_factory=dict,
        description="Per language, typical comments with this code (documentation; `simulate` writes them).")

    @property
    def has_rules(self) -> bool:
        return bool(self.keywords or self.patterns)


class CodeNet(_Model):
    """A group of codes reported together, e.g. 'staff' = attitude + knowledge."""

    id: Id
    label: Text
    codes: tuple[Id, ...] = Field(min_length=1)


class Codeframe(_Model):
    """The codes for one or more open questions (comments, complaint descriptions)."""

    items: tuple[Id, ...] = Field(min_length=1, description="The text items coded with this codeframe.")
    codes: tuple[CommentCode, ...] = Field(min_length=1)
    nets: tuple[CodeNet, ...] = ()
    min_examples: int = Field(
        default=5, ge=2,
        description="Fewest hand-coded comments with a code before the classifier predicts it.")
    threshold: float = Field(default=0.5, gt=0, lt=1,
                             description="Probability from which the classifier assigns a code.")

    def code(self, code_id: str) -> CommentCode:
        return next(c for c in self.codes if c.id == code_id)


class Questionnaire(_Model):
    """A customer-satisfaction questionnaire."""

    surveyengine: Literal[1] = Field(default=SCHEMA_VERSION, description="Questionnaire language version.")
    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    title: Text
    version: str = Field(default="1", description="Version of this questionnaire, e.g. '2026.1'.")
    languages: tuple[LanguageCode, ...] = Field(default=("en",), min_length=1, description="First is the default.")
    description: Text | None = Field(default=None, description="Markdown.")
    include: tuple[str, ...] = Field(
        default=(), description="Library files (relative paths) whose scales, choices and blocks this one uses."
    )
    scales: dict[Id, Scale] = Field(default_factory=dict)
    choices: dict[Id, ChoiceList] = Field(default_factory=dict)
    blocks: dict[Id, Block] = Field(default_factory=dict)
    factors: tuple[Factor, ...] = Field(min_length=1)
    questions: tuple[Item, ...] = Field(
        default=(), description="Items outside the factors: expectations, outcomes, complaint, comments, profile."
    )
    outcomes: Outcomes
    respondent_id: str = Field(default="respondent_id", description="Data column with the respondent id.")
    segments: tuple[Segment, ...] = ()
    wave: Wave | None = None
    weights: Weighting | None = None
    index: Index = Field(default_factory=Index)
    model: StructuralModel | None = Field(default=None, description="An ACSI/ECSI structural model (PLS).")
    codeframes: dict[Id, Codeframe] = Field(
        default_factory=dict, description="Codeframes for open comments and complaint descriptions, by id.")

    @property
    def language(self) -> str:
        return self.languages[0]

    def walk_factors(self) -> Iterator[Factor]:
        for factor in self.factors:
            yield from factor.walk()

    def all_items(self) -> Iterator[Item]:
        for factor in self.factors:
            yield from factor.all_items()
        yield from self.questions

    def item(self, item_id: str) -> Item:
        for item in self.all_items():
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def factor(self, factor_id: str) -> Factor:
        for factor in self.walk_factors():
            if factor.id == factor_id:
                return factor
        raise KeyError(factor_id)

    def scale_of(self, item: Item) -> Scale | None:
        return self.scales.get(item.scale) if item.scale else None

    def driver_ids(self) -> tuple[str, ...]:
        return self.index.drivers or tuple(f.id for f in self.factors)

    def stored_value(self, item_id: str, code: Any) -> float:
        """How the data layer stores answer ``code`` of ``item_id``: an integer code as itself, a text code
        as its position (1-based) in the item's choice list."""
        if isinstance(code, int):
            return float(code)
        options = list(self.choices[self.item(item_id).choices].options)  # type: ignore[index]
        return float(options.index(code) + 1)

    def construct_items(self, construct: Construct) -> tuple[str, ...]:
        """The rating items measuring ``construct``: its factor's (sub-factors included), then its own."""
        found: list[str] = []
        if construct.factor is not None:
            factor = next((f for f in self.walk_factors() if f.id == construct.factor), None)
            if factor is not None:
                found.extend(i.id for i in factor.all_items() if i.question_type == "rating")
        found.extend(construct.items)
        return tuple(dict.fromkeys(found))

    def codeframe_of(self, item_id: str) -> tuple[str, Codeframe] | None:
        """The codeframe (id, codeframe) that codes the text item ``item_id``, or None."""
        for frame_id, frame in self.codeframes.items():
            if item_id in frame.items:
                return frame_id, frame
        return None

    def outcome_id(self) -> str:
        return self.index.outcome or self.outcomes.overall[0]

    def text(self, text: Text | None, language: str | None = None) -> str:
        return text_in(text, language or self.language, self.language)


class Library(_Model):
    """A file of reusable scales, choice lists and blocks, named in a questionnaire's ``include``."""

    surveyengine: Literal[1] = SCHEMA_VERSION
    include: tuple[str, ...] = ()
    scales: dict[Id, Scale] = Field(default_factory=dict)
    choices: dict[Id, ChoiceList] = Field(default_factory=dict)
    blocks: dict[Id, Block] = Field(default_factory=dict)


class DataFile(_Model):
    """A response file (or glob) and how to read it."""

    path: str = Field(description="Path or glob, relative to the study folder, e.g. data/*.csv.")
    format: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$")] | None = Field(
        default=None, description="Reader id (csv, xlsx, parquet, ...). Default: detected from the file."
    )
    encoding: str | None = Field(default=None, description="Text encoding, e.g. utf-8 or gb18030. Default: detected.")
    delimiter: str | None = Field(default=None, max_length=1, description="Field delimiter. Default: detected.")
    sheet: str | None = Field(default=None, description="Worksheet name (Excel).")


AnswerPolicy = Literal["fail", "exclude", "missing"]
RowPolicy = Literal["fail", "exclude"]


class ValidationRules(_Model):
    """What happens when a rule finds a problem in the data. Every finding is reported either way.

    fail: the build stops; exclude: the row is left out, with the rule as its reason;
    missing: the answer is set missing; warn: the value is kept; ignore: not reported.
    """

    not_a_number: AnswerPolicy = Field(default="missing", description="Text in a numeric column.")
    out_of_range: AnswerPolicy = Field(default="missing", description="A value outside the item's scale.")
    unknown_code: AnswerPolicy = Field(default="missing", description="A code that is not in the choice list.")
    not_asked: Literal["fail", "exclude", "missing", "warn"] = Field(
        default="missing", description="An answer where the item's condition says it was not asked.")
    required_missing: Literal["fail", "exclude", "warn"] = Field(
        default="warn", description="No answer to a required item that was asked.")
    duplicate_id: RowPolicy = Field(default="exclude", description="A respondent id seen before (the first is used).")
    missing_id: RowPolicy = Field(default="exclude", description="No respondent id.")
    bad_wave: RowPolicy = Field(default="exclude", description="A wave that is not a date or a period.")
    missing_segment: RowPolicy = Field(default="exclude", description="No value in a segment column.")
    bad_weight: RowPolicy = Field(default="exclude", description="A weight that is missing, zero or negative.")
    missing_rake_variable: RowPolicy = Field(default="exclude",
                                             description="No answer to a variable the sample is raked on.")
    unexpected_column: Literal["fail", "warn", "ignore"] = Field(
        default="warn", description="A data column that the questionnaire does not use.")


QualityAction = Literal["flag", "exclude", "off"]


class QualityChecks(_Model):
    """Respondents whose answers look careless. Flagged ones are kept and reported, or excluded."""

    straightlining: QualityAction = Field(
        default="flag", description="The same answer to every rating item of every factor (the whole grid).")
    straightlining_min_items: int = Field(default=10, ge=2,
                                          description="Only respondents who answered this many grid items count.")
    speeding: QualityAction = Field(default="flag", description="Completed implausibly fast.")
    duration_column: str | None = Field(default=None, description="Data column with the interview length in seconds.")
    speeding_share_of_median: float = Field(default=0.33, gt=0, lt=1,
                                            description="Faster than this share of the median duration is speeding.")
    missing: QualityAction = Field(default="flag", description="Too many unanswered items.")
    max_missing_share: float = Field(default=0.5, gt=0, le=1,
                                     description="Share of the asked rating items left unanswered that flags.")


class Source(_Model):
    """Responses in a database engine instead of files: the statistics pass runs inside the engine.

    Credentials never live here: ``env`` names an environment variable holding the connection
    string, ``profile`` a named entry of the profiles file outside the study folder
    (``$SURVEYENGINE_PROFILES``, else ``~/.config/surveyengine/profiles.yaml``).
    """

    engine: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$")] = Field(
        description="duckdb, postgres or spark (see docs/warehouse.md for BigQuery, Snowflake and others).")
    table: str | None = Field(default=None, description="A table or view, optionally schema-qualified.")
    query: str | None = Field(default=None, description="A SELECT whose rows are the responses.")
    path: str | None = Field(default=None, description="duckdb: a database file, or Parquet files (path or glob), "
                                                       "relative to the study folder; spark: Parquet files, or a "
                                                       "path the cluster reads (s3://, abfss://, dbfs:/).")
    env: str | None = Field(default=None, description="Environment variable holding the connection string.")
    profile: str | None = Field(default=None, description="Profile name in the profiles file (outside the study).")
    row_column: str | None = Field(default=None, description="Column numbering the rows in messages (e.g. the row of "
                                                             "the original export). Default: rows in respondent id order.")
    max_comments: int = Field(default=10_000, ge=0, description="The latest open answers fetched for the report.")
    memory_limit: str | None = Field(default=None, description="duckdb: memory limit, e.g. 1GB.")

    @model_validator(mode="after")
    def _one_relation(self) -> Source:
        given = [name for name in ("table", "query") if getattr(self, name)]
        if len(given) > 1:
            raise ValueError("a source names a table or a query, not both")
        if not given and not (self.engine in ("duckdb", "spark") and self.path):
            raise ValueError("a source names a 'table' or a 'query' (or, for duckdb and spark, Parquet files in "
                             "'path')")
        return self


class PdfConfig(_Model):
    """What the printed report (``--format pdf``) holds beyond the overview, drivers and league tables."""

    segments: Union[bool, tuple[str, ...]] = Field(
        default=False,
        description="A section per unit: true for the units of every segment, or a list of segment ids; "
                    "false (the default) for none.",
    )


class OutputConfig(_Model):
    dir: str = Field(default="site", description="Where the site is built, relative to the study folder.")
    formats: tuple[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$")], ...] = ("html", "json", "csv")
    base_url: str = Field(default="", description="Subpath the site is published under, e.g. /reports/2026/.")
    pdf: PdfConfig = Field(default_factory=PdfConfig, description="The printed report (--format pdf).")


class DiagnosticsConfig(_Model):
    """What the build's questionnaire diagnostics include (``surveyengine diagnose`` always does all)."""

    cfa: bool = Field(
        default=False,
        description="Fit the confirmatory factor analysis in every build (needs the diagnose extra; importing it "
                    "costs about a second per build). 'surveyengine diagnose' always fits it.",
    )


class BannerGroup(_Model):
    """One banner column made of several codes: units of a segment, waves, or answers of a question."""

    label: Text
    codes: tuple[Code, ...] = Field(
        min_length=1, description="Unit codes (segment), periods such as '2026-03' (wave) or answer codes (question).")


class BannerColumns(_Model):
    """One block of a banner's columns: the units of a segment, the waves, or the answers of a question.

    Columns of one block are tested against each other; columns of different blocks overlap and are not.
    """

    segment: Id | None = Field(default=None, description="A column per unit of this segment.")
    wave: bool = Field(default=False, strict=True, description="A column per wave.")
    question: Id | None = Field(
        default=None, description="A column per answer of this single choice or rating question.")
    label: Text | None = Field(default=None, description="The block's heading. Default: the segment's, wave's or "
                                                          "question's label.")
    groups: tuple[BannerGroup, ...] = Field(
        default=(), description="Columns made of several codes each (a roll-up of units, a span of waves, a top box "
                                "of answers). Default: one column per code.")
    last: int | None = Field(default=None, ge=1, description="Waves only: just the last so many waves.")

    @model_validator(mode="after")
    def _one_source(self) -> BannerColumns:
        given = [name for name in ("segment", "question") if getattr(self, name)] + (["wave"] if self.wave else [])
        if len(given) != 1:
            raise ValueError("a column block names exactly one of 'segment', 'wave: true' or 'question'")
        if self.last is not None and not self.wave:
            raise ValueError("'last' applies to wave columns only")
        return self


BannerStatistic = Literal["mean", "top_box", "bottom_box", "base"]


class BannerSignificance(_Model):
    """Significance letters between the columns of a block."""

    level: float = Field(default=0.95, gt=0.5, lt=1, description="Confidence level of the tests, e.g. 0.95.")
    correction: Literal["none", "bonferroni", "benjamini-hochberg"] = Field(
        default="none", description="Adjustment of each row's p-values for the number of column pairs compared.")


class Banner(_Model):
    """A banner table (crosstab): rows of items, factors and the CSI by columns of units, waves or answers."""

    id: Id
    title: Text | None = Field(default=None, description="Default: the labels of the column blocks.")
    total: bool = Field(default=True, strict=True, description="A total column first (never tested).")
    columns: tuple[BannerColumns, ...] = Field(min_length=1, description="Blocks of columns, side by side.")
    rows: tuple[Id, ...] = Field(
        default=(), description="'csi', factor ids and rating item ids. Default: the CSI, each factor followed by its "
                                "rating items, then the outcome items.")
    statistics: tuple[BannerStatistic, ...] = Field(
        default=("mean", "top_box"), min_length=1,
        description="Per row: mean (a factor's score, the CSI), top_box and bottom_box (% of answers, rating items), "
                    "base (respondents who answered).")
    significance: BannerSignificance = Field(default_factory=BannerSignificance)


class StudyConfig(_Model):
    """The study folder's ``surveyengine.yaml``: which questionnaire, which data, how to publish."""

    questionnaire: str = Field(default="questionnaire.yaml", description="Path of the questionnaire.")
    data: tuple[Union[str, DataFile], ...] = Field(default=(), description="Response files: paths, globs or tables.")
    source: Source | None = Field(default=None, description="Responses in a database engine instead of files.")
    title: Text | None = Field(default=None, description="Site title. Default: the questionnaire's title.")
    language: LanguageCode | None = Field(default=None, description="Report language. Default: the questionnaire's first.")
    theme: str = Field(default="default", description="Theme name, or a folder relative to the study.")
    pages: tuple[str, ...] = Field(default=(), description="Markdown pages (commentary) to publish with the report.")
    plugins: str | None = Field(default=None, description="Folder of the study's own plugins (*.py).")
    columns: dict[str, str] = Field(default_factory=dict, description="Item, segment or wave id -> data column.")
    missing_codes: tuple[Code, ...] = Field(default=(), description="Extra codes that mean missing in every column.")
    validation: ValidationRules = Field(default_factory=ValidationRules)
    quality: QualityChecks = Field(default_factory=QualityChecks)
    output: OutputConfig = Field(default_factory=OutputConfig)
    diagnostics: DiagnosticsConfig = Field(default_factory=DiagnosticsConfig)
    banners: tuple[Banner, ...] = Field(default=(), description="Banner tables (crosstabs) to publish: see "
                                                                "docs/banners.md.")

    @model_validator(mode="after")
    def _data_or_source(self) -> StudyConfig:
        if self.data and self.source is not None:
            raise ValueError("a study reads 'data' files or a 'source', not both")
        return self

    def data_files(self) -> tuple[DataFile, ...]:
        return tuple(DataFile(path=d) if isinstance(d, str) else d for d in self.data)
