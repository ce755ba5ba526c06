//! Handling a matter: triage, assignment, sign-off (the clock starts), return for
//! re-routing, extensions approved by the supervising unit, the response, the notice to
//! the resident, the resident's verdict, reopening under supervision, key opinions and
//! escalation. Who may do what is decided here, from the role, the scope and where the
//! matter sits; the order of states is `minyi_core::opinion::transition`.

use chrono::{DateTime, Utc};
use minyi_core::access::{Permission, Role};
use minyi_core::opinion::{Escalation, OpinionAction, OpinionState, default_response_working_days};
use minyi_core::org::UnitKind;
use minyi_core::taxonomy::{Category, Urgency, Verdict};
use minyi_store::{Changes, OpinionRow, Step, StoreError};

use crate::audit::{AuditAction, record};
use crate::auth::Principal;
use crate::{App, AppError, Result};

/// The longest a matter may run, in working days, with an approved extension.
pub const MAX_EXTENDED_WORKING_DAYS: u32 = 15;

/// One thing done to a matter.
#[derive(Debug, Clone, PartialEq)]
pub enum Act {
    Triage {
        category: Option<Category>,
        urgency: Option<Urgency>,
    },
    Assign {
        unit_code: String,
    },
    Accept,
    Return {
        reason: String,
    },
    Respond {
        text: String,
    },
    Notify,
    Close {
        verdict: Verdict,
    },
    Reopen {
        reason: String,
    },
    Escalate {
        reason: String,
    },
    MarkKey,
    RequestExtension {
        days: u32,
        reason: String,
    },
    ApproveExtension {
        days: u32,
    },
}

impl Act {
    pub fn code(&self) -> &'static str {
        match self {
            Act::Triage { .. } => "triage",
            Act::Assign { .. } => "assign",
            Act::Accept => "accept",
            Act::Return { .. } => "return",
            Act::Respond { .. } => "respond",
            Act::Notify => "notify",
            Act::Close { .. } => "close",
            Act::Reopen { .. } => "reopen",
            Act::Escalate { .. } => "escalate",
            Act::MarkKey => "mark_key",
            Act::RequestExtension { .. } => "request_extension",
            Act::ApproveExtension { .. } => "extend",
        }
    }
}

/// Why an act was refused, as a catalogue key the page shows in the user's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub &'static str);

fn text(s: &str, min: usize, max: usize) -> std::result::Result<String, Refusal> {
    let t = s.trim();
    let n = t.chars().count();
    if n < min || n > max {
        Err(Refusal("act_text_length"))
    } else {
        Ok(t.to_owned())
    }
}

fn up(e: Escalation) -> Escalation {
    match e {
        Escalation::Station => Escalation::County,
        _ => Escalation::City,
    }
}

/// Is the principal an analyst supervising this matter's unit (its scope holds the unit
/// and more), rather than the unit itself?
fn supervises(p: &Principal, o: &OpinionRow) -> bool {
    matches!(p.role, Role::CountyAnalyst | Role::CityAnalyst)
        && o.unit_id
            .is_none_or(|u| p.scope.contains(u) && u != p.unit_id)
}

fn analyst(p: &Principal) -> bool {
    matches!(p.role, Role::CountyAnalyst | Role::CityAnalyst)
}

