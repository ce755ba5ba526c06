//! Briefings (研判报告): drafted from the data per county bureau and for the city bureau
//! per period (week, month or quarter), edited by the unit's analysts, published (then
//! frozen), printed and exported.
//!
//! [`draft`] computes a briefing — headline figures, top issues against the previous
//! period, the daily or weekly trend, hotspots (from `analysis::hotspots`, never a second
//! scan here), key opinions with the answers given, non-police matters by department and
//! a summary in Chinese — without a principal, so the CLI can draft one too. The other
//! functions act for a principal: only analysts (county or city, holding
//! `AnalyseOpinions`) draft, edit and publish, each inside their scope; leaders and other
//! readers see published versions only; a foreign or hidden briefing is `NotFound`.
//! Every draft, edit and publication is audited.
//!
//! Personal data: opinion texts and answers are shown as masked excerpts (phone, ID and
//! card numbers and self-given names starred) and no contact is ever read. This module
//! must not render HTML or DOCX (that is `web`), and must not compute a figure the
//! dashboard queries already give (it reuses `Store::dashboard_*`).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use minyi_core::access::{Permission, Scope};
use minyi_core::opinion::Escalation;
use minyi_core::org::UnitKind;
use minyi_core::period::{Period, PeriodKind, shanghai_midnight};
use minyi_core::records::CallbackState;
use minyi_core::taxonomy::{Category, Channel, DepartmentKind, Urgency, Verdict};
use minyi_store::dashboard::{Dimension, Routing};
use minyi_store::{
    BriefingChange, BriefingRow, BriefingState, NewBriefing, NewSection, SectionRow, UnitRow,
};

use crate::audit::{AuditAction, record};
use crate::auth::Principal;
use crate::handling::Refusal;
use crate::{App, AppError, Result};

/// Key opinions listed in a briefing, at most.
pub const KEY_OPINIONS: i64 = 12;
/// Categories listed under top issues, at most.
pub const TOP_ISSUES: usize = 8;
/// Categories drawn as their own line in the trend, besides the total.
pub const TREND_LINES: usize = 3;
/// Characters of an opinion or answer quoted in a briefing.
pub const EXCERPT_CHARS: usize = 120;
/// Longest editable text of one section.
pub const MAX_SECTION_CHARS: usize = 20_000;
/// Hotspots listed, at most (the most significant first).
pub const HOTSPOTS: usize = 8;

/// What a section holds. The codes are stored; keep them stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionKind {
    Headline,
    TopIssues,
    Trends,
    Hotspots,
    KeyOpinions,
    Departments,
    Summary,
}

impl SectionKind {
    pub const ALL: &'static [SectionKind] = &[
        SectionKind::Headline,
        SectionKind::TopIssues,
        SectionKind::Trends,
        SectionKind::Hotspots,
        SectionKind::KeyOpinions,
        SectionKind::Departments,
        SectionKind::Summary,
    ];

    pub fn code(self) -> &'static str {
        match self {
            SectionKind::Headline => "headline",
            SectionKind::TopIssues => "top_issues",
            SectionKind::Trends => "trends",
            SectionKind::Hotspots => "hotspots",
            SectionKind::KeyOpinions => "key_opinions",
            SectionKind::Departments => "departments",
            SectionKind::Summary => "summary",
        }
    }

    pub fn parse(s: &str) -> Option<SectionKind> {
        SectionKind::ALL.iter().copied().find(|k| k.code() == s)
    }

    /// The Chinese heading written into the document.
    pub fn heading_zh(self) -> &'static str {
        match self {
            SectionKind::Headline => "一、总体情况",
            SectionKind::TopIssues => "二、突出问题",
            SectionKind::Trends => "三、变化趋势",
            SectionKind::Hotspots => "四、聚集热点与趋势预警",
            SectionKind::KeyOpinions => "五、重点民意及回应",
            SectionKind::Departments => "六、非警务事项",
            SectionKind::Summary => "七、研判意见",
        }
    }
}

/// A count this period and in the period before.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Compared {
    /// A channel or category code.
    pub code: String,
    pub count: i64,
    pub previous: i64,
}

impl Compared {
    /// Change against the previous period in percent; none when it had nothing.
    pub fn change_pct(&self) -> Option<f64> {
        change_pct(self.count, self.previous)
    }
}

