//! Events: one row for every state change (who, when, from, to, why). Current state is
//! stored for speed; the event history is the truth for timelines and audits.

use chrono::{DateTime, Utc};

use crate::taxonomy::vocabulary;

vocabulary! {
    /// What an event is about.
    SubjectKind, "event subject" {
        Opinion => "opinion", "民意诉求";
        Callback => "callback", "回访";
        Incident => "incident", "110警情";
        Case => "case", "案件";
        Permit => "permit", "证照办理";
        Assessment => "assessment", "考评";
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NewEvent {
    pub subject: SubjectKind,
    pub subject_id: i64,
    pub at: DateTime<Utc>,
    /// Who acted: an account name, `system`, or a machine identity.
    pub actor: String,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    /// Free detail as JSON text (reason, target unit, verdict…).
    pub detail: Option<String>,
}
