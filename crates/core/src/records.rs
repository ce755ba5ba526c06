//! Records the practice measures: window ratings, 110 incidents, cases, permit
//! transactions, and the callbacks that follow them.

use chrono::{DateTime, Utc};

use crate::error::ParseError;
use crate::taxonomy::{Category, Channel, DepartmentKind, vocabulary};

/// The scale of a rating device: three levels (满意 / 基本满意 / 不满意) by default, five
/// by configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatingScale {
    Three,
    Five,
}

impl RatingScale {
    pub fn levels(self) -> u8 {
        match self {
            RatingScale::Three => 3,
            RatingScale::Five => 5,
        }
    }
}

/// A one-touch verdict: level 1 is the best, `scale.levels()` the worst, so that
/// "dissatisfied" is always the highest number on either scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RatingLevel {
    pub scale: RatingScale,
    pub level: u8,
}

impl RatingLevel {
    pub fn parse(scale: RatingScale, level: i64) -> Result<RatingLevel, ParseError> {
        let max = scale.levels() as i64;
        if !(1..=max).contains(&level) {
            return Err(ParseError::Invalid {
                what: "rating level",
                why: format!("{level} is outside 1..={max}"),
            });
        }
        Ok(RatingLevel {
            scale,
            level: level as u8,
        })
    }

    /// Counted as satisfied in rates: the best level on the three-point scale, the best
    /// two on the five-point scale.
    pub fn is_satisfied(self) -> bool {
        match self.scale {
            RatingScale::Three => self.level == 1,
            RatingScale::Five => self.level <= 2,
        }
    }

    pub fn is_dissatisfied(self) -> bool {
        self.level == self.scale.levels() || (self.scale == RatingScale::Five && self.level == 4)
    }
}

/// A rating from a window device (or an SMS reply or a link), resolved to ids.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NewRating {
    pub window_id: i64,
    pub channel: Channel,
    pub device: Option<String>,
    /// The device's own id for this rating, so an offline retry is never counted twice.
    pub client_event_id: Option<String>,
    pub level: RatingLevel,
    pub reason: Option<String>,
    pub rated_at: DateTime<Utc>,
    pub synthetic: bool,
}

/// A 110 call and its handling. Over 40% of calls are not police matters: those carry
/// the linked department they were passed to.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NewIncident {
    pub external_id: String,
    pub received_at: DateTime<Utc>,
    pub area_id: Option<i64>,
    pub unit_id: Option<i64>,
    pub category: Category,
    pub police_matter: bool,
    pub department: Option<DepartmentKind>,
    pub summary: String,
    pub closed_at: Option<DateTime<Utc>>,
    /// 报警求助是否解决: whether the caller's problem was resolved.
    pub resolved: Option<bool>,
    pub synthetic: bool,
}

vocabulary! {
    /// Kinds of criminal case named by the practice.
    CaseKind, "case kind" {
        Theft => "theft", "盗窃";
        Burglary => "burglary", "入室盗窃";
        VehicleTheft => "vehicle_theft", "盗窃机动车";
        Robbery => "robbery", "抢劫抢夺";
        Fraud => "fraud", "诈骗";
        Assault => "assault", "故意伤害";
        Drugs => "drugs", "毒品犯罪";
        Other => "other", "其他刑事案件";
    }
}

/// A case with its milestones; each later milestone becomes an event and a notice.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NewCase {
    pub external_id: String,
    pub kind: CaseKind,
    pub station_id: i64,
    pub area_id: Option<i64>,
    pub reported_at: DateTime<Utc>,
    pub filed_at: Option<DateTime<Utc>>,
    pub solved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Amounts in fen (分), so sums are exact.
    pub loss_fen: i64,
    pub recovered_fen: i64,
    pub synthetic: bool,
}

impl NewCase {
    /// An impossible timeline (solved before reported, recovered more than lost) is
    /// refused rather than stored.
    pub fn check(&self) -> Result<(), ParseError> {
        let bad = |why: String| {
            Err(ParseError::Invalid {
                what: "case",
                why: format!("{}: {why}", self.external_id),
            })
        };
        let mut last = self.reported_at;
        for (name, at) in [
            ("filed", self.filed_at),
            ("solved", self.solved_at),
            ("closed", self.closed_at),
        ] {
            if let Some(at) = at {
                if at < last {
                    return bad(format!("{name} before an earlier milestone"));
                }
                last = at;
            }
        }
        if self.loss_fen < 0 || self.recovered_fen < 0 || self.recovered_fen > self.loss_fen {
            return bad("amounts must be ≥ 0 and recovered ≤ loss".into());
        }
        Ok(())
    }
}

