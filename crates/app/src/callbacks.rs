//! Callbacks (回访) and case-progress notices (回告): the planner that turns imported
//! records and their events into callback tasks and SMS notices, the worklist a unit
//! calls from, the outcome of each call (a dissatisfied resident opens an opinion), and
//! the audited reveal of the number to call.
//!
//! The rules are `minyi_core::callback` (pure); this module reads and writes through the
//! store and must not speak HTTP. Everything the planner writes is keyed (a callback per
//! record and rule, an outbox message per case and milestone), so running it twice, or on
//! two servers at once, creates nothing new.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use minyi_core::PhoneNumber;
use minyi_core::access::Permission;
use minyi_core::callback::{self, AttemptError, RecordFacts};
use minyi_core::event::SubjectKind;
use minyi_core::opinion::{OpinionText, TrackingCode};
use minyi_core::org::UnitKind;
use minyi_core::records::{CallbackOutcome, CallbackSource, CallbackState};
use minyi_core::taxonomy::{Category, Channel, Verdict};
use minyi_store::{
    AttemptChange, AttemptRow, CallbackQuery, CallbackRow, NewCallback, PlanRecord, StoreError,
};
use minyi_vault::Field;

use crate::audit::{AuditAction, record};
use crate::auth::Principal;
use crate::intake::{Submission, submit};
use crate::privacy::ContactInput;
use crate::{App, AppError, Result};

/// Records read per page.
const BATCH: i64 = 500;
/// Pages per source per pass: a larger backlog (a history import) is worked off over passes.
const PAGES_PER_PASS: usize = 100;
/// Imports commit in batches; a record is planned once its change is this old, so a
/// transaction that set `changed_at` and commits a little later is never skipped by the
/// cursor.
pub const SETTLE: Duration = Duration::minutes(10);
/// The actor of the planner's writes.
const ACTOR: &str = "callback_planner";

/// What a planner pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PlanReport {
    pub records: u64,
    pub created: u64,
    pub updated: u64,
    pub notices: u64,
    pub unroutable: u64,
    pub too_old: u64,
}

fn cursor_key(source: CallbackSource) -> String {
    format!("callbacks.cursor.{}", source.code())
}

fn parse_cursor(v: Option<String>) -> (i64, i64) {
    v.and_then(|v| {
        let (a, b) = v.split_once(':')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    })
    // Before the first record: changed_at 0 (records from before schema 8, the demo) included.
    .unwrap_or((-1, 0))
}

/// The unit tree, for finding the bureau that supervises a station.
struct Tree {
    units: HashMap<i64, (UnitKind, Option<i64>)>,
}

impl Tree {
    async fn load(app: &App) -> Result<Tree> {
        let units = app
            .store
            .units()
            .await?
            .into_iter()
            .map(|u| (u.id, (u.kind, u.parent_id)))
            .collect();
        Ok(Tree { units })
    }

    /// The nearest county bureau above `unit` (the city bureau when there is none).
    fn supervisor(&self, unit: i64) -> Option<i64> {
        let mut at = self.units.get(&unit)?.1;
        let mut city = None;
        for _ in 0..64 {
            let id = at?;
            let (kind, parent) = *self.units.get(&id)?;
            match kind {
                UnitKind::CountyBureau => return Some(id),
                UnitKind::CityBureau => city = city.or(Some(id)),
                _ => {}
            }
            if parent.is_none() {
                break;
            }
            at = parent;
        }
        city
    }
}

fn subject_of(source: CallbackSource) -> SubjectKind {
    match source {
        CallbackSource::Incident => SubjectKind::Incident,
        CallbackSource::Case => SubjectKind::Case,
        CallbackSource::Permit => SubjectKind::Permit,
        CallbackSource::Opinion => SubjectKind::Opinion,
    }
}

