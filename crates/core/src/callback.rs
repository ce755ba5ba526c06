//! Callback rules (回访规则) and case-progress notices (回告): which records produce a
//! callback and when it falls due, who calls, which people are never called, how attempts
//! are spaced and when a callback is given up; and which case milestones are told to the
//! victim by SMS.
//!
//! The rules come from the `[callbacks]` section of `minyi.toml` laid over
//! [`DEFAULT_RULES`] (see docs/formats.md); [`CallbackRules::from_toml`] checks every key
//! and names the one that is wrong. Planning is a pure function of a record's facts
//! ([`RecordFacts`]) and the calendar; this module must not do IO, async or SQL.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};

use crate::calendar::{Calendar, CalendarError, SEARCH_LIMIT_DAYS, SHANGHAI, shanghai_date};
use crate::records::{CallbackOutcome, CallbackSource, CallbackState, RecordAction, RecordFlags};
use crate::taxonomy::{Category, Verdict, vocabulary};

/// The shipped rules: the `[callbacks]` section every installation starts from.
pub const DEFAULT_RULES: &str = r#"
# Attempts per callback, and the working hours between two attempts.
attempts = 3
spacing_working_hours = 4
# Working hours (Asia/Shanghai) on working days of the calendar: spacing counts only these.
working_hours = "08:30-17:30"
# Who is never called: domestic_violence, ongoing_danger, opted_out. A record without a
# phone number is always excluded (no_contact).
exclusions = ["domestic_violence", "ongoing_danger", "opted_out"]
# 110 calls in these categories concern a station's own conduct: the county bureau above
# the station calls instead.
conduct_categories = ["conduct"]
# A record whose milestone lies further back than this when the planner first sees it
# gets no callback and no notice (a history import must not flood the worklist or
# residents' phones).
plan_within_days = 30
# Timely case filing (立案及时率): a case filed within this many days of its report is on
# time; one not filed after them counts as late.
filing_limit_days = 7

[rules.incident_closed]
source = "incident"
on = "closed"
within_working_days = 1
police_matters_only = false

[rules.case_filed]
source = "case"
on = "filed"
within_working_days = 3

[rules.case_solved]
source = "case"
on = "solved"
within_working_days = 3

[rules.case_closed]
source = "case"
on = "closed"
within_working_days = 3

[rules.permit_issued]
source = "permit"
on = "issued"
within_working_days = 2

[notices]
enabled = true
milestones = ["filed", "investigator_assigned", "suspect_caught", "closed", "loss_recovered"]

[notices.templates]
filed = "您报案的案件（编号{ref}）已立案侦查。如不愿再收到案件进展短信，请回复TD。"
investigator_assigned = "您报案的案件（编号{ref}）已确定办案民警，正在侦办中。回复TD退订。"
suspect_caught = "您报案的案件（编号{ref}）已抓获犯罪嫌疑人。回复TD退订。"
closed = "您报案的案件（编号{ref}）已办结，感谢您的支持。回复TD退订。"
loss_recovered = "您报案的案件（编号{ref}）已追回损失{amount}元，请留意办案民警通知。回复TD退订。"
"#;

/// The placeholders a notice template may use.
pub const NOTICE_PLACEHOLDERS: &[&str] = &["ref", "amount"];

vocabulary! {
    /// Why a callback is recorded but never made. Excluded callbacks are counted out of
    /// coverage, with the reason kept.
    Exclusion, "callback exclusion" {
        DomesticViolence => "domestic_violence", "家庭暴力";
        OngoingDanger => "ongoing_danger", "危险仍在持续";
        OptedOut => "opted_out", "本人拒绝联系";
        NoContact => "no_contact", "无联系方式";
    }
}

/// A configuration key that is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("callbacks.{key}: {message}")]
pub struct RulesError {
    /// The key under `[callbacks]`, dotted (`rules.case_filed.within_working_days`).
    pub key: String,
    pub message: String,
}

fn bad(key: impl Into<String>, message: impl Into<String>) -> RulesError {
    RulesError {
        key: key.into(),
        message: message.into(),
    }
}

/// One rule: a record of `source` reaching milestone `on` is called back within
/// `within_working_days` working days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The rule's code (the table name), stored on each callback it makes.
    pub code: String,
    pub source: CallbackSource,
    pub on: RecordAction,
    pub within_working_days: u32,
    /// For incidents: only calls that were police matters (the others went to a linked
    /// department, and the command centre may leave their callback to it).
    pub police_matters_only: bool,
}

impl Rule {
    /// Does this rule concern records of `source` (and, when it is limited to police
    /// matters, was this 110 call one)? Milestones and timing aside.
    pub fn applies_to(&self, source: CallbackSource, police_matter: bool) -> bool {
        self.source == source && (!self.police_matters_only || police_matter)
    }
}

/// What the rules look at to decide whether anyone will ever be called about a record:
/// its kind, whether a 110 call was a police matter, and what the police system reported
/// about the person's safety and wishes. The planner ([`plan`]) and the import that flags
/// a record stored without a phone number both ask [`CallbackRules::calls_about`], so the
/// two cannot disagree about who is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackSubject {
    pub source: CallbackSource,
    /// Incidents: the call was a police matter. Other sources: true.
    pub police_matter: bool,
    pub domestic_violence: bool,
    pub ongoing_danger: bool,
    pub opted_out: bool,
}

impl CallbackSubject {
    /// A record of `source` with the flags its police system reported.
    pub fn new(source: CallbackSource, police_matter: bool, flags: RecordFlags) -> Self {
        CallbackSubject {
            source,
            police_matter,
            domestic_violence: flags.domestic_violence,
            ongoing_danger: flags.ongoing_danger,
            opted_out: flags.notices_opt_out,
        }
    }
}

/// Case-progress notices to victims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeRules {
    pub enabled: bool,
    /// Case milestones told by SMS, in this order.
    pub milestones: Vec<RecordAction>,
    /// zh-CN SMS text per milestone, with `{ref}` and `{amount}`.
    pub templates: BTreeMap<RecordAction, String>,
}

