//! HTML pieces of the assessment pages, built from the pure results of `minyi-assess`:
//! the ranking table, rule outcomes in words, a unit's explanation, what-if moves and
//! sensitivity. Pure functions of their arguments (no store, no request): the handlers
//! in the parent module fetch, these only render, so every page and the printable
//! report show the same words for the same run.

use std::collections::{BTreeMap, BTreeSet};

use minyi_assess::{
    ConditionStatus, End, MissingApplied, OutcomeCode, Reason, RuleOutcome, RunResult, Sensitivity,
    UncertaintySource, UnitResult,
};
use minyi_store::UnitRow;

use crate::html::esc;
use crate::i18n::{Lang, t};

/// Station names and their county (分局) names by unit code, for display only.
#[derive(Debug, Clone, Default)]
pub struct Names {
    by_code: BTreeMap<String, (String, String)>,
}

impl Names {
    /// From the unit tree: a unit's county is its parent's name.
    pub fn from_units(units: &[UnitRow]) -> Self {
        let by_id: BTreeMap<i64, &UnitRow> = units.iter().map(|u| (u.id, u)).collect();
        let by_code = units
            .iter()
            .map(|u| {
                let county = u
                    .parent_id
                    .and_then(|p| by_id.get(&p))
                    .map(|p| p.name.clone())
                    .unwrap_or_default();
                (u.code.as_str().to_owned(), (u.name.clone(), county))
            })
            .collect();
        Self { by_code }
    }

    /// The unit's name, or its code when the unit is no longer in the tree.
    pub fn name<'a>(&'a self, code: &'a str) -> &'a str {
        self.by_code.get(code).map_or(code, |(n, _)| n.as_str())
    }

    /// The county (parent unit) name; empty when unknown.
    pub fn county(&self, code: &str) -> &str {
        self.by_code.get(code).map_or("", |(_, c)| c.as_str())
    }
}

/// A catalogue label with a fallback: schemes are bureau-authored, so an indicator or
/// group id the catalogue does not know is shown as its id rather than as a key.
pub fn label(lang: Lang, key: &str, fallback: &str) -> String {
    let s = t(lang, key);
    if s == key {
        fallback.to_owned()
    } else {
        s.to_owned()
    }
}

pub fn group_label(lang: Lang, id: &str) -> String {
    label(lang, &format!("assess.group.{id}"), id)
}

pub fn indicator_label(lang: Lang, id: &str) -> String {
    label(lang, &format!("assess.ind.{id}"), id)
}

pub fn outcome_code(o: OutcomeCode) -> &'static str {
    match o {
        OutcomeCode::Merit => "merit",
        OutcomeCode::PromotionRecommended => "promotion_recommended",
        OutcomeCode::AwardIneligible => "award_ineligible",
        OutcomeCode::Accountability => "accountability",
        OutcomeCode::NotDistinguishableReview => "not_distinguishable_review",
    }
}

pub fn outcome_label(lang: Lang, o: OutcomeCode) -> String {
    t(lang, &format!("assess.outcome.{}", outcome_code(o))).to_owned()
}

/// Points with two decimals (scores are stored to nine; offices read two).
pub fn pts(x: f64) -> String {
    format!("{x:.2}")
}

/// A raw figure: integers as integers, other values to four decimals without trailing zeros.
pub fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        let s = format!("{x:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_owned()
    }
}

/// A share in [0, 1] as a percentage with one decimal.
pub fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn source_label(lang: Lang, s: UncertaintySource) -> String {
    t(
        lang,
        match s {
            UncertaintySource::Supplied => "assess.unc_supplied",
            UncertaintySource::MonteCarlo => "assess.unc_monte_carlo",
        },
    )
    .to_owned()
}