vocabulary! {
    /// Permit transactions with a promised date (证照办理).
    PermitKind, "permit kind" {
        HukouTransfer => "hukou_transfer", "户口迁移";
        HukouChange => "hukou_change", "户籍信息变更";
        IdCard => "id_card", "居民身份证";
        ResidencePermit => "residence_permit", "居住证";
        ExitEntryPermit => "exit_entry_permit", "出入境证件";
        DrivingLicence => "driving_licence", "驾驶证";
        VehicleRegistration => "vehicle_registration", "机动车登记";
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NewPermit {
    pub external_id: String,
    pub kind: PermitKind,
    pub window_id: i64,
    pub applied_at: DateTime<Utc>,
    pub promised_at: DateTime<Utc>,
    pub issued_at: Option<DateTime<Utc>>,
    pub synthetic: bool,
}

vocabulary! {
    /// What happened to a record from a police system. Every change an import applies is
    /// stored as an event with one of these actions (subject incident, case or permit);
    /// callbacks and case-progress notices to victims are planned from them.
    RecordAction, "record action" {
        Received => "received", "接报";
        Closed => "closed", "办结";
        Filed => "filed", "立案";
        InvestigatorAssigned => "investigator_assigned", "确定办案民警";
        SuspectCaught => "suspect_caught", "抓获犯罪嫌疑人";
        Solved => "solved", "破案";
        LossRecovered => "loss_recovered", "追回损失";
        Issued => "issued", "办结发证";
    }
}

vocabulary! {
    /// What a callback follows up.
    CallbackSource, "callback source" {
        Incident => "incident", "110警情";
        Case => "case", "案件";
        Permit => "permit", "证照办理";
        Opinion => "opinion", "民意诉求";
    }
}

vocabulary! {
    /// Where a callback task stands.
    CallbackState, "callback state" {
        Pending => "pending", "待回访";
        Done => "done", "已回访";
        Failed => "failed", "未联系上";
        Excluded => "excluded", "不回访";
    }
}

vocabulary! {
    /// The outcome of one callback attempt.
    CallbackOutcome, "callback outcome" {
        Reached => "reached", "已接通";
        NoAnswer => "no_answer", "无人接听";
        WrongNumber => "wrong_number", "号码错误";
        Refused => "refused", "拒绝回访";
    }
}

/// The callback exclusions and the notice opt-out a police system reports with a record.
/// Once reported they stay: a later export that leaves a flag out never lifts it, so a
/// victim of domestic violence is not called because a column went missing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RecordFlags {
    pub domestic_violence: bool,
    pub ongoing_danger: bool,
    pub notices_opt_out: bool,
}

impl RecordFlags {
    /// The flags of both: a flag set by either stays set.
    pub fn union(self, other: RecordFlags) -> RecordFlags {
        RecordFlags {
            domestic_violence: self.domestic_violence || other.domestic_violence,
            ongoing_danger: self.ongoing_danger || other.ongoing_danger,
            notices_opt_out: self.notices_opt_out || other.notices_opt_out,
        }
    }
}

/// One change an import applies to a record, stored as an event (subject incident, case
/// or permit) whose action is the [`RecordAction`] code.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecordChange {
    pub action: RecordAction,
    pub at: DateTime<Utc>,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    /// JSON text, e.g. `{"recovered_fen":500,"total_fen":800,"loss_fen":1000}`.
    pub detail: Option<String>,
}

/// Why a row for a record already stored cannot be applied: the column and the reason.
/// Immutable data differs, or a milestone would move or be taken back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub column: &'static str,
    pub why: String,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.column, self.why)
    }
}

fn conflict(column: &'static str, why: impl Into<String>) -> Conflict {
    Conflict {
        column,
        why: why.into(),
    }
}