/// The whole `[callbacks]` configuration, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackRules {
    pub rules: Vec<Rule>,
    pub attempts: u32,
    pub spacing_working_hours: u32,
    pub day_start: NaiveTime,
    pub day_end: NaiveTime,
    pub exclusions: Vec<Exclusion>,
    pub conduct_categories: Vec<Category>,
    pub plan_within_days: u32,
    /// Days from a case's report within which filing is timely (the hard indicator).
    pub filing_limit_days: u32,
    pub notices: NoticeRules,
}

impl Default for CallbackRules {
    fn default() -> Self {
        // The shipped text is checked by a unit test; were it ever broken, an empty rule
        // set is safer than a panic at start.
        CallbackRules::from_toml(None).unwrap_or_else(|_| CallbackRules {
            rules: Vec::new(),
            attempts: 3,
            spacing_working_hours: 4,
            day_start: NaiveTime::from_hms_opt(8, 30, 0).unwrap_or_default(),
            day_end: NaiveTime::from_hms_opt(17, 30, 0).unwrap_or_default(),
            exclusions: Vec::new(),
            conduct_categories: Vec::new(),
            plan_within_days: 30,
            filing_limit_days: crate::records::FILING_LIMIT_DAYS as u32,
            notices: NoticeRules {
                enabled: false,
                milestones: Vec::new(),
                templates: BTreeMap::new(),
            },
        })
    }
}

/// Which milestones a source can reach: a rule or notice on anything else is refused.
pub fn milestones_of(source: CallbackSource) -> &'static [RecordAction] {
    use RecordAction::*;
    match source {
        CallbackSource::Incident => &[Received, Closed],
        CallbackSource::Case => &[
            Received,
            Filed,
            InvestigatorAssigned,
            SuspectCaught,
            Solved,
            LossRecovered,
            Closed,
        ],
        CallbackSource::Permit => &[Received, Issued],
        CallbackSource::Opinion => &[],
    }
}

fn is_code(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && s.len() <= 40
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn int(key: &str, v: &toml::Value, lo: i64, hi: i64) -> Result<u32, RulesError> {
    let n = v
        .as_integer()
        .ok_or_else(|| bad(key, format!("`{v}` is not a whole number")))?;
    if !(lo..=hi).contains(&n) {
        return Err(bad(key, format!("{n} is outside {lo}..={hi}")));
    }
    Ok(n as u32)
}

fn string<'a>(key: &str, v: &'a toml::Value) -> Result<&'a str, RulesError> {
    v.as_str()
        .ok_or_else(|| bad(key, format!("`{v}` is not a string")))
}

fn strings<'a>(key: &str, v: &'a toml::Value) -> Result<Vec<&'a str>, RulesError> {
    let arr = v
        .as_array()
        .ok_or_else(|| bad(key, format!("`{v}` is not a list of strings")))?;
    arr.iter().map(|x| string(key, x)).collect()
}

fn parse_hours(key: &str, s: &str) -> Result<(NaiveTime, NaiveTime), RulesError> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| bad(key, format!("`{s}` is not a span like 08:30-17:30")))?;
    let t = |x: &str| {
        NaiveTime::parse_from_str(x.trim(), "%H:%M")
            .map_err(|_| bad(key, format!("`{x}` is not a time like 08:30")))
    };
    let (start, end) = (t(a)?, t(b)?);
    if end <= start {
        return Err(bad(
            key,
            format!("the end {end} is not after the start {start}"),
        ));
    }
    Ok((start, end))
}

/// Overlays `over` on `base` one level deep for tables of tables (`rules`, `notices`,
/// `notices.templates`): a rule named in the file replaces the shipped rule of that name.
fn overlay(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) if k == "rules" => {
                for (name, rule) in o {
                    b.insert(name.clone(), rule.clone());
                }
            }
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) if k == "notices" => {
                for (nk, nv) in o {
                    match (b.get_mut(nk), nv) {
                        (Some(toml::Value::Table(bt)), toml::Value::Table(ot))
                            if nk == "templates" =>
                        {
                            for (tk, tv) in ot {
                                bt.insert(tk.clone(), tv.clone());
                            }
                        }
                        _ => {
                            b.insert(nk.clone(), nv.clone());
                        }
                    }
                }
            }
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

impl CallbackRules {
    /// The shipped rules with `section` (the `[callbacks]` table of `minyi.toml`, if any)
    /// laid over them. Every key is checked; unknown keys are errors.
    pub fn from_toml(section: Option<&toml::Table>) -> Result<CallbackRules, RulesError> {
        let mut table: toml::Table = DEFAULT_RULES
            .parse()
            .map_err(|e: toml::de::Error| bad("(shipped defaults)", e.message().to_owned()))?;
        if let Some(over) = section {
            overlay(&mut table, over);
        }
        let mut out = CallbackRules {
            rules: Vec::new(),
            attempts: 0,
            spacing_working_hours: 0,
            day_start: NaiveTime::MIN,
            day_end: NaiveTime::MIN,
            exclusions: Vec::new(),
            conduct_categories: Vec::new(),
            plan_within_days: 0,
            filing_limit_days: 0,
            notices: NoticeRules {
                enabled: false,
                milestones: Vec::new(),
                templates: BTreeMap::new(),
            },
        };
        for (k, v) in &table {
            match k.as_str() {
                "attempts" => out.attempts = int(k, v, 1, 10)?,
                "spacing_working_hours" => out.spacing_working_hours = int(k, v, 0, 80)?,
                "working_hours" => {
                    (out.day_start, out.day_end) = parse_hours(k, string(k, v)?)?;
                }
                "exclusions" => {
                    for s in strings(k, v)? {
                        let e = Exclusion::parse(s).map_err(|e| bad(k, e.to_string()))?;
                        if e == Exclusion::NoContact {
                            return Err(bad(
                                k,
                                "no_contact always applies (nobody can be called without a number); leave it out",
                            ));
                        }
                        if !out.exclusions.contains(&e) {
                            out.exclusions.push(e);
                        }
                    }
                }
                "conduct_categories" => {
                    for s in strings(k, v)? {
                        let c = Category::parse(s).map_err(|e| bad(k, e.to_string()))?;
                        if !out.conduct_categories.contains(&c) {
                            out.conduct_categories.push(c);
                        }
                    }
                }
                "plan_within_days" => out.plan_within_days = int(k, v, 1, 3660)?,
                "filing_limit_days" => out.filing_limit_days = int(k, v, 1, 60)?,
                "rules" => {
                    let t = v
                        .as_table()
                        .ok_or_else(|| bad(k, "must be a table of rules"))?;
                    for (name, rule) in t {
                        if let Some(r) = parse_rule(name, rule)? {
                            out.rules.push(r);
                        }
                    }
                }
                "notices" => out.notices = parse_notices(v)?,
                other => return Err(bad(other, "unknown key")),
            }
        }
        Ok(out)
    }