/// One planner pass over the records changed since the cursor: callbacks created (or
/// brought up to date while nobody has called), notices queued. Idempotent.
pub async fn plan(app: &App, now: DateTime<Utc>) -> Result<PlanReport> {
    let rules = &app.config.callbacks;
    let tree = Tree::load(app).await?;
    let until = (now - SETTLE).timestamp_millis();
    let mut report = PlanReport::default();
    for source in [
        CallbackSource::Incident,
        CallbackSource::Case,
        CallbackSource::Permit,
    ] {
        let key = cursor_key(source);
        let mut after = parse_cursor(app.store.meta_get(&key).await?);
        for _ in 0..PAGES_PER_PASS {
            let page = app
                .store
                .records_to_plan(source, after, until, BATCH)
                .await?;
            let Some(last) = page.last() else { break };
            let next = (last.changed_at, last.id);
            let ids: Vec<i64> = page.iter().map(|r| r.id).collect();
            let events = app
                .store
                .record_milestone_events(subject_of(source), &ids)
                .await?;
            let mut by_record: HashMap<i64, Vec<_>> = HashMap::new();
            for (id, action, at) in events {
                by_record.entry(id).or_default().push((action, at));
            }
            let mut planned = Vec::new();
            for r in &page {
                report.records += 1;
                let facts = facts_of(r, by_record.remove(&r.id).unwrap_or_default(), &tree);
                let p = callback::plan(rules, &app.calendar, &facts, now)
                    .map_err(|e| AppError::Refused(format!("callback plan: {e}")))?;
                report.unroutable += p.unroutable.len() as u64;
                report.too_old += p.too_old.len() as u64;
                planned.extend(p.callbacks.into_iter().map(|c| NewCallback {
                    source: c.source,
                    source_id: c.source_id,
                    rule: c.rule,
                    unit_id: c.unit_id,
                    trigger_at: c.trigger_at,
                    due_at: c.due_at,
                    state: c.state,
                    exclusion: c.exclusion,
                    contact_id: r.contact_id,
                    synthetic: false,
                }));
                report.notices += send_notices(app, r, &facts, now).await?;
            }
            let (created, updated) = app.store.upsert_callbacks(&planned, now).await?;
            report.created += created;
            report.updated += updated;
            after = next;
            app.store
                .meta_set(&key, &format!("{}:{}", after.0, after.1))
                .await?;
            if (page.len() as i64) < BATCH {
                break;
            }
        }
    }
    Ok(report)
}

/// The synthetic demo's callbacks: plans every demo record as the planner would (the
/// same facts and rules, but over the whole demo year instead of `plan_within_days`, as of
/// `demo_now`, the end of the demo period) and writes each callback with the calls
/// `minyi_demo::callbacks::calls` simulates for it, marked synthetic. The planner's
/// cursors then move past the demo records, so a server started on the demo neither
/// plans them again nor texts case-progress notices to their fictional numbers.
/// `quality` is each station's quality (by unit id); other units count as average.
pub async fn plan_demo(
    app: &App,
    seed: u64,
    quality: &HashMap<i64, f64>,
    demo_now: DateTime<Utc>,
) -> Result<u64> {
    let mut rules = app.config.callbacks.clone();
    rules.plan_within_days = rules.plan_within_days.max(400);
    let tree = Tree::load(app).await?;
    let mut created = 0;
    for source in [
        CallbackSource::Incident,
        CallbackSource::Case,
        CallbackSource::Permit,
    ] {
        let mut after = (-1, 0);
        loop {
            let page = app
                .store
                .records_to_plan(source, after, i64::MAX, BATCH)
                .await?;
            let Some(last) = page.last() else { break };
            after = (last.changed_at, last.id);
            let ids: Vec<i64> = page.iter().map(|r| r.id).collect();
            let mut by_record: HashMap<i64, Vec<_>> = HashMap::new();
            for (id, action, at) in app
                .store
                .record_milestone_events(subject_of(source), &ids)
                .await?
            {
                by_record.entry(id).or_default().push((action, at));
            }
            let mut items = Vec::new();
            for r in &page {
                let facts = facts_of(r, by_record.remove(&r.id).unwrap_or_default(), &tree);
                let p = callback::plan(&rules, &app.calendar, &facts, demo_now)
                    .map_err(|e| AppError::Refused(format!("callback plan: {e}")))?;
                for c in p.callbacks.into_iter().filter(|c| c.trigger_at <= demo_now) {
                    let q = r
                        .unit_id
                        .and_then(|u| quality.get(&u))
                        .copied()
                        .unwrap_or(0.75);
                    let calls = minyi_demo::callbacks::calls(
                        seed,
                        &rules,
                        &app.calendar,
                        &r.external_id,
                        &c,
                        q,
                        demo_now,
                    );
                    let attempts = calls
                        .into_iter()
                        .enumerate()
                        .map(|(k, a)| AttemptChange {
                            expected_attempts: k as i64,
                            at: a.at,
                            actor: crate::demo::DEMO_ACTOR.into(),
                            outcome: a.outcome,
                            verdict: a.verdict,
                            state: a.state,
                            next_attempt_at: a.next_attempt_at,
                        })
                        .collect();
                    items.push((
                        NewCallback {
                            source: c.source,
                            source_id: c.source_id,
                            rule: c.rule,
                            unit_id: c.unit_id,
                            trigger_at: c.trigger_at,
                            due_at: c.due_at,
                            state: c.state,
                            exclusion: c.exclusion,
                            contact_id: r.contact_id,
                            synthetic: true,
                        },
                        attempts,
                    ));
                }
            }
            created += app
                .store
                .insert_callback_histories(&items, demo_now)
                .await?;
            if (page.len() as i64) < BATCH {
                break;
            }
        }
        if after != (-1, 0) {
            app.store
                .meta_set(&cursor_key(source), &format!("{}:{}", after.0, after.1))
                .await?;
        }
    }
    Ok(created)
}

