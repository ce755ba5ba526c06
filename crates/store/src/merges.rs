//! Triage records, near-duplicate merge proposals and merged matters: what the classifier
//! said at intake, the bounded candidate query a new opinion is compared against, the
//! proposals and their decisions, and the copies of a primary's answer and closing that
//! reach every original merged into it.
//!
//! Decisions are checked here only as far as the data goes (a proposal decided once, the
//! lifecycle via `minyi_core::opinion::transition`); who may decide is the app's rule.

use chrono::{DateTime, Utc};
use minyi_core::event::{NewEvent, SubjectKind};
use minyi_core::opinion::{OpinionAction, OpinionState, transition};
use minyi_core::taxonomy::{Category, DepartmentKind, Sentiment, Urgency};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{Result, StoreError};
use crate::opinions::{OpinionRow, SELECT, row};
use crate::{Store, from_ms, ms};

/// What the classifier said about one opinion at intake.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TriageRecord {
    pub opinion_id: i64,
    pub at: DateTime<Utc>,
    /// `rules` or `model`.
    pub source: String,
    pub category: Category,
    pub sentiment: Sentiment,
    pub urgency: Urgency,
    pub department: Option<DepartmentKind>,
    pub police: bool,
    /// Confidence of the category in thousandths.
    pub confidence_permille: i64,
    pub needs_review: bool,
    pub explanation: String,
    /// The sender's own category was kept over this suggestion.
    pub overridden: bool,
}

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalState {
    Proposed,
    Accepted,
    Rejected,
}