    /// The rule of this code, if configured.
    /// The configured exclusion that keeps this person from being called whatever the
    /// contact on file, in a fixed order: the person's safety first.
    pub fn standing_exclusion(&self, s: &CallbackSubject) -> Option<Exclusion> {
        let on = |e: Exclusion| self.exclusions.contains(&e);
        if s.domestic_violence && on(Exclusion::DomesticViolence) {
            Some(Exclusion::DomesticViolence)
        } else if s.ongoing_danger && on(Exclusion::OngoingDanger) {
            Some(Exclusion::OngoingDanger)
        } else if s.opted_out && on(Exclusion::OptedOut) {
            Some(Exclusion::OptedOut)
        } else {
            None
        }
    }

    /// Will the rules call someone about this record at some milestone — a rule applies
    /// to it and no configured exclusion stands in the way? Such a record needs a phone
    /// number; one without is excluded `no_contact` when its callback falls due.
    pub fn calls_about(&self, s: &CallbackSubject) -> bool {
        self.rules
            .iter()
            .any(|r| r.applies_to(s.source, s.police_matter))
            && self.standing_exclusion(s).is_none()
    }

    pub fn rule(&self, code: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.code == code)
    }
}

fn parse_rule(name: &str, v: &toml::Value) -> Result<Option<Rule>, RulesError> {
    let at = |k: &str| format!("rules.{name}.{k}");
    if !is_code(name) {
        return Err(bad(
            format!("rules.{name}"),
            "a rule name is lower-case letters, digits and `_`, starting with a letter",
        ));
    }
    let t = v
        .as_table()
        .ok_or_else(|| bad(format!("rules.{name}"), "must be a table"))?;
    let mut source = None;
    let mut on = None;
    let mut within = None;
    let mut police_only = false;
    let mut enabled = true;
    for (k, v) in t {
        let key = at(k);
        match k.as_str() {
            "source" => {
                source = Some(
                    CallbackSource::parse(string(&key, v)?)
                        .map_err(|e| bad(&key, e.to_string()))?,
                )
            }
            "on" => {
                on = Some(
                    RecordAction::parse(string(&key, v)?).map_err(|e| bad(&key, e.to_string()))?,
                )
            }
            "within_working_days" => within = Some(int(&key, v, 0, 60)?),
            "police_matters_only" => {
                police_only = v
                    .as_bool()
                    .ok_or_else(|| bad(&key, format!("`{v}` is not true or false")))?
            }
            "enabled" => {
                enabled = v
                    .as_bool()
                    .ok_or_else(|| bad(&key, format!("`{v}` is not true or false")))?
            }
            _ => return Err(bad(key, "unknown key")),
        }
    }
    if !enabled {
        return Ok(None);
    }
    let source = source.ok_or_else(|| bad(at("source"), "missing"))?;
    let on = on.ok_or_else(|| bad(at("on"), "missing"))?;
    let within_working_days = within.ok_or_else(|| bad(at("within_working_days"), "missing"))?;
    if !milestones_of(source).contains(&on) {
        return Err(bad(
            at("on"),
            format!(
                "a {} never reaches `{}`; it reaches {}",
                source.code(),
                on.code(),
                milestones_of(source)
                    .iter()
                    .map(|m| m.code())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    if police_only && source != CallbackSource::Incident {
        return Err(bad(at("police_matters_only"), "applies to incidents only"));
    }
    Ok(Some(Rule {
        code: name.to_owned(),
        source,
        on,
        within_working_days,
        police_matters_only: police_only,
    }))
}

fn parse_notices(v: &toml::Value) -> Result<NoticeRules, RulesError> {
    let t = v
        .as_table()
        .ok_or_else(|| bad("notices", "must be a table"))?;
    let mut n = NoticeRules {
        enabled: true,
        milestones: Vec::new(),
        templates: BTreeMap::new(),
    };
    for (k, v) in t {
        let key = format!("notices.{k}");
        match k.as_str() {
            "enabled" => {
                n.enabled = v
                    .as_bool()
                    .ok_or_else(|| bad(&key, format!("`{v}` is not true or false")))?
            }
            "milestones" => {
                for s in strings(&key, v)? {
                    let m = RecordAction::parse(s).map_err(|e| bad(&key, e.to_string()))?;
                    if !milestones_of(CallbackSource::Case).contains(&m)
                        || m == RecordAction::Received
                    {
                        return Err(bad(
                            &key,
                            format!("`{s}` is not a case milestone told to victims"),
                        ));
                    }
                    if !n.milestones.contains(&m) {
                        n.milestones.push(m);
                    }
                }
            }
            "templates" => {
                let tt = v.as_table().ok_or_else(|| bad(&key, "must be a table"))?;
                for (m, text) in tt {
                    let tkey = format!("notices.templates.{m}");
                    let milestone =
                        RecordAction::parse(m).map_err(|e| bad(&tkey, e.to_string()))?;
                    let text = string(&tkey, text)?;
                    check_template(&tkey, text)?;
                    n.templates.insert(milestone, text.to_owned());
                }
            }
            _ => return Err(bad(key, "unknown key")),
        }
    }
    for m in &n.milestones {
        if !n.templates.contains_key(m) {
            return Err(bad(
                format!("notices.templates.{}", m.code()),
                "missing: every milestone told needs its text",
            ));
        }
    }
    Ok(n)
}

fn check_template(key: &str, text: &str) -> Result<(), RulesError> {
    if text.trim().is_empty() {
        return Err(bad(key, "is empty"));
    }
    let mut rest = text;
    while let Some(i) = rest.find('{') {
        let after = &rest[i + 1..];
        let Some(end) = after.find('}') else {
            return Err(bad(key, "a `{` is never closed"));
        };
        let name = &after[..end];
        if !NOTICE_PLACEHOLDERS.contains(&name) {
            return Err(bad(
                key,
                format!("unknown placeholder `{{{name}}}`; use {{ref}} and {{amount}}"),
            ));
        }
        rest = &after[end + 1..];
    }
    if text.chars().count() > 300 {
        return Err(bad(key, "is longer than 300 characters"));
    }
    Ok(())
}

/// Renders a notice: the case's public reference and, for a recovery, the amount in yuan.
pub fn render_notice(template: &str, reference: &str, recovered_fen: i64) -> String {
    let amount = format!("{}.{:02}", recovered_fen / 100, (recovered_fen % 100).abs());
    template
        .replace("{ref}", reference)
        .replace("{amount}", &amount)
}

/// Whether an SMS reply asks to stop case-progress notices: `TD` (any case, full-width
/// too) or `退订`, alone.
pub fn is_opt_out_reply(text: &str) -> bool {
    let t: String = text
        .trim()
        .chars()
        .map(|c| match c {
            'Ｔ' | 'ｔ' => 'T',
            'Ｄ' | 'ｄ' => 'D',
            other => other.to_ascii_uppercase(),
        })
        .collect();
    matches!(t.as_str(), "TD" | "退订")
}

/// What the planner knows about one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFacts {
    pub source: CallbackSource,
    pub id: i64,
    /// The responsible unit: the incident's unit, the case's station, the permit's window.
    pub unit_id: Option<i64>,
    /// The county bureau above that unit (the supervisor that calls about conduct).
    pub supervisor_id: Option<i64>,
    /// Incidents: the category of the call.
    pub category: Option<Category>,
    pub police_matter: bool,
    pub has_contact: bool,
    pub domestic_violence: bool,
    pub ongoing_danger: bool,
    pub opted_out: bool,
    /// Milestones reached, with when (the earliest of each).
    pub milestones: Vec<(RecordAction, DateTime<Utc>)>,
    /// Cases: the amount recovered so far, in fen.
    pub recovered_fen: i64,
}

impl RecordFacts {
    pub fn reached(&self, m: RecordAction) -> Option<DateTime<Utc>> {
        self.milestones
            .iter()
            .filter(|(a, _)| *a == m)
            .map(|(_, at)| *at)
            .min()
    }

    /// The first exclusion that applies, in a fixed order: the person's safety first.
    pub fn exclusion(&self, rules: &CallbackRules) -> Option<Exclusion> {
        rules
            .standing_exclusion(&self.subject())
            .or((!self.has_contact).then_some(Exclusion::NoContact))
    }

    /// What [`CallbackRules::calls_about`] looks at.
    pub fn subject(&self) -> CallbackSubject {
        CallbackSubject {
            source: self.source,
            police_matter: self.police_matter,
            domestic_violence: self.domestic_violence,
            ongoing_danger: self.ongoing_danger,
            opted_out: self.opted_out,
        }
    }
}

/// A callback the rules ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedCallback {
    pub rule: String,
    pub source: CallbackSource,
    pub source_id: i64,
    /// Who calls.
    pub unit_id: i64,
    /// When the milestone was reached.
    pub trigger_at: DateTime<Utc>,
    /// The end of the last working day allowed.
    pub due_at: DateTime<Utc>,
    /// Pending, or excluded with the reason.
    pub state: CallbackState,
    pub exclusion: Option<Exclusion>,
}

/// What the rules make of one record at `now`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub callbacks: Vec<PlannedCallback>,
    /// Rules that applied but found no unit to call (the record names none).
    pub unroutable: Vec<String>,
    /// Rules whose milestone was older than `plan_within_days`.
    pub too_old: Vec<String>,
}

/// The callbacks the rules ask for, given a record's facts. Pure: the same facts and
/// rules always give the same plan, which is what makes the planner idempotent.
pub fn plan(
    rules: &CallbackRules,
    calendar: &Calendar,
    facts: &RecordFacts,
    now: DateTime<Utc>,
) -> Result<Plan, CalendarError> {
    let mut out = Plan::default();
    let oldest = now - TimeDelta::days(i64::from(rules.plan_within_days));
    for r in rules
        .rules
        .iter()
        .filter(|r| r.applies_to(facts.source, facts.police_matter))
    {
        let Some(at) = facts.reached(r.on) else {
            continue;
        };
        if at < oldest {
            out.too_old.push(r.code.clone());
            continue;
        }
        let conduct = facts
            .category
            .is_some_and(|c| rules.conduct_categories.contains(&c));
        let caller = if conduct {
            facts.supervisor_id.or(facts.unit_id)
        } else {
            facts.unit_id
        };
        let Some(unit_id) = caller else {
            out.unroutable.push(r.code.clone());
            continue;
        };
        let exclusion = facts.exclusion(rules);
        out.callbacks.push(PlannedCallback {
            rule: r.code.clone(),
            source: facts.source,
            source_id: facts.id,
            unit_id,
            trigger_at: at,
            due_at: calendar.deadline(at, r.within_working_days)?,
            state: if exclusion.is_some() {
                CallbackState::Excluded
            } else {
                CallbackState::Pending
            },
            exclusion,
        });
    }
    Ok(out)
}

/// A case-progress notice the rules ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedNotice {
    pub milestone: RecordAction,
    pub at: DateTime<Utc>,
    /// One message per case and milestone (a larger recovery is a new milestone).
    pub dedup_key: String,
    pub text: String,
}

