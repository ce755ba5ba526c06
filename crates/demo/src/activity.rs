//! Twelve months of activity in the synthetic city: opinions on every channel with
//! their whole history, window ratings, 110 incidents (over 40% not police matters),
//! cases and permit transactions. Rates vary by station so rankings have something real
//! to find.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use minyi_core::Code;
use minyi_core::ParseError;
use minyi_core::calendar::{Calendar, SHANGHAI};
use minyi_core::opinion::{
    Escalation, NewOpinion, OpinionAction, OpinionState, OpinionText, TrackingCode,
    default_response_working_days, transition,
};
use minyi_core::org::WindowKind;
use minyi_core::records::{CaseKind, PermitKind};
use minyi_core::taxonomy::{Category, Channel, DepartmentKind, Urgency, Verdict};
use rand::Rng;

use crate::city::{COUNTIES, City};
use crate::texts::{self, OpinionDraft, Place};

/// Who handles an opinion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    Station(usize),
    /// The county bureau supervising a station: conduct complaints are never handled
    /// only by the station complained about.
    County(usize),
    Department(DepartmentKind),
}

#[derive(Debug, Clone)]
pub struct DemoOpinion {
    pub tracking_bits: u64,
    pub channel: Channel,
    pub draft: OpinionDraft,
    pub station: usize,
    pub village: usize,
    pub handler: Handler,
    pub escalation: Escalation,
    pub key_opinion: bool,
    pub received_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    /// Every action after receipt, in order; folding them with the core lifecycle gives
    /// the current state (a test checks that each history is legal).
    pub history: Vec<(OpinionAction, DateTime<Utc>)>,
    pub verdict: Option<Verdict>,
}

impl DemoOpinion {
    pub fn state(&self) -> OpinionState {
        self.history
            .iter()
            .try_fold(OpinionState::Received, |s, (a, _)| transition(s, *a))
            .unwrap_or(OpinionState::Received)
    }

    pub fn closed_at(&self) -> Option<DateTime<Utc>> {
        (!self.state().is_open())
            .then(|| self.history.last().map(|h| h.1))
            .flatten()
    }

    /// The record to store, once the caller has resolved codes to ids.
    pub fn to_new(
        &self,
        tracking_code: TrackingCode,
        area_id: Option<i64>,
        unit_id: Option<i64>,
        department_id: Option<i64>,
    ) -> Result<NewOpinion, ParseError> {
        Ok(NewOpinion {
            tracking_code,
            client_key: None,
            channel: self.channel,
            text: OpinionText::parse(&self.draft.text)?,
            category: self.draft.category,
            sentiment: self.draft.sentiment,
            urgency: self.draft.urgency,
            department: self.draft.department,
            area_id,
            unit_id,
            department_id,
            state: self.state(),
            escalation: self.escalation,
            key_opinion: self.key_opinion,
            received_at: self.received_at,
            due_at: Some(self.due_at),
            closed_at: self.closed_at(),
            verdict: self.verdict,
            synthetic: true,
        })
    }
}

#[derive(Debug, Clone)]
pub struct DemoRating {
    pub window: Code,
    pub level: u8,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
    pub client_event_id: String,
}

#[derive(Debug, Clone)]
pub struct DemoIncident {
    pub external_id: String,
    pub at: DateTime<Utc>,
    pub station: usize,
    pub village: usize,
    pub category: Category,
    pub police: bool,
    pub department: Option<DepartmentKind>,
    pub summary: String,
    pub closed_at: DateTime<Utc>,
    pub resolved: bool,
}

#[derive(Debug, Clone)]
pub struct DemoCase {
    pub external_id: String,
    pub kind: CaseKind,
    pub station: usize,
    pub village: usize,
    pub reported_at: DateTime<Utc>,
    pub filed_at: Option<DateTime<Utc>>,
    pub solved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub loss_fen: i64,
    pub recovered_fen: i64,
}

#[derive(Debug, Clone)]
pub struct DemoPermit {
    pub external_id: String,
    pub kind: PermitKind,
    pub window: Code,
    pub applied_at: DateTime<Utc>,
    pub promised_at: DateTime<Utc>,
    pub issued_at: Option<DateTime<Utc>>,
}