/// One structured reason in words.
pub fn reason_words(lang: Lang, r: &Reason) -> String {
    let floor_what = |i: &Option<String>| match i {
        Some(id) => indicator_label(lang, id),
        None => t(lang, "assess.basis_score").to_owned(),
    };
    match r {
        Reason::RankInSelection {
            end,
            k,
            rank,
            ranked,
        } => t(
            lang,
            match end {
                End::Top => "assess.reason.rank_top",
                End::Bottom => "assess.reason.rank_bottom",
            },
        )
        .replace("{rank}", &rank.to_string())
        .replace("{ranked}", &ranked.to_string())
        .replace("{k}", &k.to_string()),
        Reason::NoGuard => t(lang, "assess.reason.no_guard").to_owned(),
        Reason::ProbabilityMet {
            probability,
            threshold,
            source,
        } => t(lang, "assess.reason.probability_met")
            .replace("{p}", &pct(*probability))
            .replace("{threshold}", &pct(*threshold))
            .replace("{source}", &source_label(lang, *source)),
        Reason::ProbabilityBelowThreshold {
            probability,
            threshold,
            source,
        } => t(lang, "assess.reason.probability_below")
            .replace("{p}", &pct(*probability))
            .replace("{threshold}", &pct(*threshold))
            .replace("{source}", &source_label(lang, *source)),
        Reason::ProbabilityUnavailable { threshold } => {
            t(lang, "assess.reason.probability_unavailable")
                .replace("{threshold}", &pct(*threshold))
        }
        Reason::FloorBreached {
            indicator,
            value,
            floor,
        } => t(lang, "assess.reason.floor_breached")
            .replace("{what}", &floor_what(indicator))
            .replace("{value}", &num(*value))
            .replace("{floor}", &num(*floor)),
        Reason::FloorNotBreached {
            indicator,
            value,
            floor,
        } => t(lang, "assess.reason.floor_not_breached")
            .replace("{what}", &floor_what(indicator))
            .replace("{value}", &num(*value))
            .replace("{floor}", &num(*floor)),
        Reason::FloorUnavailable { indicator, floor } => t(lang, "assess.reason.floor_unavailable")
            .replace("{what}", &floor_what(indicator))
            .replace("{floor}", &num(*floor)),
    }
}

/// The rule that gave an outcome, in words: a review outcome names the rule it
/// stands in for, so "not distinguishable" says from what.
pub fn outcome_title(lang: Lang, o: &RuleOutcome) -> String {
    let label = outcome_label(lang, o.outcome);
    if o.outcome == OutcomeCode::NotDistinguishableReview {
        t(lang, "assess.review_for")
            .replace("{outcome}", &label)
            .replace("{rule}", &rule_label(lang, &o.rule))
    } else {
        label
    }
}

pub fn rule_label(lang: Lang, id: &str) -> String {
    label(lang, &format!("assess.rule.{id}"), id)
}

/// Outcomes with their reasons, as a list; "none" when no rule selected the unit.
pub fn outcomes_html(lang: Lang, u: &UnitResult) -> String {
    if u.outcomes.is_empty() {
        return format!(
            "<span class=\"muted\">{}</span>",
            esc(t(lang, "assess.outcome.none"))
        );
    }
    let mut s = String::from("<ul class=\"assess-outcomes\">");
    for o in &u.outcomes {
        let reasons: Vec<String> = o.reasons.iter().map(|r| reason_words(lang, r)).collect();
        s.push_str(&format!(
            "<li><strong class=\"outcome-{}\">{}</strong> <small>{}</small></li>",
            outcome_code(o.outcome),
            esc(&outcome_title(lang, o)),
            esc(&reasons.join(t(lang, "assess.reason_sep")))
        ));
    }
    s.push_str("</ul>");
    s
}

/// Outcomes as plain text (XLSX, short lists).
pub fn outcomes_text(lang: Lang, u: &UnitResult) -> String {
    if u.outcomes.is_empty() {
        return t(lang, "assess.outcome.none").to_owned();
    }
    u.outcomes
        .iter()
        .map(|o| {
            let reasons: Vec<String> = o.reasons.iter().map(|r| reason_words(lang, r)).collect();
            format!(
                "{}（{}）",
                outcome_title(lang, o),
                reasons.join(t(lang, "assess.reason_sep"))
            )
        })
        .collect::<Vec<_>>()
        .join("；")
}

/// "low–high" of the rank interval, or a dash when not known.
pub fn interval_text(u: &UnitResult) -> String {
    u.uncertainty
        .as_ref()
        .map(|x| format!("{}–{}", x.rank_low, x.rank_high))
        .unwrap_or_else(|| "—".to_owned())
}

/// P(among the bottom 3) where the run knows it.
pub fn p_bottom3(u: &UnitResult) -> Option<f64> {
    u.uncertainty
        .as_ref()
        .and_then(|x| x.p_bottom.get(&3).copied())
}

/// The group ids of a run in scheme order (from its first unit).
pub fn group_ids(run: &RunResult) -> Vec<(String, f64)> {
    run.units
        .first()
        .map(|u| {
            u.groups
                .iter()
                .map(|g| (g.group.clone(), g.weight))
                .collect()
        })
        .unwrap_or_default()
}