fn facts_of(
    r: &PlanRecord,
    events: Vec<(minyi_core::records::RecordAction, DateTime<Utc>)>,
    tree: &Tree,
) -> RecordFacts {
    let mut milestones = r.milestones.clone();
    milestones.extend(events);
    RecordFacts {
        source: r.source,
        id: r.id,
        unit_id: r.unit_id,
        supervisor_id: r.unit_id.and_then(|u| tree.supervisor(u)),
        category: r.category,
        police_matter: r.police_matter,
        has_contact: r.has_phone,
        domestic_violence: r.domestic_violence,
        ongoing_danger: r.ongoing_danger,
        opted_out: r.opted_out,
        milestones,
        recovered_fen: r.recovered_fen,
    }
}

/// Queues the case-progress notices a case's victim is owed; the outbox's dedup key keeps
/// each to one message. Returns how many were new.
async fn send_notices(
    app: &App,
    r: &PlanRecord,
    facts: &RecordFacts,
    now: DateTime<Utc>,
) -> Result<u64> {
    let planned = callback::notices(&app.config.callbacks, facts, &r.external_id, now);
    if planned.is_empty() {
        return Ok(0);
    }
    let Some(phone) = phone_of(app, r.contact_id).await? else {
        return Ok(0);
    };
    let mut n = 0;
    for p in planned {
        let id = crate::notify::enqueue_notice(
            app,
            p.milestone.code(),
            &phone,
            &p.text,
            &format!("case:{}", r.external_id),
            &p.dedup_key,
            now,
        )
        .await?;
        n += u64::from(id.is_some());
    }
    Ok(n)
}

/// The phone number of a contact, decrypted for the outbox or a submission. Never logged.
async fn phone_of(app: &App, contact_id: Option<i64>) -> Result<Option<PhoneNumber>> {
    let Some(id) = contact_id else {
        return Ok(None);
    };
    let Some(c) = app.store.contact(id).await? else {
        return Ok(None);
    };
    if c.anonymised_at.is_some() {
        return Ok(None);
    }
    let Some(enc) = c.phone_enc else {
        return Ok(None);
    };
    let plain = app
        .key
        .decrypt(Field::Phone, &enc)
        .map_err(|e| AppError::Refused(e.to_string()))?;
    Ok(PhoneNumber::parse(&plain).ok())
}