/// How much activity to make.
#[derive(Debug, Clone, Copy)]
pub struct Volumes {
    pub opinions: usize,
    pub ratings: usize,
    pub incidents: usize,
    pub cases: usize,
    pub permits: usize,
}

impl Default for Volumes {
    fn default() -> Self {
        Volumes {
            opinions: 52_000,
            ratings: 310_000,
            incidents: 64_000,
            cases: 12_000,
            permits: 42_000,
        }
    }
}

pub struct Activity {
    pub opinions: Vec<DemoOpinion>,
    pub ratings: Vec<DemoRating>,
    pub incidents: Vec<DemoIncident>,
    pub cases: Vec<DemoCase>,
    pub permits: Vec<DemoPermit>,
}

const CHANNELS: &[(Channel, u32)] = &[
    (Channel::WebForm, 14),
    (Channel::QrCard, 9),
    (Channel::Sms, 12),
    (Channel::Hotline, 14),
    (Channel::SuggestionBox, 6),
    (Channel::GridPlatform, 9),
    (Channel::BulkSms, 5),
    (Channel::Microblog, 6),
    (Channel::Visit, 10),
    (Channel::Questionnaire, 5),
    (Channel::Forum, 4),
    (Channel::Mailbox, 3),
    (Channel::Api, 2),
    (Channel::Open311, 1),
];

const CATEGORIES: &[(Category, u32)] = &[
    (Category::PublicOrder, 14),
    (Category::CrimeReport, 7),
    (Category::CaseProgress, 7),
    (Category::Drugs, 4),
    (Category::Fraud, 6),
    (Category::Traffic, 10),
    (Category::VehicleAdmin, 6),
    (Category::Household, 9),
    (Category::ExitEntry, 3),
    (Category::Conduct, 4),
    (Category::Emergency110, 4),
    (Category::Praise, 6),
    (Category::Suggestion, 7),
    (Category::NonPolice, 11),
    (Category::Other, 2),
];

fn pick<T: Copy>(rng: &mut impl Rng, table: &[(T, u32)]) -> T {
    let total: u32 = table.iter().map(|e| e.1).sum();
    let mut x = rng.random_range(0..total);
    for &(v, w) in table {
        if x < w {
            return v;
        }
        x -= w;
    }
    table[table.len() - 1].0
}

/// Picks an index with probability proportional to `weights` (cumulative, ascending).
fn pick_weighted(rng: &mut impl Rng, cumulative: &[u64]) -> usize {
    let total = cumulative.last().copied().unwrap_or(1).max(1);
    let x = rng.random_range(0..total);
    cumulative
        .partition_point(|&c| c <= x)
        .min(cumulative.len().saturating_sub(1))
}

fn cumulative(weights: impl Iterator<Item = u64>) -> Vec<u64> {
    weights
        .scan(0u64, |acc, w| {
            *acc += w.max(1);
            Some(*acc)
        })
        .collect()
}

/// A local (Asia/Shanghai) time on `day` as UTC.
fn local(day: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    let t = NaiveTime::from_hms_opt(hour.min(23), minute.min(59), 0).unwrap_or(NaiveTime::MIN);
    SHANGHAI
        .from_local_datetime(&day.and_time(t))
        .single()
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_default()
}

fn waking_hour(rng: &mut impl Rng) -> u32 {
    // Residents write and call mostly in the day and evening.
    const HOURS: &[(u32, u32)] = &[
        (0, 1),
        (6, 1),
        (7, 3),
        (8, 6),
        (9, 9),
        (10, 9),
        (11, 8),
        (12, 5),
        (13, 5),
        (14, 7),
        (15, 8),
        (16, 8),
        (17, 7),
        (18, 6),
        (19, 6),
        (20, 7),
        (21, 6),
        (22, 4),
        (23, 2),
    ];
    pick(rng, HOURS)
}

pub struct Period {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl Period {
    fn days(&self) -> i64 {
        (self.last - self.first).num_days() + 1
    }

    fn random_day(&self, rng: &mut impl Rng) -> NaiveDate {
        self.first + Duration::days(rng.random_range(0..self.days()))
    }

