//! Events, ratings, 110 incidents, cases, permit transactions, and the counts pages show.

use chrono::{DateTime, Utc};
use minyi_core::event::{NewEvent, SubjectKind};
use minyi_core::records::{NewCase, NewIncident, NewPermit, NewRating};
use sqlx::Row;

use crate::bulk::{add, insert_all, insert_in};
use crate::error::Result;
use crate::{Store, from_ms, ms};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EventRow {
    pub id: i64,
    pub subject: SubjectKind,
    pub subject_id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub detail: Option<String>,
}

/// Row counts of the main tables.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub units: i64,
    pub areas: i64,
    pub officers: i64,
    pub opinions: i64,
    pub open_opinions: i64,
    pub events: i64,
    pub ratings: i64,
    pub incidents: i64,
    pub non_police_incidents: i64,
    pub cases: i64,
    pub permits: i64,
    pub callbacks: i64,
    pub synthetic_units: i64,
}

/// Live counts for one handling unit.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UnitActivity {
    pub unit_id: i64,
    pub opinions: i64,
    pub open: i64,
    pub overdue: i64,
}

const EVENT_COLS: [&str; 8] = [
    "subject",
    "subject_id",
    "at",
    "actor",
    "action",
    "from_state",
    "to_state",
    "detail",
];

/// Appends events inside the caller's transaction, so a change and its history commit together.
pub(crate) async fn insert_events_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: crate::Backend,
    events: &[NewEvent],
) -> Result<u64> {
    insert_in(tx, backend, "events", &EVENT_COLS, events, &|e, a| {
        add(a, e.subject.code())?;
        add(a, e.subject_id)?;
        add(a, ms(e.at))?;
        add(a, e.actor.clone())?;
        add(a, e.action.clone())?;
        add(a, e.from_state.clone())?;
        add(a, e.to_state.clone())?;
        add(a, e.detail.clone())
    })
    .await
}

