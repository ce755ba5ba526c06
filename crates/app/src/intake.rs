//! Receiving one opinion from a resident or an integration: parse, place it in an area
//! and at the responsible station, set the first deadline, seal the resident's identity,
//! and store it durably with its "received" event — or say exactly what was wrong.
//!
//! Triage (`crate::triage`) classifies the text and routes the matter: the sender's own
//! category wins, a conduct complaint goes to the county bureau above the station, a
//! non-police matter to its linked department, urgent matters are due the same day. The
//! triage record commits with the opinion; near-duplicates are proposed afterwards, off
//! the request path (`crate::merge::sweep`).

use chrono::{DateTime, Utc};
use minyi_core::opinion::{NewOpinion, OpinionState, OpinionText, TrackingCode};
use minyi_core::taxonomy::{Category, Channel};
use minyi_store::{InsertOutcome, IntakeWrite, NewAudit, Store};
use minyi_vault::DataKey;
use tokio::sync::{mpsc, oneshot};

use crate::audit::AuditAction;
use crate::privacy::{ContactInput, seal};
use crate::{App, AppError, Result};

/// A submission, already parsed at the edge.
#[derive(Debug, Clone)]
pub struct Submission {
    pub channel: Channel,
    pub text: OpinionText,
    pub category: Option<Category>,
    pub area_code: Option<String>,
    /// The sender's idempotency key: the same key again returns the first tracking code.
    pub client_key: Option<String>,
    pub contact: ContactInput,
    /// The API key's unit, for integrations bound to one station: an area outside it is refused.
    pub limit_to_units: Option<std::sync::Arc<minyi_core::access::Scope>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub id: i64,
    pub tracking_code: TrackingCode,
    pub due_at: Option<DateTime<Utc>>,
    /// True when the idempotency key had been seen: nothing new was stored.
    pub repeated: bool,
}

fn random_bits() -> u64 {
    let h = minyi_vault::token_hash(&minyi_vault::new_secret_token());
    u64::from_str_radix(&h[..16], 16).unwrap_or(0)
}

pub async fn submit(app: &App, s: Submission, actor: &str, now: DateTime<Utc>) -> Result<Receipt> {
    let area = match s
        .area_code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        None => None,
        Some(code) => Some(
            app.store
                .area_by_code(code)
                .await?
                .ok_or_else(|| AppError::Invalid(format!("unknown area `{code}`")))?,
        ),
    };
    let unit_id = area.as_ref().and_then(|a| a.station_id);
    if let Some(scope) = &s.limit_to_units
        && !unit_id.is_some_and(|u| scope.contains(u))
    {
        return Err(AppError::Invalid(
            "the area is outside the unit this key was issued for".into(),
        ));
    }
    let triage = app.triage.classify(s.text.as_str());
    let routing = crate::triage::apply(app, &triage, s.category, unit_id).await?;
    let days = routing.working_days;
    let due_at = app
        .calendar
        .deadline(now, days)
        .map_err(|e| AppError::Refused(format!("deadline: {e}")))?;
    let client_key = s
        .client_key
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned);
    let contact = (!s.contact.is_empty()).then(|| seal(&app.key, &s.contact));
    for _ in 0..5 {
        let code = TrackingCode::from_bits(random_bits());
        let o = NewOpinion {
            tracking_code: code.clone(),
            client_key: client_key.clone(),
            channel: s.channel,
            text: s.text.clone(),
            category: routing.category,
            sentiment: routing.sentiment,
            urgency: routing.urgency,
            department: routing.department,
            area_id: area.as_ref().map(|a| a.id),
            unit_id: routing.unit_id,
            department_id: routing.department_id,
            state: OpinionState::Received,
            escalation: routing.escalation,
            key_opinion: false,
            received_at: now,
            due_at: Some(due_at),
            closed_at: None,
            verdict: None,
            synthetic: false,
        };
        // A resident who left a phone number hears that it was received; the notice
        // commits with the opinion, so it is neither lost nor sent for a matter that
        // was not stored.
        let notice = match &s.contact.phone {
            Some(phone) => Some(crate::notify::received_message(
                app,
                &code,
                Some(due_at),
                phone,
            )?),
            None => None,
        };
        let write = IntakeWrite {
            opinion: o,
            contact: contact.clone(),
            audit: NewAudit {
                at: now,
                actor: actor.to_owned(),
                action: AuditAction::OpinionReceived.code().to_owned(),
                subject: format!("opinion:{code}"),
                detail: format!("channel={}", s.channel.code()),
            },
            notice,
            // Kept in the opinion's own transaction: no second commit per request.
            triage: Some(crate::triage::record(&triage, 0, routing.overridden, now)),
        };
        match app.intake.commit(write).await? {
            InsertOutcome::Created(id) => {
                return Ok(Receipt {
                    id,
                    tracking_code: code,
                    due_at: Some(due_at),
                    repeated: false,
                });
            }
            InsertOutcome::Existing(id) => {
                let o = app.store.opinion(id).await?.ok_or(AppError::NotFound)?;
                return Ok(Receipt {
                    id,
                    tracking_code: o.tracking_code,
                    due_at: o.due_at,
                    repeated: true,
                });
            }
            InsertOutcome::CodeTaken => continue,
        }
    }
    Err(AppError::Refused(
        "could not find a free tracking code in five tries".into(),
    ))
}

/// Intake's group commit. One writer task owns intake's writes: each request hands its
/// prepared write over and waits; the writer takes everything that is waiting (up to
/// [`MAX_BATCH`]) and commits it in one transaction, then answers each request. Under
/// load many requests share one fsync; alone, a request waits for nothing but its own
/// commit. A request is acknowledged only after its transaction committed.
#[derive(Clone)]
pub struct Committer {
    jobs: mpsc::Sender<Job>,
}

struct Job {
    write: IntakeWrite,
    reply: oneshot::Sender<Result<InsertOutcome>>,
}

/// Enough to amortise the fsync, small enough that one transaction stays short.
pub const MAX_BATCH: usize = 256;

impl Committer {
    /// Starts the writer on the current tokio runtime; it ends when every handle is gone.
    pub fn start(store: Store, key: std::sync::Arc<DataKey>) -> Committer {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(writer(store, key, rx));
        Committer { jobs }
    }

    pub async fn commit(&self, write: IntakeWrite) -> Result<InsertOutcome> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { write, reply })
            .await
            .map_err(|_| AppError::Refused("the intake writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| AppError::Refused("the intake writer stopped before answering".into()))?
    }
}

async fn writer(store: Store, key: std::sync::Arc<DataKey>, mut rx: mpsc::Receiver<Job>) {
    let seal = move |e: &NewAudit, seq: i64, prev: &str| crate::audit::seal(&key, e, seq, prev);
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let writes: Vec<IntakeWrite> = batch.iter().map(|j| j.write.clone()).collect();
        match store.submit_opinions(&writes, &seal).await {
            Ok(outcomes) => {
                for (job, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            // One bad item must not fail its neighbours: retry each alone, so every
            // request gets its own outcome (and its own error).
            Err(_) if batch.len() > 1 => {
                for job in batch.drain(..) {
                    let one = store
                        .submit_opinions(std::slice::from_ref(&job.write), &seal)
                        .await
                        .map(|mut o| o.remove(0))
                        .map_err(AppError::from);
                    let _ = job.reply.send(one);
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(AppError::Refused(format!(
                        "storing the opinion failed: {msg}"
                    ))));
                }
            }
        }
    }
}