fn shown(t: DateTime<Utc>) -> String {
    t.with_timezone(&crate::calendar::SHANGHAI)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// An immutable value must be the same in every row of a record.
fn same<T: PartialEq + std::fmt::Debug>(
    column: &'static str,
    stored: &T,
    incoming: &T,
    show: impl Fn(&T) -> String,
) -> Result<(), Conflict> {
    if stored == incoming {
        Ok(())
    } else {
        Err(conflict(
            column,
            format!(
                "differs from the stored record ({} stored, {} in this row); a record's {column} cannot change",
                show(stored),
                show(incoming)
            ),
        ))
    }
}

/// A milestone once stored may be repeated but neither moved nor taken back. Returns the
/// milestone's time when this row sets it for the first time.
fn milestone(
    column: &'static str,
    stored: Option<DateTime<Utc>>,
    incoming: Option<DateTime<Utc>>,
) -> Result<Option<DateTime<Utc>>, Conflict> {
    match (stored, incoming) {
        (None, None) => Ok(None),
        (None, Some(t)) => Ok(Some(t)),
        (Some(_), None) => Err(conflict(
            column,
            "is empty but the stored record has it; a milestone cannot be taken back",
        )),
        (Some(a), Some(b)) if a == b => Ok(None),
        (Some(a), Some(b)) => Err(conflict(
            column,
            format!(
                "{} differs from the stored {}; a milestone cannot move",
                shown(b),
                shown(a)
            ),
        )),
    }
}

fn bad_timeline(what: &'static str, id: &str, why: impl Into<String>) -> ParseError {
    ParseError::Invalid {
        what,
        why: format!(
            "{}: {}",
            id.chars().take(60).collect::<String>(),
            why.into()
        ),
    }
}

impl NewIncident {
    /// Closing before the call was received, or a resolution without a closing, is an
    /// impossible timeline.
    pub fn check(&self) -> Result<(), ParseError> {
        if let Some(c) = self.closed_at
            && c < self.received_at
        {
            return Err(bad_timeline(
                "incident",
                &self.external_id,
                "closed before it was received",
            ));
        }
        if self.resolved.is_some() && self.closed_at.is_none() {
            return Err(bad_timeline(
                "incident",
                &self.external_id,
                "resolved is given but closed_at is empty",
            ));
        }
        Ok(())
    }
}

impl NewPermit {
    /// A promise or an issue before the application is an impossible timeline.
    pub fn check(&self) -> Result<(), ParseError> {
        if self.promised_at < self.applied_at {
            return Err(bad_timeline(
                "permit",
                &self.external_id,
                "promised before it was applied for",
            ));
        }
        if let Some(i) = self.issued_at
            && i < self.applied_at
        {
            return Err(bad_timeline(
                "permit",
                &self.external_id,
                "issued before it was applied for",
            ));
        }
        Ok(())
    }

    /// 按时办结: issued on or before the promised time.
    pub fn issued_on_time(&self) -> Option<bool> {
        self.issued_at.map(|i| i <= self.promised_at)
    }
}

/// A 110 incident as an import carries it: the record, its exclusion flags.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImportedIncident {
    pub incident: NewIncident,
    pub flags: RecordFlags,
}

/// A case as an import carries it: the record, the two milestones between filing and
/// solving that victims are told about, and the flags.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImportedCase {
    pub case: NewCase,
    pub investigator_assigned_at: Option<DateTime<Utc>>,
    pub suspect_caught_at: Option<DateTime<Utc>>,
    pub flags: RecordFlags,
}

/// A permit transaction as an import carries it. Only the notice opt-out applies.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImportedPermit {
    pub permit: NewPermit,
    pub flags: RecordFlags,
}

impl ImportedCase {
    /// [`NewCase::check`], plus: an investigator is assigned and a suspect caught no
    /// earlier than the report, and a case is filed before it can be solved.
    pub fn check(&self) -> Result<(), ParseError> {
        self.case.check()?;
        let id = &self.case.external_id;
        for (name, at) in [
            ("investigator_assigned_at", self.investigator_assigned_at),
            ("suspect_caught_at", self.suspect_caught_at),
        ] {
            if let Some(at) = at
                && at < self.case.reported_at
            {
                return Err(bad_timeline(
                    "case",
                    id,
                    format!("{name} before the case was reported"),
                ));
            }
        }
        if self.case.solved_at.is_some() && self.case.filed_at.is_none() {
            return Err(bad_timeline(
                "case",
                id,
                "solved but never filed (立案 comes before 破案)",
            ));
        }
        if let (Some(a), Some(f)) = (self.investigator_assigned_at, self.case.filed_at)
            && a < f
        {
            return Err(bad_timeline(
                "case",
                id,
                "investigator assigned before the case was filed",
            ));
        }
        Ok(())
    }
}

fn change(
    action: RecordAction,
    at: DateTime<Utc>,
    from: Option<&str>,
    to: Option<&str>,
    detail: Option<String>,
) -> RecordChange {
    RecordChange {
        action,
        at,
        from_state: from.map(str::to_owned),
        to_state: to.map(str::to_owned),
        detail,
    }
}

fn incident_state(i: &NewIncident) -> &'static str {
    match (i.closed_at, i.resolved) {
        (None, _) => "open",
        (Some(_), Some(true)) => "resolved",
        (Some(_), Some(false)) => "unresolved",
        (Some(_), None) => "closed",
    }
}

fn case_state(c: &NewCase) -> &'static str {
    if c.closed_at.is_some() {
        "closed"
    } else if c.solved_at.is_some() {
        "solved"
    } else if c.filed_at.is_some() {
        "filed"
    } else {
        "reported"
    }
}