/// The notices a case's victim is owed. None when notices are off, for other sources,
/// or when an exclusion applies: an SMS about a domestic-violence case can reach the
/// abuser's eyes, and a person who opted out is not written to.
pub fn notices(
    rules: &CallbackRules,
    facts: &RecordFacts,
    reference: &str,
    now: DateTime<Utc>,
) -> Vec<PlannedNotice> {
    let n = &rules.notices;
    if !n.enabled || facts.source != CallbackSource::Case || facts.exclusion(rules).is_some() {
        return Vec::new();
    }
    let oldest = now - TimeDelta::days(i64::from(rules.plan_within_days));
    let mut out = Vec::new();
    for m in &n.milestones {
        let Some(at) = facts.reached(*m) else {
            continue;
        };
        if at < oldest {
            continue;
        }
        if *m == RecordAction::LossRecovered && facts.recovered_fen <= 0 {
            continue;
        }
        let Some(template) = n.templates.get(m) else {
            continue;
        };
        let dedup_key = if *m == RecordAction::LossRecovered {
            format!(
                "notice:case:{}:{}:{}",
                facts.id,
                m.code(),
                facts.recovered_fen
            )
        } else {
            format!("notice:case:{}:{}", facts.id, m.code())
        };
        out.push(PlannedNotice {
            milestone: *m,
            at,
            dedup_key,
            text: render_notice(template, reference, facts.recovered_fen),
        });
    }
    out
}

