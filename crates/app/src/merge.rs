//! Near-duplicate merging: after an opinion is stored, propose merging it into earlier
//! open matters of the same unit or area within the configured window whose text is
//! similar by `minyi_text::dedup` (its calibrated weighted-n-gram cosine and SimHash, not
//! a second measure); an analyst accepts (the duplicate becomes `merged`, pointing at the
//! primary) or rejects. A merged matter answers every original channel: when the primary
//! is answered or closed, each original gets the same answer and closing, and its
//! resident the answered notice ([`echo`]); residents following an original see the
//! primary's progress ([`as_seen_by_resident`]).
//!
//! Proposing runs off the request path: [`sweep`] (every few seconds beside the server,
//! see [`run_forever`]) walks the opinions stored since its cursor, so intake never waits
//! for similarity work and a burst of look-alike texts cannot slow residents down.

use chrono::{DateTime, Duration, Utc};
use minyi_core::PhoneNumber;
use minyi_core::access::{OpinionPlace, Permission, Role, may_view_opinion};
use minyi_core::opinion::OpinionState;
use minyi_store::{MergeOutcome, OpinionRow, ProposalRow, StoreError};
use minyi_text::dedup::{self, DedupConfig};
use minyi_vault::Field;

use crate::audit::{AuditAction, record};
use crate::auth::Principal;
use crate::handling::Refusal;
use crate::{App, AppError, Result};

/// Candidates read per key (unit, area): the newest in the window. Bounds intake's cost.
pub const MAX_CANDIDATES: i64 = 200;
/// Proposals kept per new opinion: the most similar.
pub const MAX_PROPOSALS: usize = 5;

fn dedup_config(app: &App) -> DedupConfig {
    DedupConfig {
        threshold: app.config.triage.merge_threshold,
        window_days: app.config.triage.merge_window_days,
        ..DedupConfig::default()
    }
}

/// Opinions read per sweep batch.
const SWEEP_BATCH: i64 = 500;
const SWEEP_CURSOR: &str = "merge_sweep_cursor";

/// Proposes merges for every opinion stored since the last sweep (within the merge
/// window: older matters are not looked at again). Idempotent — proposals are unique per
/// pair — so a sweep that stops half-way, or two servers sweeping, store nothing twice.
/// Returns how many new proposals were stored.
pub async fn sweep(app: &App, now: DateTime<Utc>) -> Result<u64> {
    let mut cursor: i64 = app
        .store
        .meta_get(SWEEP_CURSOR)
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let since = now - Duration::days(dedup_config(app).window_days);
    let mut stored = 0;
    loop {
        let batch = app
            .store
            .opinions_to_sweep(cursor, since, SWEEP_BATCH)
            .await?;
        let Some(&last) = batch.last() else { break };
        for id in &batch {
            match propose(app, *id, now).await {
                Ok(n) => stored += n,
                // One matter's failure must not stop the sweep for the rest.
                Err(e) => {
                    tracing::warn!(opinion_id = id, error = %e, "near-duplicate proposals not made")
                }
            }
        }
        cursor = last;
        app.store
            .meta_set(SWEEP_CURSOR, &cursor.to_string())
            .await?;
        if (batch.len() as i64) < SWEEP_BATCH {
            break;
        }
    }
    Ok(stored)
}

/// Sweeps every `every` until `stop` resolves (run by `minyi serve`).
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
                match sweep(&app, Utc::now()).await {
                    Ok(n) if n > 0 => tracing::info!(proposals = n, "near-duplicate sweep"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "near-duplicate sweep failed"),
                }
            }
        }
    }
}

/// Looks for earlier matters the stored opinion repeats and records proposals. Returns
/// how many new proposals were stored.
pub async fn propose(app: &App, opinion_id: i64, now: DateTime<Utc>) -> Result<u64> {
    let Some(o) = app.store.opinion(opinion_id).await? else {
        return Ok(0);
    };
    if !minyi_store::MERGEABLE.contains(&o.state) {
        return Ok(0);
    }
    let cfg = dedup_config(app);
    let since = o.received_at - Duration::days(cfg.window_days);
    let candidates = app
        .store
        .merge_candidates(
            o.id,
            o.unit_id,
            o.area_id,
            since,
            o.received_at,
            MAX_CANDIDATES,
        )
        .await?;
    if candidates.is_empty() {
        return Ok(0);
    }
    let me = dedup::prepare(&o.text, cfg.max_chars);
    let mut found: Vec<(i64, i64)> = candidates
        .iter()
        .filter_map(|(id, text)| {
            let link = dedup::compare_prepared(&me, &dedup::prepare(text, cfg.max_chars));
            dedup::is_duplicate(&link, &cfg).then(|| {
                // A near copy counts as fully similar even if its n-gram weights differ.
                let near_copy = link.simhash_distance <= cfg.simhash_max_distance;
                let score = if near_copy { 1.0 } else { link.cosine };
                (*id, (f64::from(score) * 1000.0).round() as i64)
            })
        })
        .collect();
    found.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    found.truncate(MAX_PROPOSALS);
    if found.is_empty() {
        return Ok(0);
    }
    Ok(app.store.propose_merges(o.id, &found, now).await?)
}