/// What a row for an incident does: the record as it stands afterwards and the changes
/// to store as events. `stored` is the record as stored (or as an earlier row of the same
/// import left it); `None` makes it a new record. Applying the same row twice yields no
/// change the second time.
pub fn incident_changes(
    stored: Option<&ImportedIncident>,
    row: &ImportedIncident,
) -> Result<(ImportedIncident, Vec<RecordChange>), Conflict> {
    let n = &row.incident;
    let Some(s) = stored else {
        let mut out = vec![change(
            RecordAction::Received,
            n.received_at,
            None,
            Some("open"),
            None,
        )];
        if let Some(c) = n.closed_at {
            out.push(change(
                RecordAction::Closed,
                c,
                Some("open"),
                Some(incident_state(n)),
                n.resolved.map(|r| format!("{{\"resolved\":{r}}}")),
            ));
        }
        return Ok((row.clone(), out));
    };
    let o = &s.incident;
    same("received_at", &o.received_at, &n.received_at, |t| shown(*t))?;
    same("category", &o.category, &n.category, |c| c.code().into())?;
    same("police_matter", &o.police_matter, &n.police_matter, |b| {
        b.to_string()
    })?;
    same("unit", &o.unit_id, &n.unit_id, |u| format!("{u:?}"))?;
    if n.area_id.is_some() {
        same("area", &o.area_id, &n.area_id, |a| format!("{a:?}"))?;
    }
    let closed = milestone("closed_at", o.closed_at, n.closed_at)?;
    let resolved_now = match (o.resolved, n.resolved) {
        (Some(a), Some(b)) if a != b => {
            return Err(conflict(
                "resolved",
                format!("{b} differs from the stored {a}; a resolution cannot change"),
            ));
        }
        (Some(_), None) => {
            return Err(conflict(
                "resolved",
                "is empty but the stored record has it; it cannot be taken back",
            ));
        }
        (None, Some(b)) => Some(b),
        _ => None,
    };
    let mut merged = s.clone();
    merged.flags = s.flags.union(row.flags);
    merged.incident.closed_at = o.closed_at.or(n.closed_at);
    merged.incident.resolved = o.resolved.or(n.resolved);
    if merged.incident.department.is_none() {
        merged.incident.department = n.department;
    }
    let mut out = Vec::new();
    if let Some(c) = closed {
        out.push(change(
            RecordAction::Closed,
            c,
            Some("open"),
            Some(incident_state(&merged.incident)),
            merged
                .incident
                .resolved
                .map(|r| format!("{{\"resolved\":{r}}}")),
        ));
    } else if let (Some(r), Some(c)) = (resolved_now, o.closed_at) {
        // The resolution reported after the closing: one more `closed` event carrying it.
        out.push(change(
            RecordAction::Closed,
            c,
            Some("closed"),
            Some(incident_state(&merged.incident)),
            Some(format!("{{\"resolved\":{r}}}")),
        ));
    }
    Ok((merged, out))
}

fn fen_detail(delta: i64, total: i64, loss: i64) -> String {
    format!("{{\"recovered_fen\":{delta},\"total_fen\":{total},\"loss_fen\":{loss}}}")
}