/// Runs a pass every `every` until `stop` resolves; a failed pass is logged and the next
/// one tries again.
pub async fn run_forever(
    app: App,
    every: std::time::Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {
                match plan(&app, Utc::now()).await {
                    Ok(r) if r.created + r.updated + r.notices > 0 => tracing::info!(
                        records = r.records,
                        created = r.created,
                        updated = r.updated,
                        notices = r.notices,
                        unroutable = r.unroutable,
                        "callback planner"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "callback planner pass failed"),
                }
            }
        }
    }
}

/// A callback the principal may see (its calling unit lies in the scope), or `NotFound`.
pub async fn visible(app: &App, p: &Principal, id: i64) -> Result<CallbackRow> {
    p.require(Permission::ViewOpinions)?;
    let c = app.store.callback(id).await?.ok_or(AppError::NotFound)?;
    if !p.scope.contains(c.unit_id) {
        return Err(AppError::NotFound);
    }
    Ok(c)
}

/// The worklist of the principal's subtree: pending first, soonest due first.
pub async fn worklist(
    app: &App,
    p: &Principal,
    q: &CallbackQuery,
    now: DateTime<Utc>,
) -> Result<(Vec<CallbackRow>, i64)> {
    p.require(Permission::ViewOpinions)?;
    let units: Vec<i64> = p.scope.units().collect();
    Ok(app.store.callback_worklist(&units, q, now).await?)
}

/// A callback's page: the task and its attempts.
pub struct CallbackView {
    pub callback: CallbackRow,
    pub attempts: Vec<AttemptRow>,
    pub may_call: bool,
    pub may_reveal: bool,
}

pub async fn view(app: &App, p: &Principal, id: i64) -> Result<CallbackView> {
    let callback = visible(app, p, id).await?;
    let attempts = app.store.callback_attempts(id).await?;
    Ok(CallbackView {
        may_call: p.may(Permission::HandleOpinions) && callback.state == CallbackState::Pending,
        may_reveal: p.may(Permission::RevealPersonalData) && callback.contact_id.is_some(),
        callback,
        attempts,
    })
}

/// What the caller enters after a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeInput {
    pub outcome: CallbackOutcome,
    pub verdict: Option<Verdict>,
    /// What the resident said, if anything: it becomes the text of an opinion.
    pub comment: Option<String>,
}

/// What recording an outcome did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeResult {
    pub state: CallbackState,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The opinion opened (dissatisfied, or a comment given).
    pub opinion: Option<TrackingCode>,
}

/// Records one call. A reached resident who is dissatisfied — or who said something —
/// opens an opinion on the callback channel, routed to the record's area and linked to
/// the callback; the comment is kept there and nowhere else.
pub async fn record_outcome(
    app: &App,
    p: &Principal,
    id: i64,
    input: OutcomeInput,
    now: DateTime<Utc>,
) -> Result<OutcomeResult> {
    p.require(Permission::HandleOpinions)?;
    let c = visible(app, p, id).await?;
    let comment = input
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    if comment.is_some() && input.outcome != CallbackOutcome::Reached {
        return Err(AppError::Invalid("callbacks.comment_without_reach".into()));
    }
    let comment_text = comment
        .as_deref()
        .map(OpinionText::parse)
        .transpose()
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let attempt = u32::try_from(c.attempts + 1).unwrap_or(u32::MAX);
    let after = callback::after_attempt(
        &app.config.callbacks,
        &app.calendar,
        c.state,
        attempt,
        input.outcome,
        input.verdict,
        now,
    )
    .map_err(|e| match e {
        AttemptError::VerdictRequired => AppError::Invalid("callbacks.verdict_required".into()),
        AttemptError::VerdictWithoutReach => {
            AppError::Invalid("callbacks.verdict_without_reach".into())
        }
        AttemptError::NotPending(_) => AppError::Invalid("callbacks.not_pending".into()),
        AttemptError::Calendar(e) => AppError::Refused(format!("calendar: {e}")),
    })?;
    let next_attempt_at = match after {
        callback::AfterAttempt::Retry { next_at } => Some(next_at),
        _ => None,
    };
    app.store
        .record_callback_attempt(
            id,
            &AttemptChange {
                expected_attempts: c.attempts,
                at: now,
                actor: p.actor(),
                outcome: input.outcome,
                verdict: input.verdict,
                state: after.state(),
                next_attempt_at,
            },
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => AppError::Invalid("callbacks.changed_meanwhile".into()),
            other => other.into(),
        })?;
    let dissatisfied = input.verdict == Some(Verdict::Dissatisfied);
    let opinion = if dissatisfied || comment_text.is_some() {
        Some(open_opinion(app, &c, input.verdict, comment_text, now).await?)
    } else {
        None
    };
    Ok(OutcomeResult {
        state: after.state(),
        next_attempt_at,
        opinion,
    })
}