    /// The end of the period: everything after it has not happened yet.
    pub fn now(&self) -> DateTime<Utc> {
        local(self.last, 23, 59)
    }
}

pub fn generate(
    rng: &mut impl Rng,
    city: &City,
    calendar: &Calendar,
    period: &Period,
    volumes: Volumes,
) -> Activity {
    let station_weights = cumulative(city.stations.iter().map(|s| s.population as u64));
    let mut opinions = Vec::with_capacity(volumes.opinions);
    for _ in 0..volumes.opinions {
        opinions.push(opinion(rng, city, calendar, period, &station_weights));
    }
    mark_duplicates(rng, &mut opinions);
    let ratings = ratings(rng, city, calendar, period, volumes.ratings);
    let incidents = (0..volumes.incidents)
        .map(|i| incident(rng, i, city, period, &station_weights))
        .collect();
    let cases = (0..volumes.cases)
        .map(|i| case(rng, i, city, period, &station_weights))
        .collect();
    let permits = permits(rng, city, calendar, period, volumes.permits);
    Activity {
        opinions,
        ratings,
        incidents,
        cases,
        permits,
    }
}

fn opinion(
    rng: &mut impl Rng,
    city: &City,
    calendar: &Calendar,
    period: &Period,
    weights: &[u64],
) -> DemoOpinion {
    let si = pick_weighted(rng, weights);
    let station = &city.stations[si];
    let vi = rng.random_range(0..station.villages.len().max(1));
    let village = station.villages.get(vi).map(|v| v.1.as_str()).unwrap_or("");
    let channel = pick(rng, CHANNELS);
    let category = pick(rng, CATEGORIES);
    let place = Place {
        county: COUNTIES[station.county].name,
        township: &station.township,
        village,
    };
    let draft = texts::opinion(rng, category, channel, &place);
    let day = period.random_day(rng);
    let received_at = local(day, waking_hour(rng), rng.random_range(0..60));
    let days = default_response_working_days(draft.category, draft.urgency);
    let due_at = calendar
        .deadline(received_at, days)
        .unwrap_or(received_at + Duration::days(days as i64 + 2));
    let handler = match (draft.category, draft.department) {
        (Category::NonPolice, Some(d)) => Handler::Department(d),
        (Category::NonPolice, None) => Handler::Department(DepartmentKind::Petition),
        (Category::Conduct, _) => Handler::County(station.county),
        _ => Handler::Station(si),
    };
    let key_opinion =
        draft.urgency == Urgency::Urgent && rng.random_bool(0.2) || rng.random_bool(0.02);
    let escalation = match (handler, key_opinion) {
        (_, true) => Escalation::City,
        (Handler::County(_), _) => Escalation::County,
        _ => Escalation::Station,
    };
    let mut o = DemoOpinion {
        tracking_bits: rng.random(),
        channel,
        draft,
        station: si,
        village: vi,
        handler,
        escalation,
        key_opinion,
        received_at,
        due_at,
        history: Vec::with_capacity(8),
        verdict: None,
    };
    history(rng, &mut o, station.quality, period.now());
    o
}

/// Writes a plausible history up to `now`: quick triage, assignment and signing, an
/// answer mostly before the deadline (better stations are faster and please more
/// residents), a notice, the verdict, and sometimes a return, a reopening, spam or a
/// withdrawal.
fn history(rng: &mut impl Rng, o: &mut DemoOpinion, quality: f64, now: DateTime<Utc>) {
    let mut clock = Clock {
        t: o.received_at,
        now,
    };
    let mut step = |rng: &mut dyn rand::RngCore, o: &mut DemoOpinion, action, minutes| {
        clock.step(rng, o, action, minutes)
    };
    if rng.random_bool(0.008) {
        step(rng, o, OpinionAction::MarkInvalid, (10, 600));
        return;
    }
    if !step(rng, o, OpinionAction::Triage, (5, 240)) {
        return;
    }
    if rng.random_bool(0.004) {
        step(rng, o, OpinionAction::Withdraw, (60, 2000));
        return;
    }
    if !step(rng, o, OpinionAction::Assign, (5, 120)) {
        return;
    }
    if rng.random_bool(0.03) {
        // Wrong unit: handed back for re-routing, then assigned again.
        if !step(rng, o, OpinionAction::Return, (30, 600))
            || !step(rng, o, OpinionAction::Assign, (10, 300))
        {
            return;
        }
    }
    if !step(rng, o, OpinionAction::Accept, (10, 480)) {
        return;
    }
    let budget = (o.due_at - o.history.last().map_or(o.received_at, |h| h.1))
        .num_minutes()
        .max(60);
    let late = rng.random_bool(0.16 - 0.12 * quality);
    let answer = if late {
        budget + rng.random_range(60..4000)
    } else {
        rng.random_range(budget / 10..budget).max(30)
    };
    if !step(rng, o, OpinionAction::Respond, (answer, answer + 1)) {
        return;
    }
    if o.channel == Channel::SuggestionBox && rng.random_bool(0.5) {
        // Anonymous notes leave nobody to tell.
        step(rng, o, OpinionAction::Close, (60, 600));
        return;
    }
    if !step(rng, o, OpinionAction::Notify, (10, 1440)) {
        return;
    }
    let p_sat = 0.55 + 0.35 * quality - if late { 0.2 } else { 0.0 };
    let verdict = if rng.random_bool(p_sat.clamp(0.05, 0.95)) {
        Verdict::Satisfied
    } else if rng.random_bool(0.65) {
        Verdict::BasicallySatisfied
    } else {
        Verdict::Dissatisfied
    };
    o.verdict = Some(verdict);
    if verdict == Verdict::Dissatisfied {
        // Reopened under supervision, answered again.
        if !step(rng, o, OpinionAction::Reopen, (30, 1440))
            || !step(rng, o, OpinionAction::Accept, (10, 480))
            || !step(rng, o, OpinionAction::Respond, (600, 6000))
            || !step(rng, o, OpinionAction::Notify, (10, 600))
        {
            return;
        }
        o.verdict = Some(if rng.random_bool(0.6) {
            Verdict::BasicallySatisfied
        } else {
            Verdict::Dissatisfied
        });
    }
    step(rng, o, OpinionAction::Close, (60, 4320));
}

struct Clock {
    t: DateTime<Utc>,
    now: DateTime<Utc>,
}

impl Clock {
    /// Moves time on by a random span and records the action, unless that lies beyond
    /// the end of the period (then the story stops there, leaving the matter open).
    fn step(
        &mut self,
        rng: &mut dyn rand::RngCore,
        o: &mut DemoOpinion,
        action: OpinionAction,
        minutes: (i64, i64),
    ) -> bool {
        let lo = minutes.0.max(1);
        let hi = minutes.1.max(lo + 1);
        self.t += Duration::minutes(rand::Rng::random_range(rng, lo..hi));
        if self.t > self.now {
            return false;
        }
        o.history.push((action, self.t));
        true
    }
}

/// Some residents report the same thing twice: a later opinion from the same station
/// and category within a few days is merged into the earlier one.
fn mark_duplicates(rng: &mut impl Rng, opinions: &mut [DemoOpinion]) {
    opinions.sort_by_key(|o| o.received_at);
    for i in 1..opinions.len() {
        if !rng.random_bool(0.03) {
            continue;
        }
        let b = &opinions[i];
        let original = (i.saturating_sub(400)..i).rev().find(|&j| {
            let a = &opinions[j];
            a.station == b.station
                && a.draft.category == b.draft.category
                && (b.received_at - a.received_at).num_days() <= 5
        });
        let first = b.history.first().copied();
        if let (Some(_), Some((OpinionAction::Triage, at))) = (original, first) {
            let b = &mut opinions[i];
            b.history.truncate(1);
            b.history
                .push((OpinionAction::Merge, at + Duration::minutes(30)));
            b.verdict = None;
        }
    }
}

fn ratings(
    rng: &mut impl Rng,
    city: &City,
    calendar: &Calendar,
    period: &Period,
    n: usize,
) -> Vec<DemoRating> {
    // Every window with a device, weighted by how busy it is.
    let mut windows: Vec<(Code, f64, u64)> = Vec::new();
    for s in &city.stations {
        for (w, kind) in &s.windows {
            let busy = match kind {
                WindowKind::Household => s.population as u64 / 10,
                _ => s.population as u64 / 30,
            };
            windows.push((w.clone(), s.quality, busy));
        }
    }
    for (ci, w, kind) in &city.county_windows {
        let pop = COUNTIES[*ci].population as u64;
        let busy = if *kind == WindowKind::Vehicle {
            pop / 6
        } else {
            pop / 20
        };
        windows.push((w.clone(), 0.6 + 0.1 * *ci as f64 % 0.4, busy));
    }
    let weights = cumulative(windows.iter().map(|w| w.2));
    let workdays: Vec<NaiveDate> = (0..period.days())
        .map(|d| period.first + Duration::days(d))
        .filter(|d| calendar.is_working_day(*d))
        .collect();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (code, quality, _) = &windows[pick_weighted(rng, &weights)];
        let day = workdays[rng
            .random_range(0..workdays.len().max(1))
            .min(workdays.len().saturating_sub(1))];
        let hour = if rng.random_bool(0.5) {
            rng.random_range(9..12)
        } else {
            rng.random_range(14..17)
        };
        let p_dis = 0.09 - 0.08 * quality;
        let level = if rng.random_bool(p_dis) {
            3
        } else if rng.random_bool(0.12 - 0.06 * quality) {
            2
        } else {
            1
        };
        let reason = (level == 3 && rng.random_bool(0.5)).then(|| texts::rating_reason(rng));
        out.push(DemoRating {
            window: code.clone(),
            level,
            reason,
            at: local(day, hour, rng.random_range(0..60)),
            client_event_id: format!("demo-r-{i:07}"),
        });
    }
    out.sort_by_key(|r| r.at);
    out
}