/// One proposal as an analyst sees it: both matters side by side.
#[derive(Debug, Clone)]
pub struct ProposalView {
    pub proposal: ProposalRow,
    /// The later matter, merged away if accepted.
    pub duplicate: OpinionRow,
    /// The earlier matter, which survives.
    pub primary: OpinionRow,
}

fn visible(p: &Principal, o: &OpinionRow) -> bool {
    may_view_opinion(
        p.role,
        &p.scope,
        p.scope_is_city,
        OpinionPlace {
            unit_id: o.unit_id,
            department_id: o.department_id,
        },
    )
}

async fn view(app: &App, p: &Principal, proposal: ProposalRow) -> Result<Option<ProposalView>> {
    let (Some(duplicate), Some(primary)) = (
        app.store.opinion(proposal.opinion_id).await?,
        app.store.opinion(proposal.candidate_id).await?,
    ) else {
        return Ok(None);
    };
    // Both sides must be the principal's to see, or the pair says nothing.
    if !visible(p, &duplicate) || !visible(p, &primary) {
        return Ok(None);
    }
    Ok(Some(ProposalView {
        proposal,
        duplicate,
        primary,
    }))
}

/// The proposals naming a matter the principal may see (either side), newest first.
pub async fn proposals_for(app: &App, p: &Principal, o: &OpinionRow) -> Result<Vec<ProposalView>> {
    p.require(Permission::ViewOpinions)?;
    let mut out = Vec::new();
    for pr in app.store.proposals_of(o.id).await? {
        if let Some(v) = view(app, p, pr).await? {
            out.push(v);
        }
    }
    Ok(out)
}

/// Open proposals in the principal's subtree (an analyst's work list), newest first.
pub async fn open_in_scope(app: &App, p: &Principal, limit: i64) -> Result<Vec<ProposalView>> {
    p.require(Permission::ViewOpinions)?;
    if p.role == Role::DepartmentLiaison {
        return Ok(Vec::new());
    }
    let units: Vec<i64> = p.scope.units().collect();
    let mut out = Vec::new();
    for pr in app.store.open_proposals_in_units(&units, limit).await? {
        if let Some(v) = view(app, p, pr).await? {
            out.push(v);
        }
    }
    Ok(out)
}

/// What the analyst decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Reject,
}

impl Decision {
    pub fn parse(s: &str) -> Option<Decision> {
        match s.trim() {
            "accept" => Some(Decision::Accept),
            "reject" => Some(Decision::Reject),
            _ => None,
        }
    }
}

/// Decides a proposal shown on the page of matter `code` (either side of it). Analysts
/// only; both matters must lie in the principal's scope. Audited.
pub async fn decide(
    app: &App,
    p: &Principal,
    code: &str,
    proposal_id: i64,
    decision: Decision,
    now: DateTime<Utc>,
) -> Result<std::result::Result<Decision, Refusal>> {
    p.require(Permission::HandleOpinions)?;
    let o = crate::scoped::visible_opinion(app, p, code).await?;
    let unknown = Refusal("merge.unknown_proposal");
    let Some(pr) = app.store.merge_proposal(proposal_id).await? else {
        return Ok(Err(unknown));
    };
    if pr.opinion_id != o.id && pr.candidate_id != o.id {
        return Ok(Err(unknown));
    }
    let Some(v) = view(app, p, pr).await? else {
        return Ok(Err(unknown));
    };
    if !matches!(p.role, Role::CountyAnalyst | Role::CityAnalyst) {
        return Ok(Err(Refusal("merge.analysts_only")));
    }
    let subject = format!("opinion:{}", v.duplicate.tracking_code);
    match decision {
        Decision::Reject => {
            if !app
                .store
                .reject_merge(v.proposal.id, &p.actor(), now)
                .await?
            {
                return Ok(Err(Refusal("merge.already_decided")));
            }
            record(
                app,
                now,
                &p.actor(),
                AuditAction::StateChange,
                &subject,
                &format!(
                    "act=merge_reject proposal={} primary={}",
                    v.proposal.id, v.primary.tracking_code
                ),
            )
            .await?;
        }
        Decision::Accept => {
            match app.store.accept_merge(v.proposal.id, &p.actor(), now).await {
                Ok(MergeOutcome::Merged { .. }) => {}
                Ok(MergeOutcome::AlreadyDecided(_)) => {
                    return Ok(Err(Refusal("merge.already_decided")));
                }
                Ok(MergeOutcome::PrimaryGone(_)) => {
                    return Ok(Err(Refusal("merge.primary_closed")));
                }
                Err(StoreError::Transition(_)) => return Ok(Err(Refusal("merge.not_now"))),
                Err(StoreError::Conflict(_)) => return Ok(Err(Refusal("act_conflict"))),
                Err(e) => return Err(e.into()),
            }
            record(
                app,
                now,
                &p.actor(),
                AuditAction::StateChange,
                &subject,
                &format!(
                    "act=merge state=merged into={} proposal={}",
                    v.primary.tracking_code, v.proposal.id
                ),
            )
            .await?;
        }
    }
    Ok(Ok(decision))
}

