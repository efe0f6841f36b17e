"""``management-review.html``: the ISO 9001:2015 management-review pack, one printable, self-contained page.

Maps the results to the clauses an auditor asks about: 9.1.2 (monitoring of
customer satisfaction), 9.1.3 (analysis and evaluation), 9.3.2 (inputs to
management review) and 10.2 (complaints, nonconformity and corrective action),
with the evidence for each, then the open improvement priorities with space for
the owner and due date the review decides. In the report's language (English or
Chinese words for the page's own text). No script, no external file: print CSS
only, so a browser's print-to-PDF gives the document. Rendered by jinja2 with
autoescape: every label and reason from the data is escaped.
"""

from __future__ import annotations

import jinja2

from surveyengine import hookimpl
from surveyengine.summary import number, p_text, summarise

TOP_PRIORITIES = 10

WORDS = {
    "en": {
        "pack": "Management review pack: customer satisfaction",
        "standard": "Evidence mapped to ISO 9001:2015",
        "questionnaire": "Questionnaire", "version": "version", "respondents": "respondents", "built": "built",
        "waves": "Waves", "clause": "Clause", "evidence": "Evidence",
        "c912": "Monitoring of customer satisfaction",
        "c912_text": "The organization monitors customers' perceptions of the degree to which their needs and "
                     "expectations have been fulfilled, by a structured survey with a documented questionnaire, "
                     "a stated sample and a reproducible computation.",
        "c913": "Analysis and evaluation",
        "c913_text": "Customer satisfaction is analysed: which drivers explain overall satisfaction (importance "
                     "derived from the data), and which units differ significantly from the rest.",
        "c932": "Inputs to management review",
        "c932_text": "Customer satisfaction and its trend (9.3.2 c 1) and opportunities for improvement (9.3.2 f).",
        "c102": "Nonconformity and corrective action: complaints",
        "c102_text": "Complaints recorded in the survey, their resolution, and what a complaint costs in "
                     "satisfaction: evidence for reviewing the complaint-handling process.",
        "priorities": "Open improvement priorities",
        "priorities_text": "Drivers ranked by the CSI points to gain (weight × (100 − performance)). Owner, "
                           "action and due date are decided in the review.",
        "csi": "CSI (importance-weighted)", "csi_equal": "CSI (equal weights)", "nps": "Net Promoter Score",
        "interval": "95% interval", "base": "Base", "value": "Value", "wave": "Wave", "change": "Change",
        "significant": "significant", "not_significant": "not significant", "no_change": "No previous wave to "
        "compare with.", "change_text": "Change since", "points": "CSI points",
        "driver": "Driver", "factor": "Factor", "weight": "Weight", "importance": "Importance",
        "performance": "Performance (0-100)", "quadrant": "Quadrant", "r2": "Model R²", "method": "Method",
        "flagged": "Units that differ significantly from the rest", "segment": "Segment", "unit": "Unit",
        "vs_rest": "vs rest", "below-average": "below average", "above-average": "above average",
        "none_flagged": "No unit differs significantly from the rest of its parent.",
        "complaint_rate": "Complaint rate (%)", "resolved": "Resolved (%)",
        "complainers": "Satisfaction of complainers", "others": "Satisfaction of others",
        "difference": "Difference", "no_complaints": "The questionnaire records no complaints.",
        "complaint_codes": "What went wrong, how often, where (coded complaint descriptions)",
        "complaint_codes_note": "Share of the {n} complaint descriptions carrying each code; where: the units of the "
                                "first segment with most mentions (none below the privacy minimum).",
        "code": "Code", "mentions": "Mentions", "share": "Share (%)", "where": "Where",
        "gain": "Gain", "in": "In", "owner": "Owner", "action": "Action", "due": "Due", "status": "Status",
        "open": "open", "none_priorities": "No importance model (too few respondents).",
        "account": "Data account", "rows_read": "Rows read", "rows_used": "Rows used",
        "rows_excluded": "Rows excluded", "excluded": "excluded",
        "concentrate-here": "concentrate here", "keep-up": "keep up", "low-priority": "low priority",
        "possible-overkill": "possible overkill",
    },
    "zh": {
        "pack": "管理评审资料:顾客满意", "standard": "对照 ISO 9001:2015 的证据",
        "questionnaire": "问卷", "version": "版本", "respondents": "位受访者", "built": "生成日期",
        "waves": "调查期", "clause": "条款", "evidence": "证据",
        "c912": "顾客满意的监视",
        "c912_text": "组织通过结构化调查(有文件化的问卷、明确的样本和可重现的计算)监视顾客对其需求和期望获得满足程度的感受。",
        "c913": "分析与评价",
        "c913_text": "对顾客满意进行分析:哪些要素解释总体满意(由数据得出的重要性),哪些单位与其余单位存在显著差异。",
        "c932": "管理评审输入",
        "c932_text": "顾客满意及其趋势(9.3.2 c 1)以及改进的机会(9.3.2 f)。",
        "c102": "不合格和纠正措施:投诉",
        "c102_text": "调查中记录的投诉、投诉的解决情况以及投诉对满意度的影响:评审投诉处理过程的证据。",
        "priorities": "待改进的优先事项",
        "priorities_text": "按可提升的 CSI 分数(权重 × (100 − 表现))排序。负责人、措施和完成日期在评审中确定。",
        "csi": "顾客满意度指数(重要性加权)", "csi_equal": "顾客满意度指数(等权重)", "nps": "净推荐值",
        "interval": "95% 置信区间", "base": "样本量", "value": "数值", "wave": "调查期", "change": "变化",
        "significant": "显著", "not_significant": "不显著", "no_change": "没有可比较的上一期。",
        "change_text": "较上一期", "points": "CSI 分",
        "driver": "要素", "factor": "因素", "weight": "权重", "importance": "重要性",
        "performance": "表现(0-100)", "quadrant": "象限", "r2": "模型 R²", "method": "方法",
        "flagged": "与其余单位存在显著差异的单位", "segment": "层级", "unit": "单位",
        "vs_rest": "与其余相比", "below-average": "低于平均", "above-average": "高于平均",
        "none_flagged": "没有单位与其上级中的其余单位存在显著差异。",
        "complaint_rate": "投诉率(%)", "resolved": "已解决(%)",
        "complainers": "投诉者的满意度", "others": "未投诉者的满意度",
        "difference": "差异", "no_complaints": "问卷未记录投诉。",
        "complaint_codes": "问题是什么、出现多少、在哪里（投诉描述编码）",
        "complaint_codes_note": "{n} 条投诉描述中带有各编码的比例；分布：第一个细分中提及最多的单位（不列出低于隐私下限的单位）。",
        "code": "编码", "mentions": "提及次数", "share": "占比(%)", "where": "分布",
        "gain": "可提升", "in": "所属", "owner": "负责人", "action": "措施", "due": "完成日期", "status": "状态",
        "open": "待处理", "none_priorities": "没有重要性模型(受访者太少)。",
        "account": "数据核算", "rows_read": "读取行数", "rows_used": "使用行数",
        "rows_excluded": "排除行数", "excluded": "排除",
        "concentrate-here": "重点改进", "keep-up": "继续保持", "low-priority": "次要改进",
        "possible-overkill": "可能过度投入",
    },
}