const NON_POLICE: &[(DepartmentKind, u32)] = &[
    (DepartmentKind::HousingConstruction, 14),
    (DepartmentKind::Land, 9),
    (DepartmentKind::Petition, 8),
    (DepartmentKind::Health, 8),
    (DepartmentKind::Labour, 12),
    (DepartmentKind::Utilities, 25),
    (DepartmentKind::MarketRegulation, 12),
    (DepartmentKind::Education, 5),
];

const POLICE_CALLS: &[(Category, u32)] = &[
    (Category::Emergency110, 30),
    (Category::PublicOrder, 30),
    (Category::CrimeReport, 18),
    (Category::Traffic, 14),
    (Category::Fraud, 6),
    (Category::Drugs, 2),
];

fn incident(
    rng: &mut impl Rng,
    i: usize,
    city: &City,
    period: &Period,
    weights: &[u64],
) -> DemoIncident {
    let si = pick_weighted(rng, weights);
    let station = &city.stations[si];
    // 43 of every 100 calls are not police matters (the document: over 40%); a quota,
    // not a coin, so every volume of demo keeps the documented share.
    let police = (i * 43) % 100 >= 43;
    let (category, department) = if police {
        (pick(rng, POLICE_CALLS), None)
    } else {
        (Category::NonPolice, Some(pick(rng, NON_POLICE)))
    };
    let hour = if rng.random_bool(0.25) {
        rng.random_range(0..24)
    } else {
        waking_hour(rng)
    };
    let at = local(period.random_day(rng), hour, rng.random_range(0..60));
    let closed_at = at + Duration::minutes(rng.random_range(20..(if police { 600 } else { 4000 })));
    DemoIncident {
        external_id: format!("DEMO-JQ-{i:06}"),
        at,
        station: si,
        village: rng.random_range(0..station.villages.len().max(1)),
        category,
        police,
        department,
        summary: texts::incident_summary(rng, police, department),
        closed_at,
        resolved: rng.random_bool(0.8 + 0.15 * station.quality),
    }
}