/// After a step on a primary (`respond` with the answer, or `close`), the same step on
/// every original merged into it; for an answer, each original's resident who left a
/// phone number is sent the answered notice through the outbox. Returns the originals.
pub async fn echo(
    app: &App,
    primary: &OpinionRow,
    action: &str,
    detail: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<usize> {
    let closing = action == "close";
    let originals = app
        .store
        .echo_to_merged(primary.id, action, detail, actor, now, closing)
        .await?;
    if action == "respond" {
        for o in &originals {
            if let Some(phone) = phone_of(app, o).await? {
                crate::notify::enqueue_answered(app, &o.tracking_code, &phone, now).await?;
            }
        }
    }
    if !originals.is_empty() {
        record(
            app,
            now,
            actor,
            AuditAction::StateChange,
            &format!("opinion:{}", primary.tracking_code),
            &format!("act=merge_echo step={action} originals={}", originals.len()),
        )
        .await?;
    }
    Ok(originals.len())
}

/// The phone an original's resident left, decrypted only to hand it to the outbox (which
/// encrypts it again); never logged.
async fn phone_of(app: &App, o: &OpinionRow) -> Result<Option<PhoneNumber>> {
    let Some(id) = o.contact_id else {
        return Ok(None);
    };
    let Some(c) = app.store.contact(id).await? else {
        return Ok(None);
    };
    let Some(enc) = c.phone_enc.as_deref() else {
        return Ok(None);
    };
    let plain = app
        .key
        .decrypt(Field::Phone, enc)
        .map_err(|e| AppError::Refused(e.to_string()))?;
    Ok(PhoneNumber::parse(&plain).ok())
}

/// A matter as its resident follows it: a merged original shows the primary's state,
/// deadline, closing and verdict (its own code, text and channel stay), so the resident
/// sees the one matter actually being handled.
pub async fn as_seen_by_resident(app: &App, o: OpinionRow) -> Result<OpinionRow> {
    if o.state != OpinionState::Merged {
        return Ok(o);
    }
    let Some(primary_id) = o.merged_into else {
        return Ok(o);
    };
    let Some(p) = app.store.opinion(primary_id).await? else {
        return Ok(o);
    };
    Ok(OpinionRow {
        state: p.state,
        escalation: p.escalation,
        unit_id: p.unit_id,
        due_at: p.due_at,
        closed_at: p.closed_at,
        verdict: o.verdict.or(p.verdict),
        ..o
    })
}

/// A resident's verdict given with a merged original's code: recorded on the original
/// (its state stays `merged`) once the primary has been answered, so every resident of
/// the one matter rates the answer they received.
pub async fn resident_verdict_on_merged(
    app: &App,
    o: &OpinionRow,
    verdict: minyi_core::taxonomy::Verdict,
    now: DateTime<Utc>,
) -> Result<std::result::Result<OpinionState, Refusal>> {
    let seen = as_seen_by_resident(app, o.clone()).await?;
    if !matches!(
        seen.state,
        OpinionState::Responded | OpinionState::Notified | OpinionState::Closed
    ) {
        return Ok(Err(Refusal("verdict_not_now")));
    }
    let changes = minyi_store::Changes {
        verdict: Some(verdict),
        ..Default::default()
    };
    match app
        .store
        .apply_to_opinion(
            o.id,
            minyi_store::Step::Annotate("verdict"),
            "resident",
            now,
            Some(&format!("verdict={}", verdict.code())),
            &changes,
        )
        .await
    {
        Ok(s) => Ok(Ok(s)),
        Err(StoreError::Conflict(_)) => Ok(Err(Refusal("verdict_not_now"))),
        Err(e) => Err(e.into()),
    }
}