pub fn change_pct(now: i64, before: i64) -> Option<f64> {
    (before > 0).then(|| (now - before) as f64 * 100.0 / before as f64)
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Headline {
    /// Opinions received in the period (every channel, merged duplicates included, as on
    /// the dashboard).
    pub received: i64,
    /// Received in the previous period — while this one still runs, only in the same
    /// stretch of it (`partial`), so the change compares like with like.
    pub previous_received: i64,
    pub partial: bool,
    /// By channel, most first; channels with nothing in either period left out.
    pub by_channel: Vec<Compared>,
    /// Opinions first answered in the period, and of those by their deadline.
    pub answered: i64,
    pub answered_on_time: i64,
    /// Verdicts on opinions received in the period.
    pub satisfied: i64,
    pub basically_satisfied: i64,
    pub dissatisfied: i64,
    /// Callbacks due in the period by state code (every state listed).
    pub callbacks: Vec<(String, i64)>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TopIssues {
    /// Categories with anything in this period, most first (ties in vocabulary order).
    pub rows: Vec<Compared>,
    /// How many categories had anything, before the cut to [`TOP_ISSUES`].
    pub categories: usize,
    /// `previous` counts only the same stretch of the previous period (this one runs).
    pub partial: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Line {
    /// `total` or a category code.
    pub key: String,
    pub values: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Trends {
    /// `day` or `week`.
    pub step: String,
    /// `MM-DD` of each bucket's first day.
    pub labels: Vec<String>,
    /// First `total`, then the [`TREND_LINES`] largest categories.
    pub lines: Vec<Line>,
    /// Buckets begun by the drafting instant (the rest of a running period are empty,
    /// not quiet): what averages divide by.
    pub counted: usize,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HotspotRow {
    pub category: String,
    /// The centre village and the villages inside (names only).
    pub centre: String,
    pub villages: Vec<String>,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub observed: u64,
    pub expected: f64,
    pub p_value: f64,
    /// Tracking codes of the opinions inside (links for readers with access).
    pub opinion_codes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AlertRow {
    pub unit_name: String,
    pub category: String,
    pub since: NaiveDate,
    pub last_week: u64,
    pub baseline_mean: f64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Hotspots {
    /// The scanned window (the period, cut at the day of drafting).
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub villages: usize,
    pub replications: usize,
    pub max_p_value: f64,
    pub clusters: Vec<HotspotRow>,
    pub alerts: Vec<AlertRow>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KeyOpinion {
    pub tracking_code: String,
    pub received_at: DateTime<Utc>,
    pub unit_name: String,
    pub category: String,
    /// Why it is key, the first that applies: `escalated` (or marked key), `urgent`,
    /// `overdue`, `dissatisfied` or `conduct` (a negative opinion about officers' conduct).
    pub reason: String,
    pub state: String,
    /// Masked excerpt of the resident's text.
    pub excerpt: String,
    /// Masked excerpt of the latest answer, if answered with a recorded text (answers
    /// imported or given by phone may have none; `answered_at` still says when).
    pub answer: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KeyOpinions {
    pub rows: Vec<KeyOpinion>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DepartmentRow {
    /// A `DepartmentKind` code.
    pub department: String,
    pub received: i64,
    pub answered: i64,
    pub dissatisfied: i64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Departments {
    pub rows: Vec<DepartmentRow>,
}

/// The generated figures of one section (stored as JSON, tagged by kind).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Figures {
    Headline(Headline),
    TopIssues(TopIssues),
    Trends(Trends),
    Hotspots(Hotspots),
    KeyOpinions(KeyOpinions),
    Departments(Departments),
    Summary,
}

impl Figures {
    pub fn kind(&self) -> SectionKind {
        match self {
            Figures::Headline(_) => SectionKind::Headline,
            Figures::TopIssues(_) => SectionKind::TopIssues,
            Figures::Trends(_) => SectionKind::Trends,
            Figures::Hotspots(_) => SectionKind::Hotspots,
            Figures::KeyOpinions(_) => SectionKind::KeyOpinions,
            Figures::Departments(_) => SectionKind::Departments,
            Figures::Summary => SectionKind::Summary,
        }
    }
}

/// One section as drafted or as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Section {
    pub position: i64,
    pub kind: SectionKind,
    pub heading: String,
    pub figures: Figures,
    /// The text as it stands (edited or generated).
    pub body: String,
    /// The text as generated.
    pub generated: String,
    pub edited_by: Option<String>,
    pub edited_at: Option<DateTime<Utc>>,
}

/// A briefing computed from the data, not yet stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Draft {
    pub unit: UnitRow,
    pub period: Period,
    pub title: String,
    pub sections: Vec<Section>,
    pub synthetic: bool,
    pub drafted_at: DateTime<Utc>,
}

/// A stored briefing with its unit and sections.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Briefing {
    pub row: BriefingRow,
    pub unit: UnitRow,
    pub sections: Vec<Section>,
}

/// Drafts the briefing of a county or city bureau for a period from the data as of
/// `now`. A period that has not begun is refused; one still running counts to `now`.
pub async fn draft(app: &App, unit_code: &str, period: &str, now: DateTime<Utc>) -> Result<Draft> {
    let period = Period::parse(period).map_err(|e| AppError::Invalid(e.to_string()))?;
    let units = app.store.units().await?;
    let code = unit_code.trim();
    let unit = units
        .iter()
        .find(|u| u.code.as_str() == code)
        .cloned()
        .ok_or(AppError::NotFound)?;
    if !matches!(unit.kind, UnitKind::CityBureau | UnitKind::CountyBureau) {
        return Err(AppError::Invalid(format!(
            "briefings are drafted for a county or city bureau; {code} is a {} ({})",
            unit.kind.code(),
            unit.kind.label_zh()
        )));
    }
    let (from, to) = period.bounds();
    if from > now {
        return Err(AppError::Invalid(format!(
            "period {} has not begun yet",
            period.code()
        )));
    }
    let (prev_from, _) = period.previous().bounds();
    // While the period runs, compare with the same stretch of the previous one (its
    // first `now - from`), not with all of it.
    let partial = now < to;
    let prev_cut = if partial {
        (prev_from + (now - from)).min(from)
    } else {
        from
    };
    let tree: Vec<(i64, Option<i64>)> = units.iter().map(|u| (u.id, u.parent_id)).collect();
    let here: HashSet<i64> = Scope::subtree(unit.id, &tree).units().collect();
    let ids: Vec<i64> = here.iter().copied().collect();
    let names: HashMap<i64, &str> = units.iter().map(|u| (u.id, u.name.as_str())).collect();

    let store = &app.store;
    // Nothing after `now` counts (a draft as of a past instant sees the data as it was).
    let upto = to.min(now);
    let compare = [prev_from, prev_cut, from, upto];
    let buckets = trend_buckets(&period);
    let trend_edges: Vec<DateTime<Utc>> = buckets.1.iter().map(|e| (*e).min(upto)).collect();
    let (figures, by_channel, by_category, answered, callbacks, trend, keys, departments) = tokio::try_join!(
        store.dashboard_unit_figures(Routing::Unit, from, upto, now, now),
        store.dashboard_months(Routing::Unit, Dimension::Channel, &compare),
        store.dashboard_months(Routing::Unit, Dimension::Category, &compare),
        store.dashboard_answered(Routing::Unit, from, upto),
        store.dashboard_callbacks(from, upto),
        store.dashboard_months(Routing::Unit, Dimension::Category, &trend_edges),
        store.briefing_key_opinions(&ids, from, upto, now, KEY_OPINIONS),
        store.briefing_departments(&ids, from, upto),
    )?;

    // Headline.
    let mut h = Headline {
        received: 0,
        previous_received: 0,
        partial,
        by_channel: compared(&by_channel, &here, Channel::ALL.iter().map(|c| c.code())),
        answered: 0,
        answered_on_time: 0,
        satisfied: 0,
        basically_satisfied: 0,
        dissatisfied: 0,
        callbacks: CallbackState::ALL
            .iter()
            .map(|s| (s.code().to_owned(), 0))
            .collect(),
    };
    for f in figures.iter().filter(|f| here.contains(&f.unit_id)) {
        h.received += f.received;
        h.satisfied += f.satisfied;
        h.basically_satisfied += f.basically_satisfied;
        h.dissatisfied += f.dissatisfied;
    }
    h.previous_received = by_channel
        .iter()
        .filter(|r| r.month == 0 && here.contains(&r.unit_id))
        .map(|r| r.count)
        .sum();
    for a in answered.iter().filter(|a| here.contains(&a.unit_id)) {
        h.answered += a.answered;
        h.answered_on_time += a.on_time;
    }
    for c in callbacks.iter().filter(|c| here.contains(&c.unit_id)) {
        match h.callbacks.iter_mut().find(|(k, _)| *k == c.state) {
            Some((_, n)) => *n += c.count,
            None => h.callbacks.push((c.state.clone(), c.count)),
        }
    }
    h.by_channel.sort_by_key(|c| std::cmp::Reverse(c.count));

    // Top issues.
    let mut issues = compared(&by_category, &here, Category::ALL.iter().map(|c| c.code()));
    issues.retain(|c| c.count > 0);
    issues.sort_by_key(|c| std::cmp::Reverse(c.count));
    let top = TopIssues {
        partial,
        categories: issues.len(),
        rows: issues.into_iter().take(TOP_ISSUES).collect(),
    };

    // Trend: the total and the largest categories of the period.
    let n = buckets.0.len();
    let mut per_cat: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for r in trend.iter().filter(|r| here.contains(&r.unit_id)) {
        if let Some(slot) = per_cat
            .entry(r.key.as_str())
            .or_insert_with(|| vec![0; n])
            .get_mut(r.month)
        {
            *slot += r.count;
        }
    }
    let mut total = vec![0i64; n];
    for v in per_cat.values() {
        for (t, x) in total.iter_mut().zip(v) {
            *t += x;
        }
    }
    let mut lines = vec![Line {
        key: "total".into(),
        values: total,
    }];
    for row in top.rows.iter().take(TREND_LINES) {
        if let Some(v) = per_cat.get(row.code.as_str()) {
            lines.push(Line {
                key: row.code.clone(),
                values: v.clone(),
            });
        }
    }
    let trends = Trends {
        step: if period.kind == PeriodKind::Quarter {
            "week".into()
        } else {
            "day".into()
        },
        labels: buckets
            .0
            .iter()
            .map(|d| d.format("%m-%d").to_string())
            .collect(),
        counted: buckets.1[..n].iter().filter(|e| **e < upto).count(),
        lines,
    };

    // Key opinions and the answers given.
    let key_ids: Vec<i64> = keys.iter().map(|o| o.id).collect();
    let answers: HashMap<i64, (Option<String>, DateTime<Utc>)> = store
        .latest_answers(&key_ids)
        .await?
        .into_iter()
        .map(|(id, a, at)| (id, (a, at)))
        .collect();
    let key_rows: Vec<KeyOpinion> = keys
        .iter()
        .map(|o| {
            let reason = if o.escalation != Escalation::Station || o.key_opinion {
                "escalated"
            } else if o.urgency == Urgency::Urgent {
                "urgent"
            } else if o.state.is_open() && o.due_at.is_some_and(|d| d < now) {
                "overdue"
            } else if o.verdict == Some(Verdict::Dissatisfied) {
                "dissatisfied"
            } else {
                "conduct"
            };
            let answer = answers.get(&o.id);
            KeyOpinion {
                tracking_code: o.tracking_code.to_string(),
                received_at: o.received_at,
                unit_name: o
                    .unit_id
                    .and_then(|u| names.get(&u))
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
                category: o.category.code().into(),
                reason: reason.into(),
                state: o.state.code().into(),
                excerpt: excerpt(&o.text),
                answer: answer.and_then(|(a, _)| a.as_deref()).map(excerpt),
                answered_at: answer.map(|(_, at)| *at),
            }
        })
        .collect();

    let depts = Departments {
        rows: departments
            .into_iter()
            .map(|d| DepartmentRow {
                department: d.department,
                received: d.received,
                answered: d.answered,
                dissatisfied: d.dissatisfied,
            })
            .collect(),
    };

    let hot = hotspots(app, &unit, &period, now).await?;

    let sections_in = vec![
        Figures::Headline(h),
        Figures::TopIssues(top),
        Figures::Trends(trends),
        Figures::Hotspots(hot),
        Figures::KeyOpinions(KeyOpinions { rows: key_rows }),
        Figures::Departments(depts),
    ];
    let mut sections: Vec<Section> = Vec::new();
    for f in sections_in {
        let body = text::section(&period, &unit, &f);
        sections.push(Section {
            position: 0,
            kind: f.kind(),
            heading: f.kind().heading_zh().into(),
            figures: f,
            generated: body.clone(),
            body,
            edited_by: None,
            edited_at: None,
        });
    }
    let summary = text::summary(&period, &unit, &sections);
    sections.push(Section {
        position: 0,
        kind: SectionKind::Summary,
        heading: SectionKind::Summary.heading_zh().into(),
        figures: Figures::Summary,
        generated: summary.clone(),
        body: summary,
        edited_by: None,
        edited_at: None,
    });
    // Sections in document order, whatever order they were computed in.
    sections.sort_by_key(|s| SectionKind::ALL.iter().position(|k| *k == s.kind));
    for (i, s) in sections.iter_mut().enumerate() {
        s.position = i as i64;
    }
    Ok(Draft {
        title: format!("{}{}民意研判报告", unit.name, period.label_zh()),
        synthetic: unit.synthetic,
        unit,
        period,
        sections,
        drafted_at: now,
    })
}

/// The hotspot section: `analysis::hotspots` (the one scan there is) over the period's
/// days counted so far — ending with the period's last day, or today while it runs, and
/// at least 7 days long (the scan's shortest window), so a period drafted on its 3rd day
/// looks back into the previous one.
async fn hotspots(
    app: &App,
    unit: &UnitRow,
    period: &Period,
    now: DateTime<Utc>,
) -> Result<Hotspots> {
    let (_, to) = period.bounds();
    let last_instant = if now < to {
        now
    } else {
        to - Duration::milliseconds(1)
    };
    let last_day = day_of(last_instant);
    let days = (last_day - period.first_day()).num_days() + 1;
    let params = crate::analysis::HotspotParams {
        window_days: u32::try_from(days.clamp(7, 366)).unwrap_or(7),
        ..Default::default()
    };
    let r = crate::analysis::hotspots(app, unit.code.as_str(), &params, last_instant).await?;
    Ok(Hotspots {
        first_day: r.first_day,
        last_day: r.last_day,
        villages: r.villages,
        replications: r.params.replications,
        max_p_value: r.params.max_p_value,
        clusters: r
            .hotspots
            .iter()
            .take(HOTSPOTS)
            .map(|h| HotspotRow {
                category: h.category.code().into(),
                centre: h.centre.name.clone(),
                villages: h.villages.iter().map(|v| v.name.clone()).collect(),
                first_day: h.first_day,
                last_day: h.last_day,
                observed: h.observed,
                expected: h.expected,
                p_value: h.p_value,
                opinion_codes: h.opinion_codes.clone(),
            })
            .collect(),
        alerts: r
            .trend_alerts
            .iter()
            .take(HOTSPOTS)
            .map(|a| AlertRow {
                unit_name: a.unit_name.clone(),
                category: a.category.code().into(),
                since: a.since,
                last_week: a.last_week,
                baseline_mean: a.baseline_mean,
            })
            .collect(),
    })
}

/// Counts per code in bucket 2 (this period) and bucket 0 (the compared stretch of the
/// period before; bucket 1 is left out), over the
/// counted units, in the given vocabulary order; codes with nothing in both left out.
fn compared<'a>(
    rows: &[minyi_store::dashboard::MonthCount],
    here: &HashSet<i64>,
    order: impl Iterator<Item = &'a str>,
) -> Vec<Compared> {
    let mut by: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for r in rows.iter().filter(|r| here.contains(&r.unit_id)) {
        let e = by.entry(r.key.as_str()).or_default();
        match r.month {
            0 => e.1 += r.count,
            2 => e.0 += r.count,
            // Bucket 1 is the rest of the previous period, outside the comparison.
            _ => {}
        }
    }
    let mut out = Vec::new();
    for code in order {
        if let Some((count, previous)) = by.remove(code) {
            out.push(Compared {
                code: code.to_owned(),
                count,
                previous,
            });
        }
    }
    // Codes the vocabulary no longer lists still count, after the known ones.
    for (code, (count, previous)) in by {
        out.push(Compared {
            code: code.to_owned(),
            count,
            previous,
        });
    }
    out.retain(|c| c.count != 0 || c.previous != 0);
    out
}

/// The trend's buckets: each day of a week or month, each 7-day stretch of a quarter
/// (the last one shorter); their first days and the instants that bound them.
fn trend_buckets(period: &Period) -> (Vec<NaiveDate>, Vec<DateTime<Utc>>) {
    let days = period.days();
    let step = if period.kind == PeriodKind::Quarter {
        7
    } else {
        1
    };
    let firsts: Vec<NaiveDate> = days.iter().step_by(step).copied().collect();
    let mut edges: Vec<DateTime<Utc>> = firsts.iter().map(|d| shanghai_midnight(*d)).collect();
    edges.push(shanghai_midnight(period.end_day()));
    (firsts, edges)
}

/// A masked excerpt of free text written by a resident or an officer.
pub fn excerpt(s: &str) -> String {
    let masked = minyi_text::mask::mask_personal(s);
    let mut out: String = masked.chars().take(EXCERPT_CHARS).collect();
    if masked.chars().count() > EXCERPT_CHARS {
        out.push('…');
    }
    out
}

/// Analysts (the `AnalyseOpinions` permission) of the unit's scope draft, edit and
/// publish.
pub fn may_edit(p: &Principal) -> bool {
    p.may(Permission::AnalyseOpinions)
}

fn section_of(row: SectionRow) -> Result<Section> {
    let kind = SectionKind::parse(&row.kind).ok_or_else(|| {
        AppError::Store(minyi_store::StoreError::Corrupt(format!(
            "briefing section kind `{}`",
            row.kind
        )))
    })?;
    let figures: Figures = serde_json::from_str(&row.figures).map_err(|e| {
        AppError::Store(minyi_store::StoreError::Corrupt(format!(
            "figures of a {} section: {e}",
            row.kind
        )))
    })?;
    Ok(Section {
        position: row.position,
        kind,
        heading: row.heading,
        figures,
        body: row.body,
        generated: row.generated,
        edited_by: row.edited_by,
        edited_at: row.edited_at,
    })
}

/// Stores a draft (the next version of its unit and period) as `actor`, audited.
pub async fn store_draft(
    app: &App,
    d: &Draft,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<BriefingRow> {
    let mut sections = Vec::with_capacity(d.sections.len());
    for s in &d.sections {
        sections.push(NewSection {
            kind: s.kind.code().into(),
            heading: s.heading.clone(),
            figures: serde_json::to_string(&s.figures)
                .map_err(|e| AppError::Invalid(format!("briefing figures: {e}")))?,
            body: s.body.clone(),
        });
    }
    let (from, to) = d.period.bounds();
    let row = app
        .store
        .insert_briefing(
            &NewBriefing {
                unit_id: d.unit.id,
                period: d.period.code(),
                period_from: from,
                period_to: to,
                title: d.title.clone(),
                sections,
                synthetic: d.synthetic,
            },
            actor,
            now,
        )
        .await?;
    record(
        app,
        now,
        actor,
        AuditAction::Briefing,
        &format!("briefing:{}", row.id),
        &format!(
            "act=draft unit={} period={} version={}",
            d.unit.code.as_str(),
            row.period,
            row.version
        ),
    )
    .await?;
    Ok(row)
}

/// `p` drafts and stores the briefing of `unit_code` for `period`. Analysts only, of a
/// unit in their scope.
pub async fn create(
    app: &App,
    p: &Principal,
    unit_code: &str,
    period: &str,
    now: DateTime<Utc>,
) -> Result<std::result::Result<BriefingRow, Refusal>> {
    p.require(Permission::AnalyseOpinions)?;
    let unit = app
        .store
        .unit_by_code(unit_code.trim())
        .await?
        .ok_or(AppError::NotFound)?;
    if !p.scope.contains(unit.id) {
        return Err(AppError::NotFound);
    }
    if !matches!(unit.kind, UnitKind::CityBureau | UnitKind::CountyBureau) {
        return Ok(Err(Refusal("briefings_bureaus_only")));
    }
    let d = draft(app, unit_code, period, now).await?;
    Ok(Ok(store_draft(app, &d, &p.actor(), now).await?))
}

/// Briefings `p` may read, newest period first: of units in its scope; drafts only for
/// those who may edit them.
pub async fn list(app: &App, p: &Principal, limit: i64) -> Result<Vec<(BriefingRow, UnitRow)>> {
    p.require(Permission::ViewOpinions)?;
    if p.role.sees_by_department() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = p.scope.units().collect();
    let rows = app.store.briefings_of_units(&ids, limit).await?;
    let units: HashMap<i64, UnitRow> = app
        .store
        .units()
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let editor = may_edit(p);
    Ok(rows
        .into_iter()
        .filter(|b| editor || b.state == BriefingState::Published)
        .filter_map(|b| units.get(&b.unit_id).cloned().map(|u| (b, u)))
        .collect())
}

/// Reads a stored briefing without a principal (the CLI's export).
pub async fn load(app: &App, id: i64) -> Result<Briefing> {
    let row = app.store.briefing(id).await?.ok_or(AppError::NotFound)?;
    let unit = app
        .store
        .unit(row.unit_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let sections = app
        .store
        .briefing_sections(id)
        .await?
        .into_iter()
        .map(section_of)
        .collect::<Result<Vec<_>>>()?;
    Ok(Briefing {
        row,
        unit,
        sections,
    })
}

/// One briefing as `p` may read it: its unit in scope, and a draft only for editors.
pub async fn open(app: &App, p: &Principal, id: i64) -> Result<Briefing> {
    p.require(Permission::ViewOpinions)?;
    let row = app.store.briefing(id).await?.ok_or(AppError::NotFound)?;
    if p.role.sees_by_department()
        || !p.scope.contains(row.unit_id)
        || (row.state == BriefingState::Draft && !may_edit(p))
    {
        return Err(AppError::NotFound);
    }
    load(app, id).await
}

/// Checks an edited text: line ends made `\n`, other control characters refused, at
/// most [`MAX_SECTION_CHARS`].
fn clean_text(s: &str) -> std::result::Result<String, Refusal> {
    let t = s.replace("\r\n", "\n").replace('\r', "\n");
    if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Refusal("briefings_bad_text"));
    }
    if t.chars().count() > MAX_SECTION_CHARS || t.trim().is_empty() {
        return Err(Refusal("briefings_text_length"));
    }
    Ok(t)
}

/// Replaces the text of sections (by position) of a draft `p` may edit, if nobody
/// changed it since `revision`. Audited with the positions changed (not the text).
pub async fn edit(
    app: &App,
    p: &Principal,
    id: i64,
    revision: i64,
    edits: &[(i64, String)],
    now: DateTime<Utc>,
) -> Result<std::result::Result<i64, Refusal>> {
    p.require(Permission::AnalyseOpinions)?;
    let b = open(app, p, id).await?;
    if b.row.state == BriefingState::Published {
        return Ok(Err(Refusal("briefings_frozen")));
    }
    let mut clean = Vec::new();
    for (pos, text) in edits {
        let Some(s) = b.sections.iter().find(|s| s.position == *pos) else {
            return Ok(Err(Refusal("briefings_unknown_section")));
        };
        let t = match clean_text(text) {
            Ok(t) => t,
            Err(r) => return Ok(Err(r)),
        };
        // Only real changes are written, so the audit names what was edited.
        if t != s.body {
            clean.push((*pos, t));
        }
    }
    if clean.is_empty() {
        return Ok(Ok(b.row.revision));
    }
    match app
        .store
        .edit_briefing(id, revision, &clean, &p.actor(), now)
        .await?
    {
        BriefingChange::Done { revision } => {
            let positions: Vec<String> = clean.iter().map(|(p, _)| p.to_string()).collect();
            record(
                app,
                now,
                &p.actor(),
                AuditAction::Briefing,
                &format!("briefing:{id}"),
                &format!(
                    "act=edit sections={} revision={revision}",
                    positions.join(",")
                ),
            )
            .await?;
            Ok(Ok(revision))
        }
        BriefingChange::Frozen => Ok(Err(Refusal("briefings_frozen"))),
        BriefingChange::Stale { .. } => Ok(Err(Refusal("briefings_stale"))),
    }
}

/// Publishes a draft `p` may edit, as it stood at `revision`. Audited.
pub async fn publish(
    app: &App,
    p: &Principal,
    id: i64,
    revision: i64,
    now: DateTime<Utc>,
) -> Result<std::result::Result<(), Refusal>> {
    p.require(Permission::AnalyseOpinions)?;
    let b = open(app, p, id).await?;
    match app
        .store
        .publish_briefing(b.row.id, revision, &p.actor(), now)
        .await?
    {
        BriefingChange::Done { .. } => {
            record(
                app,
                now,
                &p.actor(),
                AuditAction::Briefing,
                &format!("briefing:{id}"),
                &format!(
                    "act=publish unit={} period={} version={}",
                    b.unit.code.as_str(),
                    b.row.period,
                    b.row.version
                ),
            )
            .await?;
            Ok(Ok(()))
        }
        BriefingChange::Frozen => Ok(Err(Refusal("briefings_frozen"))),
        BriefingChange::Stale { .. } => Ok(Err(Refusal("briefings_stale"))),
    }
}

/// The generated Chinese text of each section and the summary paragraph.
mod text {
    use super::*;

    fn pct(x: f64) -> String {
        format!("{x:.1}%")
    }

    fn ratio(a: i64, b: i64) -> Option<f64> {
        (b > 0).then(|| a as f64 * 100.0 / b as f64)
    }

    fn change(now: i64, before: i64, partial: bool) -> String {
        let then = if partial { "上期同期" } else { "上期" };
        match change_pct(now, before) {
            None if now == 0 => format!("与{then}持平"),
            None => format!("{then}为零"),
            Some(c) if c.abs() < 0.05 => format!("与{then}持平"),
            Some(c) if c > 0.0 => format!("较{then}增长{}", pct(c)),
            Some(c) => format!("较{then}下降{}", pct(-c)),
        }
    }

    fn category(code: &str) -> String {
        Category::parse(code)
            .map(|c| c.label_zh().to_owned())
            .unwrap_or_else(|_| code.to_owned())
    }

    fn channel(code: &str) -> String {
        Channel::parse(code)
            .map(|c| c.label_zh().to_owned())
            .unwrap_or_else(|_| code.to_owned())
    }

    fn department(code: &str) -> String {
        DepartmentKind::parse(code)
            .map(|c| c.label_zh().to_owned())
            .unwrap_or_else(|_| code.to_owned())
    }

    pub(super) fn section(period: &Period, unit: &UnitRow, f: &Figures) -> String {
        match f {
            Figures::Headline(h) => {
                let mut s = format!(
                    "{}，{}共受理群众民意{}件，{}（{}{}件）。",
                    period.label_zh(),
                    unit.name,
                    h.received,
                    change(h.received, h.previous_received, h.partial),
                    if h.partial { "上期同期" } else { "上期" },
                    h.previous_received
                );
                let channels: Vec<String> = h
                    .by_channel
                    .iter()
                    .filter(|c| c.count > 0)
                    .take(3)
                    .map(|c| format!("{}{}件", channel(&c.code), c.count))
                    .collect();
                if !channels.is_empty() {
                    s.push_str(&format!("主要来源渠道为{}。", channels.join("、")));
                }
                match ratio(h.answered_on_time, h.answered) {
                    Some(r) => s.push_str(&format!(
                        "期内答复{}件，其中按期答复{}件，按期答复率{}。",
                        h.answered,
                        h.answered_on_time,
                        pct(r)
                    )),
                    None => s.push_str("期内暂无答复办结的民意。"),
                }
                let rated = h.satisfied + h.basically_satisfied + h.dissatisfied;
                match ratio(h.satisfied + h.basically_satisfied, rated) {
                    Some(r) => s.push_str(&format!(
                        "群众评价{}件，满意{}件、基本满意{}件、不满意{}件，满意率（含基本满意）{}。",
                        rated,
                        h.satisfied,
                        h.basically_satisfied,
                        h.dissatisfied,
                        pct(r)
                    )),
                    None => s.push_str("期内尚无群众评价。"),
                }
                let due: i64 = h.callbacks.iter().map(|(_, n)| n).sum();
                let done = h
                    .callbacks
                    .iter()
                    .find(|(k, _)| k == CallbackState::Done.code())
                    .map(|(_, n)| *n)
                    .unwrap_or(0);
                if due > 0 {
                    s.push_str(&format!("应回访{due}件，已回访{done}件。"));
                } else {
                    s.push_str("期内无到期回访任务。");
                }
                s
            }
            Figures::TopIssues(t) => {
                if t.rows.is_empty() {
                    return "本期未收到分类民意。".into();
                }
                let parts: Vec<String> = t
                    .rows
                    .iter()
                    .take(3)
                    .map(|r| {
                        format!(
                            "{}（{}件，{}）",
                            category(&r.code),
                            r.count,
                            change(r.count, r.previous, t.partial)
                        )
                    })
                    .collect();
                let mut s = format!("本期群众反映较多的问题依次为{}。", parts.join("、"));
                let rising = t
                    .rows
                    .iter()
                    .filter(|r| r.count >= 5)
                    .filter_map(|r| r.change_pct().map(|c| (r, c)))
                    .filter(|(_, c)| *c >= 20.0)
                    .max_by(|a, b| a.1.total_cmp(&b.1));
                if let Some((r, c)) = rising {
                    s.push_str(&format!(
                        "其中{}增幅最大，较{}增长{}，需重点关注。",
                        category(&r.code),
                        if t.partial { "上期同期" } else { "上期" },
                        pct(c)
                    ));
                }
                s
            }
            Figures::Trends(t) => {
                let unit_word = if t.step == "week" { "周" } else { "日" };
                let Some(total) = t.lines.first() else {
                    return "本期无走势数据。".into();
                };
                let sum: i64 = total.values.iter().sum();
                if sum == 0 {
                    return "本期无民意，走势无从分析。".into();
                }
                let (peak_i, peak) = total
                    .values
                    .iter()
                    .enumerate()
                    .max_by_key(|(i, v)| (**v, std::cmp::Reverse(*i)))
                    .map(|(i, v)| (i, *v))
                    .unwrap_or((0, 0));
                let mean = sum as f64 / t.counted.max(1) as f64;
                format!(
                    "按{unit_word}统计，本期平均每{unit_word}{mean:.1}件，{}达到峰值{peak}件。",
                    t.labels.get(peak_i).cloned().unwrap_or_default()
                )
            }
            Figures::Hotspots(hs) => {
                let mut s = format!(
                    "对{}至{}期间{}个村（社区）的民意做前瞻性时空扫描（{}次蒙特卡洛模拟，显著性水平{}），",
                    hs.first_day, hs.last_day, hs.villages, hs.replications, hs.max_p_value
                );
                if hs.clusters.is_empty() {
                    s.push_str("未发现统计上显著的聚集热点。");
                } else {
                    let parts: Vec<String> = hs
                        .clusters
                        .iter()
                        .take(3)
                        .map(|c| {
                            format!(
                                "{}一带{}（{}件，期望{:.1}件，p={:.3}）",
                                c.centre,
                                category(&c.category),
                                c.observed,
                                c.expected,
                                c.p_value
                            )
                        })
                        .collect();
                    s.push_str(&format!(
                        "发现聚集热点{}处，主要为{}。",
                        hs.clusters.len(),
                        parts.join("；")
                    ));
                }
                if hs.alerts.is_empty() {
                    s.push_str("各单位分类民意走势未触发预警。");
                } else {
                    let parts: Vec<String> = hs
                        .alerts
                        .iter()
                        .take(3)
                        .map(|a| {
                            format!(
                                "{}{}（自{}起，近7日{}件）",
                                a.unit_name,
                                category(&a.category),
                                a.since,
                                a.last_week
                            )
                        })
                        .collect();
                    s.push_str(&format!(
                        "趋势预警{}项：{}。",
                        hs.alerts.len(),
                        parts.join("；")
                    ));
                }
                s
            }
            Figures::KeyOpinions(k) => {
                if k.rows.is_empty() {
                    return "本期无升级、紧急、超期、群众不满意或反映民警作风的重点民意。".into();
                }
                let count = |r: &str| k.rows.iter().filter(|o| o.reason == r).count();
                let answered = k.rows.iter().filter(|o| o.answered_at.is_some()).count();
                format!(
                    "本期列出重点民意{}件（升级或标记重点{}件、紧急{}件、超期未办{}件、群众不满意{}件、反映民警作风{}件），已答复{}件，未答复的须督办跟进。",
                    k.rows.len(),
                    count("escalated"),
                    count("urgent"),
                    count("overdue"),
                    count("dissatisfied"),
                    count("conduct"),
                    answered
                )
            }
            Figures::Departments(d) => {
                if d.rows.is_empty() {
                    return "本期无分流至联动部门的非警务事项。".into();
                }
                let total: i64 = d.rows.iter().map(|r| r.received).sum();
                let answered: i64 = d.rows.iter().map(|r| r.answered).sum();
                let mut rows = d.rows.clone();
                rows.sort_by_key(|r| std::cmp::Reverse(r.received));
                let parts: Vec<String> = rows
                    .iter()
                    .take(3)
                    .map(|r| format!("{}{}件", department(&r.department), r.received))
                    .collect();
                format!(
                    "本期非警务事项{total}件，主要涉及{}；已答复{answered}件。",
                    parts.join("、")
                )
            }
            Figures::Summary => String::new(),
        }
    }

    /// The closing paragraph: the main points of the other sections in two or three
    /// sentences, and what the analysts propose to watch.
    pub(super) fn summary(period: &Period, unit: &UnitRow, sections: &[Section]) -> String {
        let mut s = format!("综合研判，{}{}", period.label_zh(), unit.name);
        let mut watch: Vec<String> = Vec::new();
        for sec in sections {
            match &sec.figures {
                Figures::Headline(h) => {
                    s.push_str(&format!(
                        "民意总量{}件，{}",
                        h.received,
                        change(h.received, h.previous_received, h.partial)
                    ));
                    if let Some(r) = ratio(h.answered_on_time, h.answered) {
                        s.push_str(&format!("，按期答复率{}", pct(r)));
                    }
                    s.push('。');
                    if h.dissatisfied > 0 {
                        watch.push(format!(
                            "{}件群众不满意的民意要逐件回访、复核",
                            h.dissatisfied
                        ));
                    }
                }
                Figures::TopIssues(t) => {
                    if let Some(r) = t.rows.first() {
                        s.push_str(&format!("{}问题最为集中。", category(&r.code)));
                        watch.push(format!("针对{}问题研究专项措施", category(&r.code)));
                    }
                }
                Figures::Hotspots(h) => {
                    if let Some(c) = h.clusters.first() {
                        watch.push(format!(
                            "对{}一带{}聚集加强巡防和源头治理",
                            c.centre,
                            category(&c.category)
                        ));
                    }
                }
                Figures::KeyOpinions(k) => {
                    let open = k.rows.iter().filter(|o| o.answered_at.is_none()).count();
                    if open > 0 {
                        watch.push(format!("{open}件尚未答复的重点民意要限期办结"));
                    }
                }
                Figures::Departments(d) => {
                    let open: i64 = d.rows.iter().map(|r| r.received - r.answered).sum();
                    if open > 0 {
                        watch.push(format!("{open}件非警务事项需与联动部门共同督办"));
                    }
                }
                _ => {}
            }
        }
        if watch.is_empty() {
            s.push_str("总体平稳，建议保持现有工作力度。");
        } else {
            s.push_str(&format!("建议：{}。", watch.join("；")));
        }
        s
    }
}

/// The Shanghai day of an instant, for hotspot windows.
fn day_of(t: DateTime<Utc>) -> NaiveDate {
    (t + Duration::hours(8)).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_masked_and_cut() {
        assert_eq!(excerpt("电话13812345678"), "电话138****78");
        let long = "字".repeat(300);
        assert_eq!(excerpt(&long).chars().count(), EXCERPT_CHARS + 1);
    }

    #[test]
    fn change_is_none_without_a_previous_count() {
        assert_eq!(change_pct(5, 0), None);
        assert_eq!(change_pct(15, 10), Some(50.0));
        assert_eq!(change_pct(5, 10), Some(-50.0));
    }

    #[test]
    fn quarter_trends_go_by_week() {
        let q = Period::parse("2026-Q1").unwrap();
        let (firsts, edges) = trend_buckets(&q);
        assert_eq!(firsts.len(), 13);
        assert_eq!(edges.len(), 14);
        assert_eq!(*edges.last().unwrap(), q.bounds().1);
        let m = Period::parse("2026-02").unwrap();
        assert_eq!(trend_buckets(&m).0.len(), 28);
        assert_eq!(day_of(m.bounds().0), m.first_day());
    }
}