/// What a row for a case does; see [`incident_changes`]. Recovered money only grows:
/// an increase is a `loss_recovered` change with the amount in the detail (at `now`,
/// since exports carry no date for it), a decrease is a conflict.
pub fn case_changes(
    stored: Option<&ImportedCase>,
    row: &ImportedCase,
    now: DateTime<Utc>,
) -> Result<(ImportedCase, Vec<RecordChange>), Conflict> {
    let n = &row.case;
    let empty;
    let (s, mut merged) = match stored {
        Some(s) => {
            let o = &s.case;
            same("kind", &o.kind, &n.kind, |k| k.code().into())?;
            same("station", &o.station_id, &n.station_id, |u| u.to_string())?;
            same("reported_at", &o.reported_at, &n.reported_at, |t| shown(*t))?;
            same("loss_yuan", &o.loss_fen, &n.loss_fen, |f| yuan(*f))?;
            if n.area_id.is_some() {
                same("area", &o.area_id, &n.area_id, |a| format!("{a:?}"))?;
            }
            (s, s.clone())
        }
        None => {
            empty = ImportedCase {
                case: NewCase {
                    filed_at: None,
                    solved_at: None,
                    closed_at: None,
                    recovered_fen: 0,
                    ..row.case.clone()
                },
                investigator_assigned_at: None,
                suspect_caught_at: None,
                flags: RecordFlags::default(),
            };
            (&empty, empty.clone())
        }
    };
    let o = &s.case;
    let mut out = Vec::new();
    if stored.is_none() {
        out.push(change(
            RecordAction::Received,
            n.reported_at,
            None,
            Some("reported"),
            None,
        ));
    }
    let filed = milestone("filed_at", o.filed_at, n.filed_at)?;
    let assigned = milestone(
        "investigator_assigned_at",
        s.investigator_assigned_at,
        row.investigator_assigned_at,
    )?;
    let caught = milestone(
        "suspect_caught_at",
        s.suspect_caught_at,
        row.suspect_caught_at,
    )?;
    let solved = milestone("solved_at", o.solved_at, n.solved_at)?;
    let closed = milestone("closed_at", o.closed_at, n.closed_at)?;
    if n.recovered_fen < o.recovered_fen {
        return Err(conflict(
            "recovered_yuan",
            format!(
                "{} is less than the {} already recovered; recovered money cannot go down",
                yuan(n.recovered_fen),
                yuan(o.recovered_fen)
            ),
        ));
    }
    merged.flags = s.flags.union(row.flags);
    let before = case_state(&merged.case);
    if let Some(t) = filed {
        merged.case.filed_at = Some(t);
        let to = case_state(&merged.case);
        out.push(change(RecordAction::Filed, t, Some(before), Some(to), None));
    }
    if let Some(t) = assigned {
        merged.investigator_assigned_at = Some(t);
        out.push(change(
            RecordAction::InvestigatorAssigned,
            t,
            None,
            None,
            None,
        ));
    }
    if let Some(t) = caught {
        merged.suspect_caught_at = Some(t);
        out.push(change(RecordAction::SuspectCaught, t, None, None, None));
    }
    if let Some(t) = solved {
        let from = case_state(&merged.case);
        merged.case.solved_at = Some(t);
        out.push(change(
            RecordAction::Solved,
            t,
            Some(from),
            Some(case_state(&merged.case)),
            None,
        ));
    }
    if n.recovered_fen > o.recovered_fen {
        let delta = n.recovered_fen - o.recovered_fen;
        merged.case.recovered_fen = n.recovered_fen;
        out.push(change(
            RecordAction::LossRecovered,
            now,
            None,
            None,
            Some(fen_detail(delta, n.recovered_fen, n.loss_fen)),
        ));
    }
    if let Some(t) = closed {
        let from = case_state(&merged.case);
        merged.case.closed_at = Some(t);
        out.push(change(
            RecordAction::Closed,
            t,
            Some(from),
            Some("closed"),
            None,
        ));
    }
    // The merged timeline must still be possible (a new filing after a stored solving).
    if let Err(e) = merged.check() {
        return Err(conflict("-", format!("with the stored milestones: {e}")));
    }
    Ok((merged, out))
}

/// What a row for a permit transaction does; see [`incident_changes`].
pub fn permit_changes(
    stored: Option<&ImportedPermit>,
    row: &ImportedPermit,
) -> Result<(ImportedPermit, Vec<RecordChange>), Conflict> {
    let n = &row.permit;
    let issued_detail = |p: &NewPermit| {
        p.issued_on_time()
            .map(|on_time| format!("{{\"on_time\":{on_time}}}"))
    };
    let Some(s) = stored else {
        let mut out = vec![change(
            RecordAction::Received,
            n.applied_at,
            None,
            Some("applied"),
            None,
        )];
        if let Some(i) = n.issued_at {
            out.push(change(
                RecordAction::Issued,
                i,
                Some("applied"),
                Some("issued"),
                issued_detail(n),
            ));
        }
        return Ok((row.clone(), out));
    };
    let o = &s.permit;
    same("kind", &o.kind, &n.kind, |k| k.code().into())?;
    same("window", &o.window_id, &n.window_id, |u| u.to_string())?;
    same("applied_at", &o.applied_at, &n.applied_at, |t| shown(*t))?;
    same("promised_at", &o.promised_at, &n.promised_at, |t| shown(*t))?;
    let issued = milestone("issued_at", o.issued_at, n.issued_at)?;
    let mut merged = s.clone();
    merged.flags = s.flags.union(row.flags);
    let mut out = Vec::new();
    if let Some(i) = issued {
        merged.permit.issued_at = Some(i);
        out.push(change(
            RecordAction::Issued,
            i,
            Some("applied"),
            Some("issued"),
            issued_detail(&merged.permit),
        ));
    }
    Ok((merged, out))
}

/// Fen as yuan with two decimals, for messages.
pub fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, (fen % 100).abs())
}

/// Parses an amount in yuan (元) with at most two decimals into fen; `1,234.5` and
/// `¥12` are accepted, negative amounts are not.
pub fn parse_yuan(s: &str) -> Result<i64, ParseError> {
    let bad = |why: &str| ParseError::Invalid {
        what: "amount",
        why: format!("`{}` {why}", s.trim().chars().take(30).collect::<String>()),
    };
    let t: String = s
        .trim()
        .trim_start_matches(['¥', '￥'])
        .trim_end_matches('元')
        .chars()
        .filter(|c| *c != ',')
        .collect();
    if t.is_empty() {
        return Ok(0);
    }
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
    {
        return Err(bad(
            "is not an amount in yuan (digits, at most two decimals)",
        ));
    }
    let whole: i64 = whole
        .parse()
        .ok()
        .filter(|w: &i64| *w <= 1_000_000_000_000)
        .ok_or_else(|| bad("is too large"))?;
    let frac: i64 = format!("{frac:0<2}").parse().unwrap_or(0);
    Ok(whole * 100 + frac)
}

