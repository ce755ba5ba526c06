//! The audit log: every sensitive act appended to a hash chain sealed with the data key,
//! and the walk that checks the whole chain and names the first entry that was edited,
//! deleted or reordered. Details never hold a resident's identity.

use chrono::{DateTime, Utc};
use minyi_store::{AuditRow, NewAudit};
use minyi_vault::AuditFields;
use minyi_vault::chain::{ChainBreak, Verifier};

use crate::{App, Result};

/// What was done. The codes are stored; keep them stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    SignIn,
    SignInFailed,
    SignOut,
    AccountCreated,
    AccountDisabled,
    AccountEnabled,
    PasswordReset,
    RoleChanged,
    ApiKeyCreated,
    ApiKeyRevoked,
    Reveal,
    OpinionReceived,
    StateChange,
    Assignment,
    Import,
    AssessmentRun,
    AssessmentAppeal,
    /// A briefing drafted, edited or published (`act=` in the detail).
    Briefing,
    Retention,
    DemoLoaded,
}

impl AuditAction {
    pub fn code(self) -> &'static str {
        use AuditAction::*;
        match self {
            SignIn => "sign_in",
            SignInFailed => "sign_in_failed",
            SignOut => "sign_out",
            AccountCreated => "account_created",
            AccountDisabled => "account_disabled",
            AccountEnabled => "account_enabled",
            PasswordReset => "password_reset",
            RoleChanged => "role_changed",
            ApiKeyCreated => "api_key_created",
            ApiKeyRevoked => "api_key_revoked",
            Reveal => "reveal",
            OpinionReceived => "opinion_received",
            StateChange => "state_change",
            Assignment => "assignment",
            Import => "import",
            AssessmentRun => "assessment_run",
            AssessmentAppeal => "assessment_appeal",
            Briefing => "briefing",
            Retention => "retention",
            DemoLoaded => "demo_loaded",
        }
    }
}

/// Appends one entry. `actor` is `user:NAME`, `key:PREFIX`, `cli` or `system`.
pub async fn record(
    app: &App,
    now: DateTime<Utc>,
    actor: &str,
    action: AuditAction,
    subject: &str,
    detail: &str,
) -> Result<AuditRow> {
    let entry = NewAudit {
        at: now,
        actor: actor.to_owned(),
        action: action.code().to_owned(),
        subject: subject.to_owned(),
        detail: detail.to_owned(),
    };
    let key = app.key.clone();
    let e2 = entry.clone();
    let seal = move |seq: i64, prev: &str| seal(&key, &e2, seq, prev);
    Ok(app.store.append_audit(&entry, &seal).await?)
}

/// An entry's hash: the data key's MAC over the entry, its seq and the previous hash.
pub fn seal(key: &minyi_vault::DataKey, e: &NewAudit, seq: i64, prev: &str) -> String {
    key.audit_mac(&AuditFields {
        seq,
        at_ms: e.at.timestamp_millis(),
        actor: &e.actor,
        action: &e.action,
        subject: &e.subject,
        detail: &e.detail,
        prev_hash: prev,
    })
}

/// The outcome of a full walk of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Intact { entries: i64 },
    Broken(ChainBreak),
}

/// Walks the whole log in pages, so a log of millions of entries runs in bounded memory.
pub async fn verify(app: &App) -> Result<Verdict> {
    let mut verifier = Verifier::new(&app.key);
    let mut after = 0i64;
    loop {
        let page = app.store.audit_page(after, 5_000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for r in &page {
            if let Err(b) = verifier.push(&fields(r), &r.hash) {
                return Ok(Verdict::Broken(b));
            }
        }
    }
    let head = app.store.audit_head().await?;
    match verifier.finish(head.as_ref().map(|(s, h)| (*s, h.as_str()))) {
        Ok(entries) => Ok(Verdict::Intact { entries }),
        Err(b) => Ok(Verdict::Broken(b)),
    }
}

fn fields(r: &AuditRow) -> AuditFields<'_> {
    AuditFields {
        seq: r.seq,
        at_ms: r.at.timestamp_millis(),
        actor: &r.actor,
        action: &r.action,
        subject: &r.subject,
        detail: &r.detail,
        prev_hash: &r.prev_hash,
    }
}