/// The indicator ids of a run in scheme order.
pub fn indicator_ids(run: &RunResult) -> Vec<String> {
    run.units
        .first()
        .map(|u| u.indicators.iter().map(|i| i.indicator.clone()).collect())
        .unwrap_or_default()
}

/// Which units of a ranking link to their explanation: those of run `run` whose codes
/// are in `units` (the caller's scope).
pub struct Links<'a> {
    pub run: i64,
    pub units: &'a BTreeSet<String>,
}

/// The ranking table, linking units to their explanations where `links` allows.
pub fn ranking_table(
    lang: Lang,
    run: &RunResult,
    names: &Names,
    links: Option<&Links<'_>>,
) -> String {
    let groups = group_ids(run);
    let mut s = format!(
        "<div class=\"table-wrap\"><table class=\"assess-ranking\"><caption>{}</caption><thead><tr>\
         <th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th>",
        esc(&t(lang, "assess.ranking_caption")
            .replace("{period}", &run.period)
            .replace("{n}", &run.ranked.to_string())),
        esc(t(lang, "assess.col_rank")),
        esc(t(lang, "assess.col_unit")),
        esc(t(lang, "assess.col_county")),
        esc(t(lang, "assess.col_score")),
    );
    for (g, w) in &groups {
        s.push_str(&format!(
            "<th scope=\"col\">{} <small>({})</small></th>",
            esc(&group_label(lang, g)),
            pct(*w)
        ));
    }
    s.push_str(&format!(
        "<th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        esc(t(lang, "assess.col_basis_rank")),
        esc(t(lang, "assess.col_interval")),
        esc(t(lang, "assess.col_p_bottom3")),
        esc(t(lang, "assess.col_outcome")),
    ));
    for u in &run.units {
        let name = match links {
            Some(l) if l.units.contains(&u.unit) => format!(
                "<a href=\"/assessment/runs/{}/units/{}\">{}</a>",
                l.run,
                esc(&u.unit),
                esc(names.name(&u.unit))
            ),
            _ => esc(names.name(&u.unit)),
        };
        s.push_str(&format!(
            "<tr data-unit=\"{}\"><td>{}</td><th scope=\"row\">{}</th><td>{}</td><td class=\"num\">{}</td>",
            esc(&u.unit),
            u.rank,
            name,
            esc(names.county(&u.unit)),
            pts(u.score)
        ));
        for (g, _) in &groups {
            let sub = u.groups.iter().find(|x| &x.group == g).map(|x| x.subtotal);
            s.push_str(&format!(
                "<td class=\"num\">{}</td>",
                sub.map(pts).unwrap_or_else(|| "—".into())
            ));
        }
        s.push_str(&format!(
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            u.basis
                .as_ref()
                .map(|b| format!("{}/{}", b.rank, b.ranked))
                .unwrap_or_else(|| "—".into()),
            interval_text(u),
            p_bottom3(u).map(pct).unwrap_or_else(|| "—".into()),
            outcomes_html(lang, u)
        ));
    }
    s.push_str("</tbody></table></div>");
    if !run.excluded.is_empty() {
        s.push_str(&format!("<h3>{}</h3><ul>", esc(t(lang, "assess.excluded"))));
        for x in &run.excluded {
            let why: Vec<String> = x
                .reasons
                .iter()
                .map(|r| match r {
                    minyi_assess::ExclusionReason::MissingIndicator { indicator } => {
                        t(lang, "assess.excluded_missing")
                            .replace("{indicator}", &indicator_label(lang, indicator))
                    }
                    minyi_assess::ExclusionReason::NoWeightedData => {
                        t(lang, "assess.excluded_no_data").to_owned()
                    }
                })
                .collect();
            s.push_str(&format!(
                "<li>{}: {}</li>",
                esc(names.name(&x.unit)),
                esc(&why.join("；"))
            ));
        }
        s.push_str("</ul>");
    }
    s
}

/// The missing-data treatment in words.
pub fn missing_words(lang: Lang, m: &MissingApplied) -> String {
    match m {
        MissingApplied::GroupReweight => t(lang, "assess.missing.group_reweight").to_owned(),
        MissingApplied::PeerGroupMean {
            peers,
            fallback_all_units,
        } => t(
            lang,
            if *fallback_all_units {
                "assess.missing.peer_all"
            } else {
                "assess.missing.peer_group"
            },
        )
        .replace("{n}", &peers.to_string()),
        MissingApplied::UnitGroupMean { values } => {
            if *values == 0 {
                t(lang, "assess.missing.unit_none").to_owned()
            } else {
                t(lang, "assess.missing.unit_group").replace("{n}", &values.to_string())
            }
        }
        MissingApplied::WorstObserved => t(lang, "assess.missing.worst").to_owned(),
    }
}