/// What one attempt makes of a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAttempt {
    /// Reached (with the verdict) or refused: the callback is done.
    Done,
    /// No answer: try again at this time.
    Retry { next_at: DateTime<Utc> },
    /// No answer on the last allowed attempt, or a wrong number: given up.
    Failed,
}

impl AfterAttempt {
    pub fn state(self) -> CallbackState {
        match self {
            AfterAttempt::Done => CallbackState::Done,
            AfterAttempt::Retry { .. } => CallbackState::Pending,
            AfterAttempt::Failed => CallbackState::Failed,
        }
    }
}

/// Why an outcome cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttemptError {
    #[error("a reached callback needs the resident's verdict")]
    VerdictRequired,
    #[error("a verdict is only given when the resident was reached")]
    VerdictWithoutReach,
    #[error("the callback is {0}, not pending")]
    NotPending(CallbackState),
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

/// The state after attempt number `attempt` (1-based, this one included) ended with
/// `outcome` at `at`. A wrong number is final at once: calling it again reaches nobody.
pub fn after_attempt(
    rules: &CallbackRules,
    calendar: &Calendar,
    state: CallbackState,
    attempt: u32,
    outcome: CallbackOutcome,
    verdict: Option<Verdict>,
    at: DateTime<Utc>,
) -> Result<AfterAttempt, AttemptError> {
    if state != CallbackState::Pending {
        return Err(AttemptError::NotPending(state));
    }
    match (outcome, verdict) {
        (CallbackOutcome::Reached, None) => return Err(AttemptError::VerdictRequired),
        (CallbackOutcome::Reached, Some(_)) => return Ok(AfterAttempt::Done),
        (_, Some(_)) => return Err(AttemptError::VerdictWithoutReach),
        _ => {}
    }
    Ok(match outcome {
        CallbackOutcome::Refused => AfterAttempt::Done,
        CallbackOutcome::WrongNumber => AfterAttempt::Failed,
        _ if attempt >= rules.attempts => AfterAttempt::Failed,
        _ => AfterAttempt::Retry {
            next_at: add_working_hours(rules, calendar, at, rules.spacing_working_hours)?,
        },
    })
}