impl Store {
    /// Appends events in one transaction.
    pub async fn insert_events(&self, events: &[NewEvent]) -> Result<u64> {
        let mut tx = self.pool().begin().await?;
        let n = insert_events_in(&mut tx, self.backend(), events).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// The history of one subject, oldest first.
    pub async fn events_of(&self, subject: SubjectKind, subject_id: i64) -> Result<Vec<EventRow>> {
        let rows = sqlx::query(
            "SELECT id, subject, subject_id, at, actor, action, from_state, to_state, detail FROM events \
             WHERE subject = $1 AND subject_id = $2 ORDER BY at, id",
        )
        .bind(subject.code())
        .bind(subject_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(EventRow {
                    id: r.try_get("id")?,
                    subject: SubjectKind::parse(&r.try_get::<String, _>("subject")?)?,
                    subject_id: r.try_get("subject_id")?,
                    at: from_ms(r.try_get("at")?)?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    from_state: r.try_get("from_state")?,
                    to_state: r.try_get("to_state")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }

    /// Stores ratings; a repeated client event id is skipped, so a device that retries
    /// after a lost answer never counts a rating twice. Returns how many were new.
    pub async fn insert_ratings(&self, ratings: &[NewRating]) -> Result<u64> {
        insert_all(
            self,
            "ratings",
            &[
                "window_id",
                "channel",
                "device",
                "client_event_id",
                "scale",
                "level",
                "reason",
                "rated_at",
                "synthetic",
            ],
            ratings,
            &|r, a| {
                add(a, r.window_id)?;
                add(a, r.channel.code())?;
                add(a, r.device.clone())?;
                add(a, r.client_event_id.clone())?;
                add(a, r.level.scale.levels() as i64)?;
                add(a, r.level.level as i64)?;
                add(a, r.reason.clone())?;
                add(a, ms(r.rated_at))?;
                add(a, r.synthetic as i64)
            },
        )
        .await
    }

    /// Stores 110 incidents; an external id seen before is skipped.
    pub async fn insert_incidents(&self, incidents: &[NewIncident]) -> Result<u64> {
        insert_all(
            self,
            "incidents",
            &[
                "external_id",
                "received_at",
                "area_id",
                "unit_id",
                "category",
                "police_matter",
                "department",
                "summary",
                "closed_at",
                "resolved",
                "synthetic",
            ],
            incidents,
            &|i, a| {
                add(a, i.external_id.clone())?;
                add(a, ms(i.received_at))?;
                add(a, i.area_id)?;
                add(a, i.unit_id)?;
                add(a, i.category.code())?;
                add(a, i.police_matter as i64)?;
                add(a, i.department.map(|d| d.code()))?;
                add(a, i.summary.clone())?;
                add(a, i.closed_at.map(ms))?;
                add(a, i.resolved.map(|r| r as i64))?;
                add(a, i.synthetic as i64)
            },
        )
        .await
    }

    /// Stores cases after checking each timeline; an external id seen before is skipped.
    pub async fn insert_cases(&self, cases: &[NewCase]) -> Result<u64> {
        for c in cases {
            c.check()?;
        }
        insert_all(
            self,
            "cases",
            &[
                "external_id",
                "kind",
                "station_id",
                "area_id",
                "reported_at",
                "filed_at",
                "solved_at",
                "closed_at",
                "loss_fen",
                "recovered_fen",
                "synthetic",
            ],
            cases,
            &|c, a| {
                add(a, c.external_id.clone())?;
                add(a, c.kind.code())?;
                add(a, c.station_id)?;
                add(a, c.area_id)?;
                add(a, ms(c.reported_at))?;
                add(a, c.filed_at.map(ms))?;
                add(a, c.solved_at.map(ms))?;
                add(a, c.closed_at.map(ms))?;
                add(a, c.loss_fen)?;
                add(a, c.recovered_fen)?;
                add(a, c.synthetic as i64)
            },
        )
        .await
    }

    /// Stores permit transactions; an external id seen before is skipped.
    pub async fn insert_permits(&self, permits: &[NewPermit]) -> Result<u64> {
        insert_all(
            self,
            "permits",
            &[
                "external_id",
                "kind",
                "window_id",
                "applied_at",
                "promised_at",
                "issued_at",
                "synthetic",
            ],
            permits,
            &|p, a| {
                add(a, p.external_id.clone())?;
                add(a, p.kind.code())?;
                add(a, p.window_id)?;
                add(a, ms(p.applied_at))?;
                add(a, ms(p.promised_at))?;
                add(a, p.issued_at.map(ms))?;
                add(a, p.synthetic as i64)
            },
        )
        .await
    }

    pub async fn counts(&self) -> Result<Counts> {
        let r = sqlx::query(
            "SELECT \
               (SELECT COUNT(*) FROM units), \
               (SELECT COUNT(*) FROM areas), \
               (SELECT COUNT(*) FROM officers), \
               (SELECT COUNT(*) FROM opinions), \
               (SELECT COUNT(*) FROM opinions WHERE state NOT IN ('closed', 'merged', 'withdrawn', 'invalid')), \
               (SELECT COUNT(*) FROM events), \
               (SELECT COUNT(*) FROM ratings), \
               (SELECT COUNT(*) FROM incidents), \
               (SELECT COUNT(*) FROM incidents WHERE police_matter = 0), \
               (SELECT COUNT(*) FROM cases), \
               (SELECT COUNT(*) FROM permits), \
               (SELECT COUNT(*) FROM callbacks), \
               (SELECT COUNT(*) FROM units WHERE synthetic <> 0)",
        )
        .fetch_one(self.pool())
        .await?;
        let g = |i: usize| r.try_get::<i64, _>(i);
        Ok(Counts {
            units: g(0)?,
            areas: g(1)?,
            officers: g(2)?,
            opinions: g(3)?,
            open_opinions: g(4)?,
            events: g(5)?,
            ratings: g(6)?,
            incidents: g(7)?,
            non_police_incidents: g(8)?,
            cases: g(9)?,
            permits: g(10)?,
            callbacks: g(11)?,
            synthetic_units: g(12)?,
        })
    }

    /// Opinion counts per handling unit: total, open, and open past their deadline at `now`.
    pub async fn unit_activity(&self, now: DateTime<Utc>) -> Result<Vec<UnitActivity>> {
        let rows = sqlx::query(
            "SELECT unit_id, COUNT(*), \
               SUM(CASE WHEN closed_at IS NULL THEN 1 ELSE 0 END), \
               SUM(CASE WHEN closed_at IS NULL AND due_at < $1 THEN 1 ELSE 0 END) \
             FROM opinions WHERE unit_id IS NOT NULL GROUP BY unit_id ORDER BY unit_id",
        )
        .bind(ms(now))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(UnitActivity {
                    unit_id: r.try_get(0)?,
                    opinions: r.try_get(1)?,
                    open: r.try_get(2)?,
                    overdue: r.try_get(3)?,
                })
            })
            .collect()
    }
}