/// A drill-down reference: app paths become links, anything else is shown as text.
fn drill_html(r: &str) -> String {
    if r.starts_with('/') && !r.starts_with("//") {
        format!("<a href=\"{0}\">{0}</a>", esc(r))
    } else {
        format!("<code>{}</code>", esc(r))
    }
}

/// A unit's explanation: every indicator's line, the group subtotals, the conditions
/// and the rule outcomes. The contributions add up to the base score shown.
pub fn explanation(lang: Lang, u: &UnitResult) -> String {
    let mut s = format!(
        "<div class=\"table-wrap\"><table class=\"assess-explain\"><thead><tr>\
         <th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th>\
         <th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th>\
         <th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        esc(t(lang, "assess.col_indicator")),
        esc(t(lang, "assess.col_group")),
        esc(t(lang, "assess.col_raw")),
        esc(t(lang, "assess.col_fraction")),
        esc(t(lang, "assess.col_normalised")),
        esc(t(lang, "assess.col_weight")),
        esc(t(lang, "assess.col_applied_weight")),
        esc(t(lang, "assess.col_contribution")),
        esc(t(lang, "assess.col_missing")),
        esc(t(lang, "assess.col_drill")),
    );
    for i in &u.indicators {
        let raw = match (i.raw, i.se) {
            (Some(v), Some(se)) => format!("{} <small>± {}</small>", num(v), num(se)),
            (Some(v), None) => num(v),
            (None, _) => format!(
                "<span class=\"muted\">{}</span>",
                esc(t(lang, "assess.missing_value"))
            ),
        };
        let fraction = match (i.numerator, i.denominator) {
            (Some(n), Some(d)) => format!("{} / {}", num(n), num(d)),
            _ => "—".into(),
        };
        s.push_str(&format!(
            "<tr data-indicator=\"{}\"><th scope=\"row\">{}<br><small>{}</small></th><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num contribution\">{:.4}</td><td>{}</td><td>{}</td></tr>",
            esc(&i.indicator),
            esc(&indicator_label(lang, &i.indicator)),
            esc(&i.source),
            esc(&group_label(lang, &i.group)),
            raw,
            fraction,
            i.normalised
                .map(|n| format!("{n:.4}"))
                .unwrap_or_else(|| "—".into()),
            pct(i.weight),
            pct(i.applied_weight),
            i.contribution,
            i.missing
                .as_ref()
                .map(|m| esc(&missing_words(lang, m)))
                .unwrap_or_default(),
            i.drill_down
                .iter()
                .map(|r| drill_html(r))
                .collect::<Vec<_>>()
                .join("<br>"),
        ));
    }
    let sum: f64 = u.indicators.iter().map(|i| i.contribution).sum();
    s.push_str(&format!(
        "</tbody><tfoot><tr><th scope=\"row\" colspan=\"7\">{}</th><td class=\"num\" id=\"contribution-sum\">{:.4}</td><td colspan=\"2\"></td></tr></tfoot></table></div>",
        esc(t(lang, "assess.sum_contributions")),
        sum
    ));
    // Group subtotals.
    s.push_str(&format!(
        "<h3>{}</h3><table class=\"assess-groups\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        esc(t(lang, "assess.groups_title")),
        esc(t(lang, "assess.col_group")),
        esc(t(lang, "assess.col_weight")),
        esc(t(lang, "assess.col_applied_weight")),
        esc(t(lang, "assess.col_subtotal")),
    ));
    for g in &u.groups {
        s.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&group_label(lang, &g.group)),
            pct(g.weight),
            pct(g.applied_weight),
            pts(g.subtotal)
        ));
    }
    s.push_str("</tbody></table>");
    // Jurisdiction conditions.
    s.push_str(&format!(
        "<h3>{}</h3>",
        esc(t(lang, "assess.conditions_title"))
    ));
    if u.conditions.is_empty() {
        s.push_str(&format!(
            "<p class=\"muted\">{}</p>",
            esc(t(lang, "assess.conditions_none"))
        ));
    } else {
        s.push_str(&format!(
            "<table class=\"assess-conditions\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            esc(t(lang, "assess.col_condition")),
            esc(t(lang, "assess.col_figure")),
            esc(t(lang, "assess.col_status")),
            esc(t(lang, "assess.col_penalty")),
            esc(t(lang, "assess.col_cap")),
        ));
        for c in &u.conditions {
            let status = match c.status {
                ConditionStatus::Triggered => "assess.cond.triggered",
                ConditionStatus::NotTriggered => "assess.cond.not_triggered",
                ConditionStatus::NoData => "assess.cond.no_data",
            };
            s.push_str(&format!(
                "<tr><th scope=\"row\">{}<br><small>{}</small></th><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&label(lang, &format!("assess.condition.{}", c.condition), &c.condition)),
                esc(&c.source),
                c.value.map(num).unwrap_or_else(|| "—".into()),
                esc(t(lang, status)),
                pts(c.penalty),
                c.cap.map(pts).unwrap_or_else(|| "—".into()),
            ));
        }
        s.push_str("</tbody></table>");
    }
    s.push_str(&format!(
        "<dl class=\"facts\"><dt>{}</dt><dd id=\"base-score\">{}</dd><dt>{}</dt><dd id=\"final-score\">{}</dd><dt>{}</dt><dd>{}</dd>",
        esc(t(lang, "assess.base_score")),
        pts(u.base_score),
        esc(t(lang, "assess.col_score")),
        pts(u.score),
        esc(t(lang, "assess.col_rank")),
        u.rank,
    ));
    if let Some(b) = &u.basis {
        s.push_str(&format!(
            "<dt>{}</dt><dd>{} ({}/{})</dd>",
            esc(t(lang, "assess.col_basis_rank")),
            pts(b.score),
            b.rank,
            b.ranked
        ));
    }
    s.push_str(&format!(
        "<dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl>",
        esc(t(lang, "assess.col_interval")),
        interval_text(u),
        esc(t(lang, "assess.col_p_bottom3")),
        p_bottom3(u).map(pct).unwrap_or_else(|| "—".into()),
        esc(t(lang, "assess.col_outcome")),
        outcomes_html(lang, u),
    ));
    s
}