/// `at` plus `hours` of working time: only the configured hours of working days count.
/// An instant outside working hours starts counting at the next opening.
pub fn add_working_hours(
    rules: &CallbackRules,
    calendar: &Calendar,
    at: DateTime<Utc>,
    hours: u32,
) -> Result<DateTime<Utc>, CalendarError> {
    let mut left = TimeDelta::hours(i64::from(hours));
    let local = at.with_timezone(&SHANGHAI).naive_local();
    let mut day = shanghai_date(at)?;
    let mut from = local.time();
    for _ in 0..SEARCH_LIMIT_DAYS {
        if calendar.is_working_day(day) && from < rules.day_end {
            let start = from.max(rules.day_start);
            let room = rules.day_end - start;
            if left <= room {
                let t = day.and_time(start) + left;
                return t
                    .and_local_timezone(SHANGHAI)
                    .single()
                    .map(|t| t.with_timezone(&Utc))
                    .ok_or(CalendarError::OutOfRange { date: day });
            }
            left -= room;
        }
        day = day
            .succ_opt()
            .ok_or(CalendarError::OutOfRange { date: day })?;
        from = NaiveTime::MIN;
    }
    Err(CalendarError::SearchLimit {
        from: shanghai_date(at)?,
        limit: SEARCH_LIMIT_DAYS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn cal() -> Calendar {
        Calendar::cn_mainland().unwrap()
    }

    /// Shanghai wall time.
    fn sh(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        SHANGHAI
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn end_of(y: i32, mo: u32, d: u32) -> DateTime<Utc> {
        crate::calendar::end_of_shanghai_day(chrono::NaiveDate::from_ymd_opt(y, mo, d).unwrap())
            .unwrap()
    }

    fn facts(source: CallbackSource, milestones: &[(RecordAction, DateTime<Utc>)]) -> RecordFacts {
        RecordFacts {
            source,
            id: 7,
            unit_id: Some(100),
            supervisor_id: Some(10),
            category: None,
            police_matter: true,
            has_contact: true,
            domestic_violence: false,
            ongoing_danger: false,
            opted_out: false,
            milestones: milestones.to_vec(),
            recovered_fen: 0,
        }
    }

    fn rules() -> CallbackRules {
        CallbackRules::from_toml(None).unwrap()
    }

    fn table(s: &str) -> toml::Table {
        s.parse().unwrap()
    }

    #[test]
    fn shipped_rules_parse() {
        let r = rules();
        assert_eq!(r.attempts, 3);
        assert_eq!(r.spacing_working_hours, 4);
        assert_eq!(r.rules.len(), 5);
        assert_eq!(r.rule("case_solved").unwrap().on, RecordAction::Solved);
        assert_eq!(r.notices.milestones.len(), 5);
        assert_eq!(CallbackRules::default(), r);
    }

    #[test]
    fn filing_limit_is_configurable_within_bounds() {
        assert_eq!(
            i64::from(rules().filing_limit_days),
            crate::records::FILING_LIMIT_DAYS
        );
        let set =
            |v: &str| CallbackRules::from_toml(Some(&table(&format!("filing_limit_days = {v}"))));
        assert_eq!(set("3").unwrap().filing_limit_days, 3);
        for wrong in ["0", "61", "\"7\"", "2.5"] {
            assert_eq!(set(wrong).unwrap_err().key, "filing_limit_days", "{wrong}");
        }
    }

    #[test]
    fn bad_keys_are_named() {
        let err = |s: &str| CallbackRules::from_toml(Some(&table(s))).unwrap_err();
        assert_eq!(err("attempts = 0").key, "attempts");
        assert_eq!(err("atempts = 2").key, "atempts");
        assert_eq!(err("working_hours = \"17:00-08:00\"").key, "working_hours");
        assert_eq!(err("exclusions = [\"no_contact\"]").key, "exclusions");
        assert_eq!(err("exclusions = [\"weather\"]").key, "exclusions");
        assert_eq!(
            err("conduct_categories = [\"nope\"]").key,
            "conduct_categories"
        );
        let e =
            err("[rules.case_filed]\nsource = \"case\"\non = \"issued\"\nwithin_working_days = 1");
        assert_eq!(e.key, "rules.case_filed.on");
        assert!(
            e.to_string()
                .starts_with("callbacks.rules.case_filed.on: a case never reaches `issued`"),
            "{e}"
        );
        let e = err("[rules.x]\nsource = \"permit\"\non = \"issued\"");
        assert_eq!(e.key, "rules.x.within_working_days");
        let e = err(
            "[rules.x]\nsource = \"case\"\non = \"filed\"\nwithin_working_days = 1\npolice_matters_only = true",
        );
        assert_eq!(e.key, "rules.x.police_matters_only");
        assert_eq!(err("[rules.Bad]\nsource = \"case\"").key, "rules.Bad");
        assert_eq!(
            err("[notices.templates]\nfiled = \"案件{name}\"").key,
            "notices.templates.filed"
        );
        assert_eq!(
            err("[notices]\nmilestones = [\"issued\"]").key,
            "notices.milestones"
        );
        assert_eq!(err("[notices]\ncolour = 1").key, "notices.colour");
    }

    #[test]
    fn file_rules_replace_and_disable_shipped_ones() {
        let r = CallbackRules::from_toml(Some(&table(
            "attempts = 2\n[rules.case_solved]\nenabled = false\n\
             [rules.incident_closed]\nsource = \"incident\"\non = \"closed\"\nwithin_working_days = 2\npolice_matters_only = true\n\
             [notices.templates]\nfiled = \"案件{ref}已立案\"",
        )))
        .unwrap();
        assert_eq!(r.attempts, 2);
        assert!(r.rule("case_solved").is_none());
        assert!(r.rule("case_filed").is_some());
        let i = r.rule("incident_closed").unwrap();
        assert_eq!((i.within_working_days, i.police_matters_only), (2, true));
        assert_eq!(r.notices.templates[&RecordAction::Filed], "案件{ref}已立案");
        assert!(r.notices.templates.contains_key(&RecordAction::Closed));
    }

    #[test]
    fn incident_caller_is_called_one_working_day_after_closing() {
        // Closed Wednesday 30 September 2026, 20:00: 1–7 October are National Day, so the
        // one working day is Thursday 8 October.
        let closed = sh(2026, 9, 30, 20, 0);
        let f = facts(
            CallbackSource::Incident,
            &[
                (RecordAction::Received, sh(2026, 9, 30, 18, 0)),
                (RecordAction::Closed, closed),
            ],
        );
        let p = plan(&rules(), &cal(), &f, sh(2026, 10, 1, 9, 0)).unwrap();
        assert_eq!(p.callbacks.len(), 1);
        let c = &p.callbacks[0];
        assert_eq!(c.rule, "incident_closed");
        assert_eq!(c.unit_id, 100);
        assert_eq!(c.trigger_at, closed);
        assert_eq!(c.due_at, end_of(2026, 10, 8));
        assert_eq!((c.state, c.exclusion), (CallbackState::Pending, None));
        // Not closed yet: nothing.
        let open = facts(
            CallbackSource::Incident,
            &[(RecordAction::Received, closed)],
        );
        assert!(
            plan(&rules(), &cal(), &open, closed)
                .unwrap()
                .callbacks
                .is_empty()
        );
    }

    #[test]
    fn non_police_incidents_follow_police_matters_only() {
        let mut f = facts(
            CallbackSource::Incident,
            &[(RecordAction::Closed, sh(2026, 3, 2, 10, 0))],
        );
        f.police_matter = false;
        let now = sh(2026, 3, 2, 12, 0);
        assert_eq!(plan(&rules(), &cal(), &f, now).unwrap().callbacks.len(), 1);
        let only = CallbackRules::from_toml(Some(&table(
            "[rules.incident_closed]\nsource = \"incident\"\non = \"closed\"\nwithin_working_days = 1\npolice_matters_only = true",
        )))
        .unwrap();
        assert!(plan(&only, &cal(), &f, now).unwrap().callbacks.is_empty());
        f.police_matter = true;
        assert_eq!(plan(&only, &cal(), &f, now).unwrap().callbacks.len(), 1);
    }

    #[test]
    fn calls_about_is_the_planners_rule() {
        // Every kind of record, police matter or not, with each flag, under the shipped
        // rules, police-matters-only incidents and no exclusions at all: the import's
        // question ("will anyone call?") answers what the planner does once every
        // milestone is reached and a phone number is on file.
        let police_only = CallbackRules::from_toml(Some(&table(
            "[rules.incident_closed]\nsource = \"incident\"\non = \"closed\"\nwithin_working_days = 1\npolice_matters_only = true",
        )))
        .unwrap();
        let no_exclusions = CallbackRules::from_toml(Some(&table("exclusions = []"))).unwrap();
        let at = sh(2026, 3, 2, 10, 0);
        let now = sh(2026, 3, 3, 10, 0);
        let mut calls = 0;
        let mut silent = 0;
        for rules in [rules(), police_only, no_exclusions] {
            for source in [
                CallbackSource::Incident,
                CallbackSource::Case,
                CallbackSource::Permit,
                CallbackSource::Opinion,
            ] {
                let all: Vec<_> = milestones_of(source).iter().map(|&m| (m, at)).collect();
                for bits in 0..16u8 {
                    let mut f = facts(source, &all);
                    f.police_matter = bits & 1 != 0;
                    f.domestic_violence = bits & 2 != 0;
                    f.ongoing_danger = bits & 4 != 0;
                    f.opted_out = bits & 8 != 0;
                    let planned = plan(&rules, &cal(), &f, now).unwrap();
                    let pending = planned
                        .callbacks
                        .iter()
                        .any(|c| c.state == CallbackState::Pending);
                    assert_eq!(
                        rules.calls_about(&f.subject()),
                        pending,
                        "{source:?} bits {bits:04b} under {:?}",
                        rules.exclusions
                    );
                    if pending { calls += 1 } else { silent += 1 }
                }
            }
        }
        // Both answers occur, so the comparison above is not vacuous.
        assert!(calls > 0 && silent > 0);
        // The cases the import used to get wrong: a non-police 110 call is called back
        // under the shipped rules, and an opted-out caller is not.
        let subject = |police_matter, opted_out| CallbackSubject {
            source: CallbackSource::Incident,
            police_matter,
            domestic_violence: false,
            ongoing_danger: false,
            opted_out,
        };
        assert!(rules().calls_about(&subject(false, false)));
        assert!(!rules().calls_about(&subject(true, true)));
        let no_exclusions = CallbackRules::from_toml(Some(&table("exclusions = []"))).unwrap();
        assert!(no_exclusions.calls_about(&subject(true, true)));
    }

    #[test]
    fn victim_is_called_at_filing_solving_and_closing() {
        let f = facts(
            CallbackSource::Case,
            &[
                (RecordAction::Received, sh(2026, 3, 2, 9, 0)),
                (RecordAction::Filed, sh(2026, 3, 3, 9, 0)),
                (RecordAction::Solved, sh(2026, 3, 10, 9, 0)),
                (RecordAction::Closed, sh(2026, 3, 20, 9, 0)),
            ],
        );
        let p = plan(&rules(), &cal(), &f, sh(2026, 3, 21, 9, 0)).unwrap();
        let got: Vec<_> = p
            .callbacks
            .iter()
            .map(|c| (c.rule.as_str(), c.due_at))
            .collect();
        assert_eq!(
            got,
            vec![
                ("case_closed", end_of(2026, 3, 25)),
                ("case_filed", end_of(2026, 3, 6)),
                ("case_solved", end_of(2026, 3, 13)),
            ]
        );
    }

    #[test]
    fn permit_applicant_is_called_after_issue() {
        let f = facts(
            CallbackSource::Permit,
            &[(RecordAction::Issued, sh(2026, 2, 13, 16, 0))],
        );
        // Friday 13 February; Saturday 14 is a make-up working day (1), then the Spring
        // Festival; Tuesday 24 is the second working day.
        let p = plan(&rules(), &cal(), &f, sh(2026, 2, 13, 17, 0)).unwrap();
        assert_eq!(p.callbacks[0].rule, "permit_issued");
        assert_eq!(p.callbacks[0].due_at, end_of(2026, 2, 24));
    }

    #[test]
    fn conduct_complaints_are_called_by_the_supervising_bureau() {
        let mut f = facts(
            CallbackSource::Incident,
            &[(RecordAction::Closed, sh(2026, 3, 2, 10, 0))],
        );
        f.category = Some(Category::Conduct);
        let now = sh(2026, 3, 2, 11, 0);
        assert_eq!(
            plan(&rules(), &cal(), &f, now).unwrap().callbacks[0].unit_id,
            10
        );
        f.category = Some(Category::PublicOrder);
        assert_eq!(
            plan(&rules(), &cal(), &f, now).unwrap().callbacks[0].unit_id,
            100
        );
        // No unit at all: reported, not planned.
        f.unit_id = None;
        let p = plan(&rules(), &cal(), &f, now).unwrap();
        assert!(p.callbacks.is_empty());
        assert_eq!(p.unroutable, vec!["incident_closed".to_owned()]);
    }

    #[test]
    fn exclusions_are_recorded_with_their_reason() {
        let base = facts(
            CallbackSource::Case,
            &[(RecordAction::Filed, sh(2026, 3, 3, 9, 0))],
        );
        let now = sh(2026, 3, 3, 10, 0);
        let check = |f: &RecordFacts, want: Option<Exclusion>| {
            let p = plan(&rules(), &cal(), f, now).unwrap();
            assert_eq!(p.callbacks.len(), 1);
            assert_eq!(p.callbacks[0].exclusion, want);
            let state = if want.is_some() {
                CallbackState::Excluded
            } else {
                CallbackState::Pending
            };
            assert_eq!(p.callbacks[0].state, state);
        };
        check(&base, None);
        let mut f = base.clone();
        f.domestic_violence = true;
        f.opted_out = true;
        check(&f, Some(Exclusion::DomesticViolence));
        let mut f = base.clone();
        f.ongoing_danger = true;
        check(&f, Some(Exclusion::OngoingDanger));
        let mut f = base.clone();
        f.opted_out = true;
        check(&f, Some(Exclusion::OptedOut));
        let mut f = base.clone();
        f.has_contact = false;
        check(&f, Some(Exclusion::NoContact));
        // A bureau that calls opted-out people anyway says so in its configuration.
        let mut f = base.clone();
        f.opted_out = true;
        let r =
            CallbackRules::from_toml(Some(&table("exclusions = [\"domestic_violence\"]"))).unwrap();
        assert_eq!(
            plan(&r, &cal(), &f, now).unwrap().callbacks[0].exclusion,
            None
        );
    }

    #[test]
    fn old_milestones_are_not_planned() {
        let f = facts(
            CallbackSource::Case,
            &[(RecordAction::Filed, sh(2026, 1, 5, 9, 0))],
        );
        let p = plan(&rules(), &cal(), &f, sh(2026, 3, 5, 9, 0)).unwrap();
        assert!(p.callbacks.is_empty());
        assert_eq!(p.too_old, vec!["case_filed".to_owned()]);
        let f = facts(
            CallbackSource::Case,
            &[(RecordAction::Filed, sh(2026, 1, 5, 9, 0))],
        );
        assert!(notices(&rules(), &f, "AJ1", sh(2026, 3, 5, 9, 0)).is_empty());
    }

    #[test]
    fn attempts_retry_four_working_hours_apart_then_fail() {
        let r = rules();
        let c = cal();
        let p = CallbackState::Pending;
        // Wednesday 30 September 2026, 15:00: 2.5 hours left that day, then National Day
        // until 7 October; Thursday 8 October opens at 08:30 → 10:00.
        let t = sh(2026, 9, 30, 15, 0);
        let next = after_attempt(&r, &c, p, 1, CallbackOutcome::NoAnswer, None, t).unwrap();
        assert_eq!(
            next,
            AfterAttempt::Retry {
                next_at: sh(2026, 10, 8, 10, 0)
            }
        );
        let t2 = sh(2026, 10, 8, 10, 0);
        let next = after_attempt(&r, &c, p, 2, CallbackOutcome::NoAnswer, None, t2).unwrap();
        assert_eq!(
            next,
            AfterAttempt::Retry {
                next_at: sh(2026, 10, 8, 14, 0)
            }
        );
        let last = after_attempt(&r, &c, p, 3, CallbackOutcome::NoAnswer, None, t2).unwrap();
        assert_eq!(last, AfterAttempt::Failed);
        assert_eq!(last.state(), CallbackState::Failed);
        // Before opening time counts from the opening.
        assert_eq!(
            add_working_hours(&r, &c, sh(2026, 3, 2, 6, 0), 4).unwrap(),
            sh(2026, 3, 2, 12, 30)
        );
        // Zero spacing: the next opening moment.
        assert_eq!(
            add_working_hours(&r, &c, sh(2026, 3, 2, 20, 0), 0).unwrap(),
            sh(2026, 3, 3, 8, 30)
        );
    }

    #[test]
    fn outcomes_end_or_refuse() {
        let r = rules();
        let c = cal();
        let p = CallbackState::Pending;
        let t = sh(2026, 3, 2, 10, 0);
        assert_eq!(
            after_attempt(
                &r,
                &c,
                p,
                1,
                CallbackOutcome::Reached,
                Some(Verdict::Dissatisfied),
                t
            )
            .unwrap(),
            AfterAttempt::Done
        );
        assert_eq!(
            after_attempt(&r, &c, p, 1, CallbackOutcome::Refused, None, t).unwrap(),
            AfterAttempt::Done
        );
        assert_eq!(
            after_attempt(&r, &c, p, 1, CallbackOutcome::WrongNumber, None, t).unwrap(),
            AfterAttempt::Failed
        );
        assert_eq!(
            after_attempt(&r, &c, p, 1, CallbackOutcome::Reached, None, t),
            Err(AttemptError::VerdictRequired)
        );
        assert_eq!(
            after_attempt(
                &r,
                &c,
                p,
                1,
                CallbackOutcome::NoAnswer,
                Some(Verdict::Satisfied),
                t
            ),
            Err(AttemptError::VerdictWithoutReach)
        );
        assert_eq!(
            after_attempt(
                &r,
                &c,
                CallbackState::Done,
                2,
                CallbackOutcome::NoAnswer,
                None,
                t
            ),
            Err(AttemptError::NotPending(CallbackState::Done))
        );
    }

    #[test]
    fn opt_out_replies() {
        for yes in ["TD", "td", " Td ", "ＴＤ", "退订"] {
            assert!(is_opt_out_reply(yes), "{yes}");
        }
        for no in ["TDD", "1", "请退订", "T D", ""] {
            assert!(!is_opt_out_reply(no), "{no}");
        }
    }

    #[test]
    fn notices_once_per_milestone_and_never_when_excluded() {
        let mut f = facts(
            CallbackSource::Case,
            &[
                (RecordAction::Filed, sh(2026, 3, 3, 9, 0)),
                (RecordAction::InvestigatorAssigned, sh(2026, 3, 3, 10, 0)),
                (RecordAction::LossRecovered, sh(2026, 3, 9, 10, 0)),
            ],
        );
        f.recovered_fen = 123_450;
        let now = sh(2026, 3, 9, 11, 0);
        let n = notices(&rules(), &f, "AJ2026-1", now);
        let keys: Vec<_> = n.iter().map(|n| n.dedup_key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "notice:case:7:filed",
                "notice:case:7:investigator_assigned",
                "notice:case:7:loss_recovered:123450"
            ]
        );
        assert!(
            n[2].text.contains("AJ2026-1") && n[2].text.contains("1234.50元"),
            "{}",
            n[2].text
        );
        for flag in 0..4 {
            let mut g = f.clone();
            match flag {
                0 => g.opted_out = true,
                1 => g.domestic_violence = true,
                2 => g.ongoing_danger = true,
                _ => g.has_contact = false,
            }
            assert!(notices(&rules(), &g, "AJ", now).is_empty());
        }
        let off = CallbackRules::from_toml(Some(&table("[notices]\nenabled = false"))).unwrap();
        assert!(notices(&off, &f, "AJ", now).is_empty());
        let mut inc = f.clone();
        inc.source = CallbackSource::Incident;
        assert!(notices(&rules(), &inc, "AJ", now).is_empty());
    }
}