/// Does one act on one matter, if the principal may; the state, its event and the audit
/// entry are written together (the first two in one transaction).
pub async fn act(
    app: &App,
    p: &Principal,
    tracking_code: &str,
    act: Act,
    now: DateTime<Utc>,
) -> Result<std::result::Result<OpinionState, Refusal>> {
    p.require(Permission::HandleOpinions)?;
    let o = crate::scoped::visible_opinion(app, p, tracking_code).await?;
    let mut changes = Changes::default();
    let mut detail: Option<String> = None;
    let step = match &act {
        Act::Triage { category, urgency } => {
            if !analyst(p) {
                return Ok(Err(Refusal("act_analysts_only")));
            }
            changes.category = *category;
            changes.urgency = *urgency;
            // A matter returned for re-routing is triaged again without changing state.
            if o.state == OpinionState::Triaged {
                Step::Annotate("triage")
            } else {
                Step::Transition(OpinionAction::Triage)
            }
        }
        Act::Assign { unit_code } => {
            if !analyst(p) {
                return Ok(Err(Refusal("act_analysts_only")));
            }
            let Some(u) = app.store.unit_by_code(unit_code.trim()).await? else {
                return Ok(Err(Refusal("act_unknown_unit")));
            };
            if !p.scope.contains(u.id) {
                return Ok(Err(Refusal("act_unknown_unit")));
            }
            let category = o.category;
            // A complaint about a station or its officers is handled by the bureau above
            // it, never by the station alone.
            if category == Category::Conduct
                && !matches!(u.kind, UnitKind::CountyBureau | UnitKind::CityBureau)
            {
                return Ok(Err(Refusal("act_conduct_to_county")));
            }
            match u.kind {
                UnitKind::Department => changes.department_id = Some(u.id),
                UnitKind::Window => return Ok(Err(Refusal("act_unknown_unit"))),
                _ => changes.unit_id = Some(u.id),
            }
            detail = Some(format!("unit={}", u.code));
            Step::Transition(OpinionAction::Assign)
        }
        Act::Accept => {
            // Sign-off starts the clock: the deadline counts from now, in working days.
            let days = default_response_working_days(o.category, o.urgency);
            changes.due_at = Some(
                app.calendar
                    .deadline(now, days)
                    .map_err(|e| AppError::Refused(format!("deadline: {e}")))?,
            );
            Step::Transition(OpinionAction::Accept)
        }
        Act::Return { reason } => {
            let reason = match text(reason, 2, 500) {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
            detail = Some(reason);
            Step::Transition(OpinionAction::Return)
        }
        Act::Respond { text: t } => {
            let t = match text(t, 2, 5000) {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
            detail = Some(t);
            Step::Transition(OpinionAction::Respond)
        }
        Act::Notify => Step::Transition(OpinionAction::Notify),
        Act::Close { verdict } => {
            changes.verdict = Some(*verdict);
            detail = Some(format!("verdict={}", verdict.code()));
            Step::Transition(OpinionAction::Close)
        }
        Act::Reopen { reason } => {
            // Reopened under the supervision of the level above, after a dissatisfied
            // verdict or by a supervising analyst's decision.
            if o.verdict != Some(Verdict::Dissatisfied) && !supervises(p, &o) {
                return Ok(Err(Refusal("act_reopen_needs_dissatisfied")));
            }
            let reason = match text(reason, 2, 500) {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
            changes.escalation = Some(up(o.escalation));
            detail = Some(reason);
            Step::Transition(OpinionAction::Reopen)
        }
        Act::Escalate { reason } => {
            if !analyst(p) || o.escalation == Escalation::City {
                return Ok(Err(Refusal("act_cannot_escalate")));
            }
            let reason = match text(reason, 2, 500) {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
            changes.escalation = Some(up(o.escalation));
            detail = Some(reason);
            Step::Annotate("escalate")
        }
        Act::MarkKey => {
            if !analyst(p) {
                return Ok(Err(Refusal("act_analysts_only")));
            }
            changes.key_opinion = Some(true);
            Step::Annotate("mark_key")
        }
        Act::RequestExtension { days, reason } => {
            if o.state != OpinionState::Accepted {
                return Ok(Err(Refusal("act_extension_when_accepted")));
            }
            if *days == 0 || *days > MAX_EXTENDED_WORKING_DAYS {
                return Ok(Err(Refusal("act_extension_days")));
            }
            let reason = match text(reason, 2, 500) {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
            detail = Some(format!("days={days} {reason}"));
            Step::Annotate("request_extension")
        }
        Act::ApproveExtension { days } => {
            if !supervises(p, &o) {
                return Ok(Err(Refusal("act_supervisor_only")));
            }
            if o.state != OpinionState::Accepted {
                return Ok(Err(Refusal("act_extension_when_accepted")));
            }
            // In all, at most 15 working days from sign-off (or receipt, if never signed).
            let start = accepted_at(app, &o).await?.unwrap_or(o.received_at);
            let base = o.due_at.unwrap_or(start);
            let target = app
                .calendar
                .deadline(base, *days)
                .map_err(|e| AppError::Refused(format!("deadline: {e}")))?;
            let cap = app
                .calendar
                .deadline(start, MAX_EXTENDED_WORKING_DAYS)
                .map_err(|e| AppError::Refused(format!("deadline: {e}")))?;
            if *days == 0 || target > cap {
                return Ok(Err(Refusal("act_extension_days")));
            }
            changes.due_at = Some(target);
            detail = Some(format!("days={days}"));
            Step::Annotate("extend")
        }
    };
    // An act the state does not allow is a refusal the page explains.
    let state = match app
        .store
        .apply_to_opinion(o.id, step, &p.actor(), now, detail.as_deref(), &changes)
        .await
    {
        Ok(s) => s,
        Err(StoreError::Transition(_)) => return Ok(Err(Refusal("act_not_now"))),
        Err(StoreError::Conflict(_)) => return Ok(Err(Refusal("act_conflict"))),
        Err(e) => return Err(e.into()),
    };
    let audit_action = match act {
        Act::Assign { .. } => AuditAction::Assignment,
        _ => AuditAction::StateChange,
    };
    record(
        app,
        now,
        &p.actor(),
        audit_action,
        &format!("opinion:{}", o.tracking_code),
        &format!("act={} state={}", act.code(), state.code()),
    )
    .await?;
    // A merged matter answers every original channel: the same answer and closing reach
    // each original merged into this one, and their residents the answered notice.
    if matches!(act, Act::Respond { .. } | Act::Close { .. }) {
        crate::merge::echo(app, &o, act.code(), detail.as_deref(), &p.actor(), now).await?;
    }
    Ok(Ok(state))
}

/// When the matter was last signed off, from its events.
async fn accepted_at(app: &App, o: &OpinionRow) -> Result<Option<DateTime<Utc>>> {
    let events = app
        .store
        .events_of(minyi_core::event::SubjectKind::Opinion, o.id)
        .await?;
    Ok(events
        .iter()
        .rev()
        .find(|e| e.action == "accept")
        .map(|e| e.at))
}

/// The acts the page offers for a matter in its state to this principal (the app still
/// checks each when it arrives).
pub fn offered(p: &Principal, o: &OpinionRow) -> Vec<&'static str> {
    use OpinionState as S;
    if !p.may(Permission::HandleOpinions) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let a = analyst(p);
    match o.state {
        S::Received if a => out.push("triage"),
        S::Triaged if a => out.extend(["triage", "assign"]),
        S::Assigned => out.extend(["accept", "return"]),
        S::Accepted => out.extend(["respond", "return", "request_extension"]),
        S::Responded => out.extend(["notify", "close"]),
        S::Notified => out.extend(["close", "reopen"]),
        S::Closed if o.verdict == Some(Verdict::Dissatisfied) || supervises(p, o) => {
            out.push("reopen")
        }
        _ => {}
    }
    if o.state == S::Accepted && supervises(p, o) {
        out.push("extend");
    }
    if a && o.state.is_open() {
        if !o.key_opinion {
            out.push("mark_key");
        }
        if o.escalation != Escalation::City {
            out.push("escalate");
        }
    }
    out
}

/// The resident's own verdict, given on the tracking page with the tracking code: closes
/// an answered matter.
pub async fn resident_verdict(
    app: &App,
    tracking_code: &str,
    verdict: Verdict,
    now: DateTime<Utc>,
) -> Result<std::result::Result<OpinionState, Refusal>> {
    let code =
        minyi_core::opinion::TrackingCode::parse(tracking_code).map_err(|_| AppError::NotFound)?;
    let o = app
        .store
        .opinion_by_tracking_code(&code)
        .await?
        .ok_or(AppError::NotFound)?;
    if o.state == OpinionState::Merged {
        return crate::merge::resident_verdict_on_merged(app, &o, verdict, now).await;
    }
    if !matches!(o.state, OpinionState::Responded | OpinionState::Notified) {
        return Ok(Err(Refusal("verdict_not_now")));
    }
    let changes = Changes {
        verdict: Some(verdict),
        ..Default::default()
    };
    match app
        .store
        .apply_to_opinion(
            o.id,
            Step::Transition(OpinionAction::Close),
            "resident",
            now,
            Some(&format!("verdict={}", verdict.code())),
            &changes,
        )
        .await
    {
        Ok(s) => Ok(Ok(s)),
        Err(StoreError::Transition(_)) | Err(StoreError::Conflict(_)) => {
            Ok(Err(Refusal("verdict_not_now")))
        }
        Err(e) => Err(e.into()),
    }
}