TEMPLATE = """<!doctype html>
<html lang="{{ s.language }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ t.pack }}: {{ s.title }}</title>
<style>
@page { size: A4; margin: 16mm 14mm; }
body { font-family: "Helvetica Neue", Arial, "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif;
       color: #111; margin: 0 auto; max-width: 60rem; padding: 1rem; line-height: 1.4; font-size: 10.5pt; }
h1 { font-size: 17pt; margin: 0 0 .2rem; } h2 { font-size: 13pt; margin: 1.4rem 0 .3rem; break-after: avoid; }
.clause { color: #305496; margin-right: .4em; }
p.meta, p.note { color: #444; margin: .2rem 0 .6rem; }
table { border-collapse: collapse; width: 100%; margin: .4rem 0 .8rem; break-inside: auto; }
tr { break-inside: avoid; }
th, td { border: 1px solid #999; padding: .2rem .4rem; text-align: left; vertical-align: top; }
th { background: #dde4f0; } td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.blank { min-width: 5em; }
section { break-inside: avoid-page; }
.sig { font-weight: bold; }
@media print { body { padding: 0; max-width: none; } a { color: inherit; text-decoration: none; } }
</style>
</head>
<body>
<header>
<h1>{{ t.pack }}</h1>
<p class="meta">{{ s.title }} · {{ t.standard }} · {{ s.respondents | num(0) }} {{ t.respondents }}
{%- if s.generated %} · {{ t.built }} {{ s.generated }}{% endif %}</p>
</header>

<section id="c9-1-2">
<h2><span class="clause">9.1.2</span>{{ t.c912 }}</h2>
<p class="note">{{ t.c912_text }}</p>
<p class="meta">{{ t.questionnaire }}: {{ study.id }} ({{ t.version }} {{ study.version }})</p>
<table>
<tr><th></th><th>{{ t.value }}</th><th>{{ t.interval }}</th><th>{{ t.base }}</th></tr>
{% for key, v in (("csi", s.csi), ("csi_equal", s.csi_equal), ("nps", s.nps)) if v %}
<tr><td>{{ t[key] }}</td><td class="n">{{ v.value | num }}</td>
<td class="n">{% if v.ci_low is not none %}{{ v.ci_low | num }}–{{ v.ci_high | num }}{% endif %}</td>
<td class="n">{{ v.base | num(0) }}</td></tr>
{% endfor %}
</table>
{% if s.waves %}
<table>
<tr><th>{{ t.wave }}</th><th>{{ t.csi }}</th><th>{{ t.change }}</th><th>p</th></tr>
{% for label, csi, change in s.waves %}
<tr><td>{{ label }}</td><td class="n">{{ csi.value | num if csi else "–" }}</td>
<td class="n{% if change and change.significant %} sig{% endif %}">{{ change.change | num(1, True) if change else "" }}</td>
<td class="n">{{ change.p | pval if change else "" }}</td></tr>
{% endfor %}
</table>
{% endif %}
</section>

<section id="c9-1-3">
<h2><span class="clause">9.1.3</span>{{ t.c913 }}</h2>
<p class="note">{{ t.c913_text }}</p>
{% if s.drivers %}
<p class="meta">{{ t.method }}: {{ s.index.method }} · {{ t.r2 }} {{ s.index.r2 | num(2) }}</p>
<table>
<tr><th>{{ t.factor }}</th><th>{{ t.weight }}</th><th>{{ t.importance }}</th><th>{{ t.performance }}</th><th>{{ t.quadrant }}</th></tr>
{% for d in s.drivers %}
<tr><td>{{ d.label }}</td><td class="n">{{ d.weight | num(3) }}</td><td class="n">{{ d.importance | num(3) }}</td>
<td class="n">{{ d.performance | num }}</td><td>{{ t.get(d.quadrant, d.quadrant or "") }}</td></tr>
{% endfor %}
</table>
{% endif %}
<h3>{{ t.flagged }}</h3>
{% if s.flagged %}
<table>
<tr><th>{{ t.segment }}</th><th>{{ t.unit }}</th><th></th><th>CSI</th><th>{{ t.vs_rest }}</th><th>p</th><th>{{ t.base }}</th></tr>
{% for u in s.flagged %}
<tr><td>{{ u.segment }}</td><td>{{ u.unit }}</td><td>{{ t[u.flag] }}</td><td class="n">{{ u.csi | num }}</td>
<td class="n">{{ u.difference | num(1, True) }}</td><td class="n">{{ u.p | pval }}</td><td class="n">{{ u.base | num(0) }}</td></tr>
{% endfor %}
</table>
{% else %}<p>{{ t.none_flagged }}</p>{% endif %}
</section>

<section id="c9-3-2">
<h2><span class="clause">9.3.2</span>{{ t.c932 }}</h2>
<p class="note">{{ t.c932_text }}</p>
<ul>
<li>{{ t.csi }}: <strong>{{ s.csi.value | num if s.csi else "–" }}</strong>
{%- if s.csi and s.csi.ci_low is not none %} ({{ t.interval }} {{ s.csi.ci_low | num }}–{{ s.csi.ci_high | num }}){% endif %}</li>
<li>{% if s.change %}{{ t.change_text }} {{ s.change.previous }} ({{ s.change.wave }}): {{ s.change.change | num(1, True) }}
{{ t.points }}, {{ t.significant if s.change.significant else t.not_significant }}{% if s.change.p is not none %} ({{ s.change.p | pval }}){% endif %}
{%- else %}{{ t.no_change }}{% endif %}</li>
<li>{{ t.priorities }}: <a href="#priorities">{{ s.priorities | length }}</a></li>
</ul>
</section>

<section id="c10-2">
<h2><span class="clause">10.2</span>{{ t.c102 }}</h2>
<p class="note">{{ t.c102_text }}</p>
{% if s.complaint %}
<table>
<tr><th></th><th>{{ t.value }}</th><th>{{ t.interval }}</th><th>{{ t.base }}</th></tr>
{% for key, name in (("rate", "complaint_rate"), ("resolved", "resolved"), ("complainers_satisfaction", "complainers"),
                     ("others_satisfaction", "others"), ("satisfaction_difference", "difference")) if s.complaint.get(key) %}
{% set v = s.complaint[key] %}
<tr><td>{{ t[name] }}</td><td class="n">{{ v.value | num(1, key == "satisfaction_difference") }}</td>
<td class="n">{% if v.ci_low is not none %}{{ v.ci_low | num }}–{{ v.ci_high | num }}{% elif v.p is not none %}{{ v.p | pval }}{% endif %}</td>
<td class="n">{{ v.base | num(0) }}</td></tr>
{% endfor %}
</table>
{% else %}<p>{{ t.no_complaints }}</p>{% endif %}
{% if complaint_codes and complaint_codes.codes %}
<h3>{{ t.complaint_codes }}</h3>
<p class="note">{{ t.complaint_codes_note.format(n=complaint_codes.descriptions | num(0)) }}</p>
<table>
<tr><th>{{ t.code }}</th><th>{{ t.mentions }}</th><th>{{ t.share }}</th><th>{{ t.where }}</th></tr>
{% for c in complaint_codes.codes %}
<tr><td>{{ c.label }}</td><td class="n">{{ c.mentions | num(0) }}</td><td class="n">{{ (c.share * 100 if c.share is not none else none) | num }}</td>
<td>{% for w in c.where %}{{ w.label }} ({{ w.mentions }}){% if not loop.last %}, {% endif %}{% endfor %}</td></tr>
{% endfor %}
</table>
{% endif %}
</section>

<section id="priorities">
<h2>{{ t.priorities }}</h2>
<p class="note">{{ t.priorities_text }}</p>
{% if s.priorities %}
<table>
<tr><th>#</th><th>{{ t.driver }}</th><th>{{ t["in"] }}</th><th>{{ t.performance }}</th><th>{{ t.gain }}</th>
<th>{{ t.quadrant }}</th><th>{{ t.status }}</th><th>{{ t.owner }}</th><th>{{ t.action }}</th><th>{{ t.due }}</th></tr>
{% for p in s.priorities %}
<tr><td class="n">{{ p.priority }}</td><td>{{ p.label }}</td><td>{{ p.factor }}</td><td class="n">{{ p.performance | num }}</td>
<td class="n">{{ p.gain | num(2) }}</td><td>{{ t.get(p.quadrant, p.quadrant) }}</td><td>{{ t.open }}</td>
<td class="blank"></td><td class="blank"></td><td class="blank"></td></tr>
{% endfor %}
</table>
{% else %}<p>{{ t.none_priorities }}</p>{% endif %}
</section>

<section id="account">
<h2>{{ t.account }}</h2>
<table>
<tr><td>{{ t.rows_read }}</td><td class="n">{{ s.account.rows_read | num(0) }}</td></tr>
<tr><td>{{ t.rows_used }}</td><td class="n">{{ s.account.rows_used | num(0) }}</td></tr>
<tr><td>{{ t.rows_excluded }}</td><td class="n">{{ s.account.rows_excluded | num(0) }}</td></tr>
{% for reason, count in s.account.get("excluded_by_reason", {}).items() %}
<tr><td>{{ t.excluded }}: {{ reason }}</td><td class="n">{{ count | num(0) }}</td></tr>
{% endfor %}
</table>
</section>
</body>
</html>
"""


def render(results) -> str:
    summary = summarise(results, top=TOP_PRIORITIES)
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                                     lstrip_blocks=True)
    environment.filters.update(num=number, pval=p_text)
    words = {**WORDS["en"], **WORDS.get(summary.language, {})}
    complaint_codes = (getattr(results, "coding", None) or {}).get("complaints") or {}
    return environment.from_string(TEMPLATE).render(s=summary, t=words, study=results.study,
                                                    complaint_codes=complaint_codes)


class ReviewOutput:
    id = "review"
    description = ("management-review.html: ISO 9001:2015 management-review pack (9.1.2, 9.1.3, 9.3.2, 10.2), "
                   "printable, self-contained.")

    def write(self, results, study, out_dir):
        path = out_dir / "management-review.html"
        path.write_text(render(results), encoding="utf-8")
        return [path.relative_to(out_dir)]


@hookimpl
def surveyengine_register_outputs(registry):
    registry.add(ReviewOutput)