/// What moved between two runs: every unit whose rank or outcome changed first.
pub fn moves_table(lang: Lang, cmp: &minyi_assess::Comparison, names: &Names) -> String {
    let mut s = format!(
        "<p>{}</p><div class=\"table-wrap\"><table class=\"assess-moves\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th>\
         <th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        esc(&t(lang, "assess.whatif_summary")
            .replace("{moved}", &cmp.moved.to_string())
            .replace("{outcomes}", &cmp.outcome_changes.to_string())),
        esc(t(lang, "assess.col_unit")),
        esc(t(lang, "assess.col_rank_before")),
        esc(t(lang, "assess.col_rank_after")),
        esc(t(lang, "assess.col_moved")),
        esc(t(lang, "assess.col_score_before")),
        esc(t(lang, "assess.col_score_after")),
        esc(t(lang, "assess.col_outcome_before")),
        esc(t(lang, "assess.col_outcome_after")),
    );
    let outs = |v: &[OutcomeCode]| {
        if v.is_empty() {
            "—".to_owned()
        } else {
            v.iter()
                .map(|o| outcome_label(lang, *o))
                .collect::<Vec<_>>()
                .join("、")
        }
    };
    for m in &cmp.units {
        let changed = m.rank_before != m.rank_after || m.outcomes_before != m.outcomes_after;
        let moved = match m.moved {
            Some(0) | None => "—".to_owned(),
            Some(x) if x > 0 => format!("↑{x}"),
            Some(x) => format!("↓{}", -x),
        };
        s.push_str(&format!(
            "<tr data-unit=\"{}\"{}><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&m.unit),
            if changed { " class=\"moved\"" } else { "" },
            esc(names.name(&m.unit)),
            m.rank_before.map(|r| r.to_string()).unwrap_or_else(|| "—".into()),
            m.rank_after.map(|r| r.to_string()).unwrap_or_else(|| "—".into()),
            moved,
            m.score_before.map(pts).unwrap_or_else(|| "—".into()),
            m.score_after.map(pts).unwrap_or_else(|| "—".into()),
            esc(&outs(&m.outcomes_before)),
            esc(&outs(&m.outcomes_after)),
        ));
    }
    s.push_str("</tbody></table></div>");
    s
}