const CASE_KINDS: &[(CaseKind, u32, i64)] = &[
    (CaseKind::Theft, 34, 300_000),
    (CaseKind::Burglary, 12, 800_000),
    (CaseKind::VehicleTheft, 12, 600_000),
    (CaseKind::Robbery, 4, 200_000),
    (CaseKind::Fraud, 18, 3_000_000),
    (CaseKind::Assault, 10, 0),
    (CaseKind::Drugs, 7, 0),
    (CaseKind::Other, 3, 0),
];

fn case(rng: &mut impl Rng, i: usize, city: &City, period: &Period, weights: &[u64]) -> DemoCase {
    let si = pick_weighted(rng, weights);
    let station = &city.stations[si];
    let kinds: Vec<(CaseKind, u32)> = CASE_KINDS.iter().map(|k| (k.0, k.1)).collect();
    let kind = pick(rng, &kinds);
    let typical = CASE_KINDS
        .iter()
        .find(|k| k.0 == kind)
        .map(|k| k.2)
        .unwrap_or(0);
    let now = period.now();
    let reported_at = local(
        period.random_day(rng),
        waking_hour(rng),
        rng.random_range(0..60),
    );
    let until = |t: DateTime<Utc>| (t <= now).then_some(t);
    let max_hours = if rng.random_bool(0.85) { 24 } else { 24 * 10 };
    let filed_at = until(reported_at + Duration::hours(rng.random_range(1..max_hours)));
    let p_solve = match kind {
        CaseKind::Fraud => 0.25,
        CaseKind::Theft | CaseKind::Burglary => 0.4,
        _ => 0.7,
    } * (0.7 + 0.5 * station.quality);
    let solved_at = filed_at.and_then(|f| {
        rng.random_bool(p_solve.min(0.95))
            .then(|| f + Duration::days(rng.random_range(1..120)))
            .and_then(until)
    });
    let closed_at = solved_at.and_then(|s| until(s + Duration::days(rng.random_range(5..60))));
    let loss_fen = if typical > 0 {
        (typical as f64 * (0.1 + 2.5 * rng.random::<f64>())) as i64
    } else {
        0
    };
    let recovered_fen = if solved_at.is_some() && loss_fen > 0 {
        (loss_fen as f64 * rng.random::<f64>().powf(0.7)) as i64
    } else {
        0
    };
    DemoCase {
        external_id: format!("DEMO-AJ-{i:06}"),
        kind,
        station: si,
        village: rng.random_range(0..station.villages.len().max(1)),
        reported_at,
        filed_at,
        solved_at,
        closed_at,
        loss_fen,
        recovered_fen,
    }
}