impl ProposalState {
    pub fn code(self) -> &'static str {
        match self {
            ProposalState::Proposed => "proposed",
            ProposalState::Accepted => "accepted",
            ProposalState::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Result<ProposalState> {
        match s {
            "proposed" => Ok(ProposalState::Proposed),
            "accepted" => Ok(ProposalState::Accepted),
            "rejected" => Ok(ProposalState::Rejected),
            other => Err(StoreError::Corrupt(format!(
                "merge proposal state `{other}`"
            ))),
        }
    }
}

/// A proposal that `opinion_id` repeats `candidate_id` (the earlier matter, the primary).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProposalRow {
    pub id: i64,
    pub opinion_id: i64,
    pub candidate_id: i64,
    /// Similarity in thousandths.
    pub score_permille: i64,
    pub proposed_at: DateTime<Utc>,
    pub state: ProposalState,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

const PROPOSAL_COLS: &str = "p.id, p.opinion_id, p.candidate_id, p.score_permille, p.proposed_at, p.state, \
     p.decided_by, p.decided_at";

fn proposal(r: &AnyRow) -> Result<ProposalRow> {
    Ok(ProposalRow {
        id: r.try_get("id")?,
        opinion_id: r.try_get("opinion_id")?,
        candidate_id: r.try_get("candidate_id")?,
        score_permille: r.try_get("score_permille")?,
        proposed_at: from_ms(r.try_get("proposed_at")?)?,
        state: ProposalState::parse(&r.try_get::<String, _>("state")?)?,
        decided_by: r.try_get("decided_by")?,
        decided_at: r
            .try_get::<Option<i64>, _>("decided_at")?
            .map(from_ms)
            .transpose()?,
    })
}

/// The states a matter can still be merged in (the lifecycle allows `merge` from these).
pub const MERGEABLE: [OpinionState; 4] = [
    OpinionState::Received,
    OpinionState::Triaged,
    OpinionState::Assigned,
    OpinionState::Accepted,
];

fn mergeable_list() -> String {
    MERGEABLE
        .iter()
        .map(|s| format!("'{}'", s.code()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What accepting a proposal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    /// The duplicate is merged into the primary.
    Merged { duplicate: i64, primary: i64 },
    /// The proposal was already decided.
    AlreadyDecided(ProposalState),
    /// The primary can no longer absorb anything (merged, withdrawn, invalid or closed).
    PrimaryGone(OpinionState),
}

/// [`Store::record_triage`] inside the caller's transaction (intake keeps the record in
/// the opinion's own transaction).
pub(crate) async fn record_triage_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    t: &TriageRecord,
) -> Result<()> {
    sqlx::query(
            "INSERT INTO opinion_triage (opinion_id, at, source, category, sentiment, urgency, department, \
               police, confidence_permille, needs_review, explanation, overridden) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING",
        )
        .bind(t.opinion_id)
        .bind(ms(t.at))
        .bind(t.source.clone())
        .bind(t.category.code())
        .bind(t.sentiment.code())
        .bind(t.urgency.code())
        .bind(t.department.map(|d| d.code()))
        .bind(i64::from(t.police))
        .bind(t.confidence_permille.clamp(0, 1000))
        .bind(i64::from(t.needs_review))
        .bind(t.explanation.clone())
        .bind(i64::from(t.overridden))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// Keeps what the classifier said about an opinion; a second record for the same
    /// opinion (a retried intake) is ignored.
    pub async fn record_triage(&self, t: &TriageRecord) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        record_triage_in(&mut tx, t).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The classifier's record for an opinion, if one was kept.
    pub async fn triage_of(&self, opinion_id: i64) -> Result<Option<TriageRecord>> {
        let r = sqlx::query(
            "SELECT opinion_id, at, source, category, sentiment, urgency, department, police, \
               confidence_permille, needs_review, explanation, overridden \
             FROM opinion_triage WHERE opinion_id = $1",
        )
        .bind(opinion_id)
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = r else { return Ok(None) };
        Ok(Some(TriageRecord {
            opinion_id: r.try_get("opinion_id")?,
            at: from_ms(r.try_get("at")?)?,
            source: r.try_get("source")?,
            category: Category::parse(&r.try_get::<String, _>("category")?)?,
            sentiment: Sentiment::parse(&r.try_get::<String, _>("sentiment")?)?,
            urgency: Urgency::parse(&r.try_get::<String, _>("urgency")?)?,
            department: r
                .try_get::<Option<String>, _>("department")?
                .map(|d| DepartmentKind::parse(&d))
                .transpose()?,
            police: r.try_get::<i64, _>("police")? != 0,
            confidence_permille: r.try_get("confidence_permille")?,
            needs_review: r.try_get::<i64, _>("needs_review")? != 0,
            explanation: r.try_get("explanation")?,
            overridden: r.try_get::<i64, _>("overridden")? != 0,
        }))
    }

    /// The department units of one kind as (id, parent id), oldest first: the caller
    /// picks the one beside the matter's county, or the city's.
    pub async fn department_units(&self, kind: DepartmentKind) -> Result<Vec<(i64, Option<i64>)>> {
        sqlx::query(
            "SELECT id, parent_id FROM units WHERE kind = 'department' AND department = $1 ORDER BY id",
        )
        .bind(kind.code())
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("parent_id")?)))
        .collect()
    }

    /// Opinions after `after_id` received since `since`, oldest first: the duplicate
    /// sweep's next batch.
    pub async fn opinions_to_sweep(
        &self,
        after_id: i64,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT id FROM opinions WHERE id > $1 AND received_at >= $2 ORDER BY id LIMIT $3",
        )
        .bind(after_id)
        .bind(ms(since))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok(r.try_get::<i64, _>(0)?)).collect()
    }

    /// Open matters a new opinion may repeat: handled by the same unit or placed in the
    /// same area, received in `[since, until]`, still mergeable, newest first, at most
    /// `limit` per key. Bounded and indexed (unit, received) and (area), so intake stays
    /// cheap however large the store grows. Returns (id, text).
    pub async fn merge_candidates(
        &self,
        exclude_id: i64,
        unit_id: Option<i64>,
        area_id: Option<i64>,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<(i64, String)>> {
        let mut out: Vec<(i64, String)> = Vec::new();
        for (col, key) in [("unit_id", unit_id), ("area_id", area_id)] {
            let Some(key) = key else { continue };
            let sql = format!(
                "SELECT id, text FROM opinions WHERE {col} = $1 AND received_at >= $2 AND received_at <= $3 \
                 AND id <> $4 AND state IN ({}) ORDER BY received_at DESC, id DESC LIMIT $5",
                mergeable_list()
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(key)
                .bind(ms(since))
                .bind(ms(until))
                .bind(exclude_id)
                .bind(limit)
                .fetch_all(self.pool())
                .await?;
            for r in rows {
                let id: i64 = r.try_get("id")?;
                if !out.iter().any(|(x, _)| *x == id) {
                    out.push((id, r.try_get("text")?));
                }
            }
        }
        Ok(out)
    }

    /// Stores proposals that `opinion_id` repeats each candidate (id, score in
    /// thousandths); a pair proposed before is left as it is. Returns how many are new.
    pub async fn propose_merges(
        &self,
        opinion_id: i64,
        candidates: &[(i64, i64)],
        at: DateTime<Utc>,
    ) -> Result<u64> {
        let mut n = 0;
        let mut tx = self.pool().begin().await?;
        for &(candidate, score) in candidates {
            n += sqlx::query(
                "INSERT INTO merge_proposals (opinion_id, candidate_id, score_permille, proposed_at, state) \
                 VALUES ($1, $2, $3, $4, 'proposed') ON CONFLICT DO NOTHING",
            )
            .bind(opinion_id)
            .bind(candidate)
            .bind(score.clamp(0, 1000))
            .bind(ms(at))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(n)
    }

    pub async fn merge_proposal(&self, id: i64) -> Result<Option<ProposalRow>> {
        let sql = format!("SELECT {PROPOSAL_COLS} FROM merge_proposals p WHERE p.id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(proposal)
            .transpose()
    }

    /// Every proposal naming an opinion on either side, newest first.
    pub async fn proposals_of(&self, opinion_id: i64) -> Result<Vec<ProposalRow>> {
        let sql = format!(
            "SELECT {PROPOSAL_COLS} FROM merge_proposals p WHERE p.opinion_id = $1 OR p.candidate_id = $1 \
             ORDER BY p.proposed_at DESC, p.id DESC"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(opinion_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(proposal)
            .collect()
    }

    /// Undecided proposals whose two matters are both still mergeable and both handled by
    /// one of `unit_ids` (an analyst's scope), newest first. An empty scope asks nothing.
    pub async fn open_proposals_in_units(
        &self,
        unit_ids: &[i64],
        limit: i64,
    ) -> Result<Vec<ProposalRow>> {
        if unit_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids = unit_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let marks = marks.join(", ");
        let open = mergeable_list();
        let sql = format!(
            "SELECT {PROPOSAL_COLS} FROM merge_proposals p \
             JOIN opinions o ON o.id = p.opinion_id JOIN opinions c ON c.id = p.candidate_id \
             WHERE p.state = 'proposed' AND o.state IN ({open}) AND c.state IN ({open}) \
               AND o.unit_id IN ({marks}) AND c.unit_id IN ({marks}) \
             ORDER BY p.proposed_at DESC, p.id DESC LIMIT ${}",
            ids.len() + 1
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ids {
            q = q.bind(id);
        }
        q.bind(limit)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(proposal)
            .collect()
    }

    /// Accepts a proposal in one transaction: the duplicate moves to `merged` through the
    /// lifecycle and points at the primary, both matters get an event, the proposal
    /// records who decided. A concurrent decision or change is a conflict, not a repeat.
    pub async fn accept_merge(
        &self,
        proposal_id: i64,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<MergeOutcome> {
        let mut tx = match self.backend() {
            crate::Backend::Sqlite => self.pool().begin_with("BEGIN IMMEDIATE").await?,
            crate::Backend::Postgres => self.pool().begin().await?,
        };
        let lock = match self.backend() {
            crate::Backend::Sqlite => "",
            crate::Backend::Postgres => " FOR UPDATE",
        };
        let sql = format!("SELECT {PROPOSAL_COLS} FROM merge_proposals p WHERE p.id = $1{lock}");
        let p = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(proposal_id)
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(proposal)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("merge proposal {proposal_id}"),
            })?;
        if p.state != ProposalState::Proposed {
            return Ok(MergeOutcome::AlreadyDecided(p.state));
        }
        let state_of = |id: i64| {
            let sql = format!("SELECT state, tracking_code FROM opinions WHERE id = $1{lock}");
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id)
        };
        let dup = state_of(p.opinion_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        let primary = state_of(p.candidate_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        let dup_state = OpinionState::parse(&dup.try_get::<String, _>("state")?)?;
        let dup_code: String = dup.try_get("tracking_code")?;
        let primary_state = OpinionState::parse(&primary.try_get::<String, _>("state")?)?;
        let primary_code: String = primary.try_get("tracking_code")?;
        if !primary_state.is_open() {
            return Ok(MergeOutcome::PrimaryGone(primary_state));
        }
        let to = transition(dup_state, OpinionAction::Merge)?;
        let changed = sqlx::query(
            "UPDATE opinions SET state = $1, merged_into = $2, closed_at = $3 WHERE id = $4 AND state = $5",
        )
        .bind(to.code())
        .bind(p.candidate_id)
        .bind(ms(at))
        .bind(p.opinion_id)
        .bind(dup_state.code())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Err(StoreError::Conflict(format!(
                "opinion {} changed while it was merged; reload and try again",
                p.opinion_id
            )));
        }
        let decided = sqlx::query(
            "UPDATE merge_proposals SET state = 'accepted', decided_by = $1, decided_at = $2 \
             WHERE id = $3 AND state = 'proposed'",
        )
        .bind(actor.to_owned())
        .bind(ms(at))
        .bind(p.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if decided != 1 {
            return Err(StoreError::Conflict(format!(
                "merge proposal {} was decided meanwhile",
                p.id
            )));
        }
        let score = format!("{:.2}", p.score_permille as f64 / 1000.0);
        let events = [
            NewEvent {
                subject: SubjectKind::Opinion,
                subject_id: p.opinion_id,
                at,
                actor: actor.to_owned(),
                action: OpinionAction::Merge.code().into(),
                from_state: Some(dup_state.code().into()),
                to_state: Some(to.code().into()),
                detail: Some(format!("into={primary_code} score={score}")),
            },
            NewEvent {
                subject: SubjectKind::Opinion,
                subject_id: p.candidate_id,
                at,
                actor: actor.to_owned(),
                action: "merge_absorb".into(),
                from_state: Some(primary_state.code().into()),
                to_state: Some(primary_state.code().into()),
                detail: Some(format!("from={dup_code} score={score}")),
            },
        ];
        crate::records::insert_events_in(&mut tx, self.backend(), &events).await?;
        tx.commit().await?;
        Ok(MergeOutcome::Merged {
            duplicate: p.opinion_id,
            primary: p.candidate_id,
        })
    }

    /// Rejects an undecided proposal; false when it was already decided.
    pub async fn reject_merge(
        &self,
        proposal_id: i64,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE merge_proposals SET state = 'rejected', decided_by = $1, decided_at = $2 \
             WHERE id = $3 AND state = 'proposed'",
        )
        .bind(actor.to_owned())
        .bind(ms(at))
        .bind(proposal_id)
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1)
    }

    /// The originals merged into a primary, oldest first.
    pub async fn merged_into(&self, primary_id: i64) -> Result<Vec<OpinionRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE merged_into = $1 ORDER BY received_at, id"
        ));
        sqlx::query(sql)
            .bind(primary_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(row)
            .collect()
    }

    /// Copies one step of a primary onto its merged originals, in one transaction: an
    /// event with the same action and detail on each (their state stays `merged`), and
    /// when `closing`, the primary's closing time. Returns the originals touched.
    pub async fn echo_to_merged(
        &self,
        primary_id: i64,
        action: &str,
        detail: Option<&str>,
        actor: &str,
        at: DateTime<Utc>,
        closing: bool,
    ) -> Result<Vec<OpinionRow>> {
        let originals = self.merged_into(primary_id).await?;
        if originals.is_empty() {
            return Ok(originals);
        }
        let mut tx = self.pool().begin().await?;
        let merged = OpinionState::Merged.code();
        let events: Vec<NewEvent> = originals
            .iter()
            .map(|o| NewEvent {
                subject: SubjectKind::Opinion,
                subject_id: o.id,
                at,
                actor: actor.to_owned(),
                action: action.to_owned(),
                from_state: Some(merged.into()),
                to_state: Some(merged.into()),
                detail: detail.map(str::to_owned),
            })
            .collect();
        crate::records::insert_events_in(&mut tx, self.backend(), &events).await?;
        if closing {
            sqlx::query("UPDATE opinions SET closed_at = $1 WHERE merged_into = $2")
                .bind(ms(at))
                .bind(primary_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(originals)
    }
}