/// Rank stability under random weight changes, one row per unit.
pub fn sensitivity_table(lang: Lang, sens: &Sensitivity, names: &Names) -> String {
    let mut s = format!(
        "<p>{}</p><div class=\"table-wrap\"><table class=\"assess-sensitivity\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th>\
         <th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        esc(&t(lang, "assess.sens_settings")
            .replace("{draws}", &sens.settings.draws.to_string())
            .replace("{magnitude}", &pct(sens.settings.magnitude))
            .replace("{seed}", &sens.settings.seed.to_string())),
        esc(t(lang, "assess.col_unit")),
        esc(t(lang, "assess.col_rank")),
        esc(t(lang, "assess.col_same_rank")),
        esc(t(lang, "assess.col_rank_range")),
        esc(t(lang, "assess.col_basis_same_rank")),
        esc(t(lang, "assess.col_basis_rank_range")),
    );
    for u in &sens.units {
        s.push_str(&format!(
            "<tr data-unit=\"{}\"><th scope=\"row\">{}</th><td>{}</td><td class=\"num\">{}</td><td>{}–{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&u.unit),
            esc(names.name(&u.unit)),
            u.score.rank,
            pct(u.score.same_rank_share),
            u.score.rank_min,
            u.score.rank_max,
            u.basis
                .as_ref()
                .map(|b| pct(b.same_rank_share))
                .unwrap_or_else(|| "—".into()),
            u.basis
                .as_ref()
                .map(|b| format!("{}–{}", b.rank_min, b.rank_max))
                .unwrap_or_else(|| "—".into()),
        ));
    }
    s.push_str("</tbody></table></div>");
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use minyi_assess::{IndicatorValue, RunInput, Scheme, UnitInput};

    /// Four units on one indicator with standard errors, so the run simulates rank
    /// uncertainty; bottom 1 accountable only with P ≥ 0.99, which two close units miss.
    pub(crate) fn small_run() -> RunResult {
        let scheme = Scheme::parse(
            r#"
id = "t"
version = "1"
period = "year"
[[group]]
id = "g"
weight = 1.0
[[group.indicator]]
id = "a"
source = "business.a"
weight = 1.0
direction = "higher"
normalisation = "min_max"
[[rule]]
id = "merit"
outcome = "merit"
top = 1
[[rule]]
id = "accountability"
outcome = "accountability"
bottom = 1
min_probability = 0.99
floor = 10.0
"#,
        )
        .unwrap();
        let input = RunInput {
            period: "2026".into(),
            units: [10.0, 20.0, 30.0, 30.5]
                .iter()
                .enumerate()
                .map(|(i, v)| UnitInput {
                    code: format!("S{i}"),
                    values: [(
                        "a".to_owned(),
                        IndicatorValue {
                            value: *v,
                            se: Some(6.0),
                            ..Default::default()
                        },
                    )]
                    .into(),
                    ..Default::default()
                })
                .collect(),
        };
        minyi_assess::run(&scheme, &input).unwrap()
    }

    /// Every reason of every outcome reads as a sentence in both languages: no key shown
    /// instead of text, no placeholder left unfilled.
    #[test]
    fn reasons_and_outcomes_are_sentences_in_both_languages() {
        let run = small_run();
        let reasons: Vec<&Reason> = run
            .units
            .iter()
            .flat_map(|u| u.outcomes.iter())
            .flat_map(|o| o.reasons.iter())
            .collect();
        assert!(reasons.len() >= 3, "{reasons:?}");
        let more = [
            Reason::NoGuard,
            Reason::ProbabilityUnavailable { threshold: 0.8 },
            Reason::ProbabilityMet {
                probability: 0.9,
                threshold: 0.8,
                source: UncertaintySource::Supplied,
            },
            Reason::FloorBreached {
                indicator: Some("satisfaction".into()),
                value: 0.5,
                floor: 0.6,
            },
            Reason::FloorUnavailable {
                indicator: None,
                floor: 0.6,
            },
        ];
        for lang in [Lang::ZhCn, Lang::En] {
            for r in reasons.iter().copied().chain(more.iter()) {
                let w = reason_words(lang, r);
                assert!(!w.contains('{') && !w.starts_with("assess."), "{w}");
            }
            for u in &run.units {
                let text = outcomes_text(lang, u);
                assert!(!text.contains('{') && !text.contains("assess."), "{text}");
            }
        }
        assert_eq!(
            reason_words(Lang::ZhCn, &more[3]),
            "满意度 0.5 低于底线 0.6"
        );
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(num(3.0), "3");
        assert_eq!(num(0.25), "0.25");
        assert_eq!(num(0.123456), "0.1235");
        assert_eq!(pts(75.5), "75.50");
        assert_eq!(pct(0.746), "74.6%");
    }
}