/// Opens the opinion a callback produced and links it. Keyed on the callback, so a
/// retried request finds the first opinion instead of opening a second.
async fn open_opinion(
    app: &App,
    c: &CallbackRow,
    verdict: Option<Verdict>,
    comment: Option<OpinionText>,
    now: DateTime<Utc>,
) -> Result<TrackingCode> {
    let reference = c
        .external_id
        .clone()
        .unwrap_or_else(|| c.source_id.to_string());
    let text = match comment {
        Some(t) => t,
        None => OpinionText::parse(&format!(
            "回访不满意：{}{}（回访规则{}）",
            c.source.label_zh(),
            reference,
            c.rule
        ))
        .map_err(|e| AppError::Invalid(e.to_string()))?,
    };
    let category = match (verdict, c.source) {
        (Some(Verdict::Satisfied), _) => Category::Praise,
        (Some(Verdict::BasicallySatisfied), _) => Category::Suggestion,
        (_, CallbackSource::Incident) => Category::Emergency110,
        (_, CallbackSource::Case) => Category::CaseProgress,
        (_, _) => Category::Other,
    };
    let phone = phone_of(app, c.contact_id).await?;
    let s = Submission {
        channel: Channel::Callback,
        text,
        category: Some(category),
        area_code: app.store.record_area_code(c.source, c.source_id).await?,
        client_key: Some(format!("callback:{}", c.id)),
        contact: ContactInput {
            phone,
            ..Default::default()
        },
        limit_to_units: None,
    };
    let receipt = submit(app, s, ACTOR, now).await?;
    app.store.link_callback_opinion(c.id, receipt.id).await?;
    Ok(receipt.tracking_code)
}

/// An SMS reply `TD`/`退订` from `phone`: every record of that person stops sending
/// notices and is not called back (planned callbacks nobody has called yet become
/// excluded on the planner's next pass). Returns how many records changed.
pub async fn opt_out_by_sms(app: &App, phone: &PhoneNumber, now: DateTime<Utc>) -> Result<u64> {
    let hash = crate::privacy::phone_lookup(&app.key, phone);
    Ok(app.store.opt_out_by_phone_hash(&hash, now).await?)
}

/// Reveals the phone number to call, for a typed reason of four characters or more. The
/// audit entry is written before the number is decrypted.
pub async fn reveal_phone(
    app: &App,
    p: &Principal,
    id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<String> {
    p.require(Permission::RevealPersonalData)?;
    let c = visible(app, p, id).await?;
    let reason = reason.trim();
    let n = reason.chars().count();
    if !(4..=200).contains(&n) {
        return Err(AppError::Invalid("reveal_reason".into()));
    }
    let contact = match c.contact_id {
        Some(cid) => app.store.contact(cid).await?,
        None => None,
    }
    .ok_or(AppError::NotFound)?;
    let stored = contact.phone_enc.ok_or(AppError::NotFound)?;
    let one_line: String = reason
        .chars()
        .map(|ch| if ch.is_control() { ' ' } else { ch })
        .collect();
    record(
        app,
        now,
        &p.actor(),
        AuditAction::Reveal,
        &format!("callback:{id}"),
        &format!("field=phone reason={one_line}"),
    )
    .await?;
    app.key
        .decrypt(Field::Phone, &stored)
        .map_err(|e| AppError::Refused(e.to_string()))
}