fn permits(
    rng: &mut impl Rng,
    city: &City,
    calendar: &Calendar,
    period: &Period,
    n: usize,
) -> Vec<DemoPermit> {
    let mut windows: Vec<(Code, WindowKind, f64)> = Vec::new();
    for s in &city.stations {
        for (w, k) in &s.windows {
            windows.push((w.clone(), *k, s.quality));
        }
    }
    for (_, w, k) in &city.county_windows {
        windows.push((w.clone(), *k, 0.8));
    }
    let now = period.now();
    (0..n)
        .map(|i| {
            let (window, wk, quality) = &windows[rng.random_range(0..windows.len())];
            let (kind, days) = match wk {
                WindowKind::Household => {
                    let k = [
                        PermitKind::HukouTransfer,
                        PermitKind::HukouChange,
                        PermitKind::IdCard,
                        PermitKind::ResidencePermit,
                    ][rng.random_range(0..4)];
                    (k, if k == PermitKind::IdCard { 20 } else { 5 })
                }
                WindowKind::PublicOrderPermit => (PermitKind::ResidencePermit, 7),
                WindowKind::ExitEntry => (PermitKind::ExitEntryPermit, 7),
                WindowKind::Vehicle => {
                    if rng.random_bool(0.5) {
                        (PermitKind::DrivingLicence, 1)
                    } else {
                        (PermitKind::VehicleRegistration, 2)
                    }
                }
            };
            let day = period.random_day(rng);
            let applied_at = local(day, rng.random_range(9..17), rng.random_range(0..60));
            let promised_day = calendar
                .add_working_days(day, days)
                .unwrap_or(day + Duration::days(days as i64 * 2));
            let promised_at = local(promised_day, 17, 30);
            let on_time = rng.random_bool(0.85 + 0.13 * quality);
            let issued = if on_time {
                applied_at + (promised_at - applied_at) * rng.random_range(30..100) / 100
            } else {
                promised_at + Duration::days(rng.random_range(1..10))
            };
            DemoPermit {
                external_id: format!("DEMO-ZZ-{i:06}"),
                kind,
                window: window.clone(),
                applied_at,
                promised_at,
                issued_at: (issued <= now).then_some(issued),
            }
        })
        .collect()
}