vocabulary! {
    /// The hard indicators (硬指标) measured per unit and period from imported records and
    /// callbacks. Each is a numerator over a denominator; see docs/formats.md
    /// ("Hard indicators") for the exact rule of each.
    Indicator, "indicator" {
        CallbackCoverage => "callback_coverage", "回访率";
        ReachRate => "reach_rate", "回访接通率";
        CallbackSatisfaction => "callback_satisfaction", "回访满意率";
        HelpResolution => "help_resolution", "报警求助解决率";
        PermitOnTime => "permit_on_time", "证照按时办结率";
        TimelyFiling => "timely_filing", "立案及时率";
        LossRecovery => "loss_recovery", "挽回损失率";
    }
}

/// 立案及时: a case counts as filed in time when it is filed within this many days of
/// being reported. The procedure rules for criminal cases (公安机关办理刑事案件程序规定,
/// art. 174) give three days to examine a report, extendable to seven; seven is the
/// ordinary outer limit, so a case filed later — or not filed once seven days have
/// passed — counts as late. The default of `[callbacks] filing_limit_days`.
pub const FILING_LIMIT_DAYS: i64 = 7;

/// A reporting period as assessments label it: `2026` (year), `2026-H1`/`2026-H2`,
/// `2026-Q1`…`2026-Q4`, or `2026-03` (month); bounds at midnight Asia/Shanghai,
/// `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReportPeriod {
    pub label: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl ReportPeriod {
    pub fn parse(label: &str) -> Result<ReportPeriod, ParseError> {
        use chrono::{NaiveDate, TimeZone};
        let label = label.trim();
        let bad = || ParseError::Invalid {
            what: "period",
            why: format!(
                "`{}` is not a period (2026, 2026-H1, 2026-Q2 or 2026-03)",
                label.chars().take(20).collect::<String>()
            ),
        };
        let (y, rest) = match label.split_once('-') {
            Some((y, r)) => (y, Some(r)),
            None => (label, None),
        };
        if y.len() != 4 || !y.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let (m0, months) = match rest {
            None => (1, 12),
            Some("H1") => (1, 6),
            Some("H2") => (7, 6),
            Some(q) if q.len() == 2 && q.starts_with('Q') => match &q[1..] {
                "1" => (1, 3),
                "2" => (4, 3),
                "3" => (7, 3),
                "4" => (10, 3),
                _ => return Err(bad()),
            },
            Some(m) if m.len() == 2 => match m.parse::<u32>() {
                Ok(m @ 1..=12) => (m, 1),
                _ => return Err(bad()),
            },
            Some(_) => return Err(bad()),
        };
        let start = |year: i32, month: u32| -> Result<DateTime<Utc>, ParseError> {
            let (year, month) = if month > 12 {
                (year + 1, month - 12)
            } else {
                (year, month)
            };
            let d = NaiveDate::from_ymd_opt(year, month, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .ok_or_else(bad)?;
            crate::calendar::SHANGHAI
                .from_local_datetime(&d)
                .single()
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(bad)
        };
        Ok(ReportPeriod {
            label: label.to_owned(),
            from: start(year, m0)?,
            to: start(year, m0 + months)?,
        })
    }

    /// The month that holds `t` (Shanghai time).
    pub fn month_of(t: DateTime<Utc>) -> ReportPeriod {
        use chrono::Datelike;
        let local = t.with_timezone(&crate::calendar::SHANGHAI);
        let label = format!("{:04}-{:02}", local.year(), local.month());
        // A label built from a valid date always parses.
        ReportPeriod::parse(&label).unwrap_or(ReportPeriod {
            label,
            from: t,
            to: t,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn rating_levels() {
        assert!(RatingLevel::parse(RatingScale::Three, 0).is_err());
        assert!(RatingLevel::parse(RatingScale::Three, 4).is_err());
        let three = |l| RatingLevel::parse(RatingScale::Three, l).unwrap();
        assert!(three(1).is_satisfied() && !three(2).is_satisfied() && three(3).is_dissatisfied());
        let five = |l| RatingLevel::parse(RatingScale::Five, l).unwrap();
        assert!(five(2).is_satisfied() && five(4).is_dissatisfied() && !five(3).is_dissatisfied());
    }

    #[test]
    fn case_timeline_must_be_possible() {
        let t = |d| Utc.with_ymd_and_hms(2026, 3, d, 8, 0, 0).unwrap();
        let mut c = NewCase {
            external_id: "AJ1".into(),
            kind: CaseKind::Theft,
            station_id: 1,
            area_id: None,
            reported_at: t(5),
            filed_at: Some(t(6)),
            solved_at: Some(t(20)),
            closed_at: None,
            loss_fen: 10_000,
            recovered_fen: 5_000,
            synthetic: true,
        };
        assert!(c.check().is_ok());
        c.solved_at = Some(t(4));
        assert!(c.check().is_err());
        c.solved_at = Some(t(20));
        c.recovered_fen = 20_000;
        assert!(c.check().is_err());
    }

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, d, h, 0, 0).unwrap()
    }

    fn case(id: &str) -> ImportedCase {
        ImportedCase {
            case: NewCase {
                external_id: id.into(),
                kind: CaseKind::Theft,
                station_id: 7,
                area_id: None,
                reported_at: at(1, 8),
                filed_at: None,
                solved_at: None,
                closed_at: None,
                loss_fen: 100_000,
                recovered_fen: 0,
                synthetic: false,
            },
            investigator_assigned_at: None,
            suspect_caught_at: None,
            flags: RecordFlags::default(),
        }
    }

    fn actions(c: &[RecordChange]) -> Vec<&'static str> {
        c.iter().map(|c| c.action.code()).collect()
    }

    #[test]
    fn case_timeline_rules_beyond_the_order_of_milestones() {
        let mut c = case("AJ2");
        c.case.solved_at = Some(at(3, 8));
        assert!(c.check().is_err(), "solved without being filed");
        c.case.filed_at = Some(at(2, 8));
        assert!(c.check().is_ok());
        c.investigator_assigned_at = Some(at(1, 9));
        assert!(c.check().is_err(), "assigned before filed");
        c.investigator_assigned_at = Some(at(2, 9));
        c.suspect_caught_at = Some(at(1, 7));
        assert!(c.check().is_err(), "caught before reported");
        c.suspect_caught_at = Some(at(1, 9));
        assert!(c.check().is_ok(), "a suspect may be caught before filing");
    }

    #[test]
    fn a_case_grows_by_events_and_a_repeated_row_changes_nothing() {
        let now = at(20, 0);
        let first = case("AJ3");
        let (stored, ev) = case_changes(None, &first, now).unwrap();
        assert_eq!(actions(&ev), ["received"]);
        let mut later = first.clone();
        later.case.filed_at = Some(at(2, 8));
        later.investigator_assigned_at = Some(at(2, 9));
        later.suspect_caught_at = Some(at(5, 9));
        later.case.solved_at = Some(at(6, 9));
        later.case.recovered_fen = 30_000;
        later.case.closed_at = Some(at(9, 9));
        later.flags.notices_opt_out = true;
        let (merged, ev) = case_changes(Some(&stored), &later, now).unwrap();
        assert_eq!(
            actions(&ev),
            [
                "filed",
                "investigator_assigned",
                "suspect_caught",
                "solved",
                "loss_recovered",
                "closed"
            ]
        );
        assert_eq!(
            ev[4].detail.as_deref(),
            Some("{\"recovered_fen\":30000,\"total_fen\":30000,\"loss_fen\":100000}")
        );
        assert_eq!(ev[0].from_state.as_deref(), Some("reported"));
        assert_eq!(ev[5].to_state.as_deref(), Some("closed"));
        assert!(merged.flags.notices_opt_out);
        let (again, ev) = case_changes(Some(&merged), &later, now).unwrap();
        assert!(ev.is_empty());
        assert_eq!(again, merged);
        // A later export without the flag does not lift it.
        let mut no_flag = later.clone();
        no_flag.flags = RecordFlags::default();
        let (kept, _) = case_changes(Some(&merged), &no_flag, now).unwrap();
        assert!(kept.flags.notices_opt_out);
    }

    #[test]
    fn conflicting_rows_name_their_column() {
        let now = at(20, 0);
        let (stored, _) = case_changes(None, &case("AJ4"), now).unwrap();
        let mut filed = case("AJ4");
        filed.case.filed_at = Some(at(2, 8));
        filed.case.recovered_fen = 500;
        let (stored, _) = case_changes(Some(&stored), &filed, now).unwrap();
        let col = |r: ImportedCase| case_changes(Some(&stored), &r, now).unwrap_err().column;
        let mut x = filed.clone();
        x.case.kind = CaseKind::Fraud;
        assert_eq!(col(x), "kind");
        let mut x = filed.clone();
        x.case.reported_at = at(1, 9);
        assert_eq!(col(x), "reported_at");
        let mut x = filed.clone();
        x.case.filed_at = Some(at(3, 8));
        assert_eq!(col(x), "filed_at");
        let mut x = filed.clone();
        x.case.filed_at = None;
        assert_eq!(col(x), "filed_at");
        let mut x = filed.clone();
        x.case.recovered_fen = 100;
        assert_eq!(col(x), "recovered_yuan");
        let mut x = filed.clone();
        x.case.station_id = 8;
        assert_eq!(col(x), "station");
    }

    #[test]
    fn incidents_close_once_and_permits_issue_once() {
        let inc = ImportedIncident {
            incident: NewIncident {
                external_id: "JQ1".into(),
                received_at: at(1, 8),
                area_id: None,
                unit_id: Some(7),
                category: crate::taxonomy::Category::Other,
                police_matter: true,
                department: None,
                summary: String::new(),
                closed_at: None,
                resolved: None,
                synthetic: false,
            },
            flags: RecordFlags::default(),
        };
        let (s, ev) = incident_changes(None, &inc).unwrap();
        assert_eq!(actions(&ev), ["received"]);
        let mut closed = inc.clone();
        closed.incident.closed_at = Some(at(1, 10));
        let (s2, ev) = incident_changes(Some(&s), &closed).unwrap();
        assert_eq!(actions(&ev), ["closed"]);
        assert_eq!(ev[0].to_state.as_deref(), Some("closed"));
        let mut resolved = closed.clone();
        resolved.incident.resolved = Some(true);
        let (s3, ev) = incident_changes(Some(&s2), &resolved).unwrap();
        assert_eq!(ev[0].to_state.as_deref(), Some("resolved"));
        assert!(incident_changes(Some(&s3), &resolved).unwrap().1.is_empty());
        let mut flip = resolved.clone();
        flip.incident.resolved = Some(false);
        assert_eq!(
            incident_changes(Some(&s3), &flip).unwrap_err().column,
            "resolved"
        );
        let mut bad = inc.incident.clone();
        bad.closed_at = Some(at(1, 7));
        assert!(bad.check().is_err());
        bad.closed_at = None;
        bad.resolved = Some(true);
        assert!(bad.check().is_err());

        let p = ImportedPermit {
            permit: NewPermit {
                external_id: "ZZ1".into(),
                kind: PermitKind::IdCard,
                window_id: 9,
                applied_at: at(1, 8),
                promised_at: at(10, 17),
                issued_at: None,
                synthetic: false,
            },
            flags: RecordFlags::default(),
        };
        let (s, _) = permit_changes(None, &p).unwrap();
        let mut issued = p.clone();
        issued.permit.issued_at = Some(at(11, 9));
        let (s2, ev) = permit_changes(Some(&s), &issued).unwrap();
        assert_eq!(actions(&ev), ["issued"]);
        assert_eq!(ev[0].detail.as_deref(), Some("{\"on_time\":false}"));
        assert!(permit_changes(Some(&s2), &issued).unwrap().1.is_empty());
        let mut moved = issued.clone();
        moved.permit.promised_at = at(12, 17);
        assert_eq!(
            permit_changes(Some(&s2), &moved).unwrap_err().column,
            "promised_at"
        );
        let mut early = p.permit.clone();
        early.issued_at = Some(at(1, 7));
        assert!(early.check().is_err());
    }

    #[test]
    fn yuan_and_periods() {
        assert_eq!(parse_yuan("1,234.5").unwrap(), 123_450);
        assert_eq!(parse_yuan("¥12元").unwrap(), 1_200);
        assert_eq!(parse_yuan("").unwrap(), 0);
        assert!(parse_yuan("-3").is_err());
        assert!(parse_yuan("1.234").is_err());
        assert_eq!(yuan(123_405), "1234.05");
        let q = ReportPeriod::parse("2026-Q2").unwrap();
        assert_eq!(q.from, Utc.with_ymd_and_hms(2026, 3, 31, 16, 0, 0).unwrap());
        assert_eq!(q.to, Utc.with_ymd_and_hms(2026, 6, 30, 16, 0, 0).unwrap());
        let y = ReportPeriod::parse("2026").unwrap();
        assert_eq!(y.to, Utc.with_ymd_and_hms(2026, 12, 31, 16, 0, 0).unwrap());
        let m = ReportPeriod::parse("2026-12").unwrap();
        assert_eq!(m.to, y.to);
        assert_eq!(
            ReportPeriod::parse("2026-H2").unwrap().from,
            Utc.with_ymd_and_hms(2026, 6, 30, 16, 0, 0).unwrap()
        );
        for bad in ["26", "2026-13", "2026-Q5", "2026-1", "x"] {
            assert!(ReportPeriod::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(ReportPeriod::month_of(at(31, 20)).label, "2026-04");
    }
}
