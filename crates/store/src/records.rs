//! Events, ratings, 110 incidents, cases, permit transactions, and the counts pages show;
//! the bulk path of record imports (read the stored records of a batch, write the new and
//! changed ones with their events and contacts in the same transaction); the SQL of the
//! hard indicators and their drill-down lists.
//!
//! No rule lives here: what a row changes is decided by `minyi_core::records`, what counts
//! in an indicator is written down once per indicator in [`indicator_sql`] and used by both
//! the figures and the drill-down, so the two cannot disagree.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use minyi_core::event::{NewEvent, SubjectKind};
use minyi_core::records::{
    CaseKind, ImportedCase, ImportedIncident, ImportedPermit, Indicator, NewCase, NewIncident,
    NewPermit, NewRating, PermitKind, RecordChange, RecordFlags,
};
use minyi_core::taxonomy::{Category, DepartmentKind};
use sqlx::Row;
use sqlx::any::{AnyArguments, AnyRow};

use crate::bulk::{add, args_for, chunk_rows, insert_all, insert_in, insert_sql, reserve_ids};
use crate::contacts::{NewContact, insert_contacts_in};
use crate::error::{Result, StoreError};
use crate::{Backend, Store, from_ms, ms};

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

// ---------------------------------------------------------------------------------------
// Record imports
// ---------------------------------------------------------------------------------------

/// A record kind a file or the API imports: its table, its columns and how to read and
/// write them. Implemented for the three import types of `minyi_core::records`.
pub trait ImportRecord: Clone + Send + Sync + Sized + 'static {
    const TABLE: &'static str;
    const SUBJECT: SubjectKind;
    /// Every data column, in binding order (flags included; `contact_id` and
    /// `changed_at` are added by the store).
    const COLS: &'static [&'static str];
    /// The columns an import may change on a stored record.
    const MUTABLE: &'static [&'static str];
    fn external_id(&self) -> &str;
    fn bind(&self, a: &mut AnyArguments) -> BindResult;
    fn bind_mutable(&self, a: &mut AnyArguments) -> BindResult;
    /// Reads the record from a row selected with [`Self::COLS`] (after `id`, `contact_id`).
    fn read(r: &AnyRow) -> Result<Self>;
}

type BindResult = std::result::Result<(), sqlx::error::BoxDynError>;

fn flag(r: &AnyRow, col: &str) -> Result<bool> {
    Ok(r.try_get::<i64, _>(col)? != 0)
}

fn opt_time(r: &AnyRow, col: &str) -> Result<Option<DateTime<Utc>>> {
    r.try_get::<Option<i64>, _>(col)?.map(from_ms).transpose()
}

fn parse_code<T>(
    r: &AnyRow,
    col: &str,
    parse: fn(&str) -> std::result::Result<T, minyi_core::ParseError>,
) -> Result<T> {
    let v: String = r.try_get(col)?;
    parse(&v).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

impl ImportRecord for ImportedIncident {
    const TABLE: &'static str = "incidents";
    const SUBJECT: SubjectKind = SubjectKind::Incident;
    const COLS: &'static [&'static str] = &[
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
        "domestic_violence",
        "ongoing_danger",
        "notices_opt_out",
    ];
    const MUTABLE: &'static [&'static str] = &[
        "department",
        "closed_at",
        "resolved",
        "domestic_violence",
        "ongoing_danger",
        "notices_opt_out",
    ];
    fn external_id(&self) -> &str {
        &self.incident.external_id
    }
    fn bind(&self, a: &mut AnyArguments) -> BindResult {
        let i = &self.incident;
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
        add(a, i.synthetic as i64)?;
        add(a, self.flags.domestic_violence as i64)?;
        add(a, self.flags.ongoing_danger as i64)?;
        add(a, self.flags.notices_opt_out as i64)
    }
    fn bind_mutable(&self, a: &mut AnyArguments) -> BindResult {
        let i = &self.incident;
        add(a, i.department.map(|d| d.code()))?;
        add(a, i.closed_at.map(ms))?;
        add(a, i.resolved.map(|r| r as i64))?;
        add(a, self.flags.domestic_violence as i64)?;
        add(a, self.flags.ongoing_danger as i64)?;
        add(a, self.flags.notices_opt_out as i64)
    }
    fn read(r: &AnyRow) -> Result<Self> {
        let department: Option<String> = r.try_get("department")?;
        Ok(ImportedIncident {
            incident: NewIncident {
                external_id: r.try_get("external_id")?,
                received_at: from_ms(r.try_get("received_at")?)?,
                area_id: r.try_get("area_id")?,
                unit_id: r.try_get("unit_id")?,
                category: parse_code(r, "category", Category::parse)?,
                police_matter: flag(r, "police_matter")?,
                department: department
                    .map(|d| DepartmentKind::parse(&d))
                    .transpose()
                    .map_err(|e| StoreError::Corrupt(format!("department: {e}")))?,
                summary: r.try_get("summary")?,
                closed_at: opt_time(r, "closed_at")?,
                resolved: r.try_get::<Option<i64>, _>("resolved")?.map(|v| v != 0),
                synthetic: flag(r, "synthetic")?,
            },
            flags: RecordFlags {
                domestic_violence: flag(r, "domestic_violence")?,
                ongoing_danger: flag(r, "ongoing_danger")?,
                notices_opt_out: flag(r, "notices_opt_out")?,
            },
        })
    }
}

impl ImportRecord for ImportedCase {
    const TABLE: &'static str = "cases";
    const SUBJECT: SubjectKind = SubjectKind::Case;
    const COLS: &'static [&'static str] = &[
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
        "investigator_assigned_at",
        "suspect_caught_at",
        "domestic_violence",
        "ongoing_danger",
        "notices_opt_out",
    ];
    const MUTABLE: &'static [&'static str] = &[
        "filed_at",
        "solved_at",
        "closed_at",
        "recovered_fen",
        "investigator_assigned_at",
        "suspect_caught_at",
        "domestic_violence",
        "ongoing_danger",
        "notices_opt_out",
    ];
    fn external_id(&self) -> &str {
        &self.case.external_id
    }
    fn bind(&self, a: &mut AnyArguments) -> BindResult {
        let c = &self.case;
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
        add(a, c.synthetic as i64)?;
        add(a, self.investigator_assigned_at.map(ms))?;
        add(a, self.suspect_caught_at.map(ms))?;
        add(a, self.flags.domestic_violence as i64)?;
        add(a, self.flags.ongoing_danger as i64)?;
        add(a, self.flags.notices_opt_out as i64)
    }
    fn bind_mutable(&self, a: &mut AnyArguments) -> BindResult {
        let c = &self.case;
        add(a, c.filed_at.map(ms))?;
        add(a, c.solved_at.map(ms))?;
        add(a, c.closed_at.map(ms))?;
        add(a, c.recovered_fen)?;
        add(a, self.investigator_assigned_at.map(ms))?;
        add(a, self.suspect_caught_at.map(ms))?;
        add(a, self.flags.domestic_violence as i64)?;
        add(a, self.flags.ongoing_danger as i64)?;
        add(a, self.flags.notices_opt_out as i64)
    }
    fn read(r: &AnyRow) -> Result<Self> {
        Ok(ImportedCase {
            case: NewCase {
                external_id: r.try_get("external_id")?,
                kind: parse_code(r, "kind", CaseKind::parse)?,
                station_id: r.try_get("station_id")?,
                area_id: r.try_get("area_id")?,
                reported_at: from_ms(r.try_get("reported_at")?)?,
                filed_at: opt_time(r, "filed_at")?,
                solved_at: opt_time(r, "solved_at")?,
                closed_at: opt_time(r, "closed_at")?,
                loss_fen: r.try_get("loss_fen")?,
                recovered_fen: r.try_get("recovered_fen")?,
                synthetic: flag(r, "synthetic")?,
            },
            investigator_assigned_at: opt_time(r, "investigator_assigned_at")?,
            suspect_caught_at: opt_time(r, "suspect_caught_at")?,
            flags: RecordFlags {
                domestic_violence: flag(r, "domestic_violence")?,
                ongoing_danger: flag(r, "ongoing_danger")?,
                notices_opt_out: flag(r, "notices_opt_out")?,
            },
        })
    }
}

impl ImportRecord for ImportedPermit {
    const TABLE: &'static str = "permits";
    const SUBJECT: SubjectKind = SubjectKind::Permit;
    const COLS: &'static [&'static str] = &[
        "external_id",
        "kind",
        "window_id",
        "applied_at",
        "promised_at",
        "issued_at",
        "synthetic",
        "notices_opt_out",
    ];
    const MUTABLE: &'static [&'static str] = &["issued_at", "notices_opt_out"];
    fn external_id(&self) -> &str {
        &self.permit.external_id
    }
    fn bind(&self, a: &mut AnyArguments) -> BindResult {
        let p = &self.permit;
        add(a, p.external_id.clone())?;
        add(a, p.kind.code())?;
        add(a, p.window_id)?;
        add(a, ms(p.applied_at))?;
        add(a, ms(p.promised_at))?;
        add(a, p.issued_at.map(ms))?;
        add(a, p.synthetic as i64)?;
        add(a, self.flags.notices_opt_out as i64)
    }
    fn bind_mutable(&self, a: &mut AnyArguments) -> BindResult {
        add(a, self.permit.issued_at.map(ms))?;
        add(a, self.flags.notices_opt_out as i64)
    }
    fn read(r: &AnyRow) -> Result<Self> {
        Ok(ImportedPermit {
            permit: NewPermit {
                external_id: r.try_get("external_id")?,
                kind: parse_code(r, "kind", PermitKind::parse)?,
                window_id: r.try_get("window_id")?,
                applied_at: from_ms(r.try_get("applied_at")?)?,
                promised_at: from_ms(r.try_get("promised_at")?)?,
                issued_at: opt_time(r, "issued_at")?,
                synthetic: flag(r, "synthetic")?,
            },
            flags: RecordFlags {
                notices_opt_out: flag(r, "notices_opt_out")?,
                ..RecordFlags::default()
            },
        })
    }
}

/// A record as stored: its id, the record, and whether a contact is on file.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord<T> {
    pub id: i64,
    pub record: T,
    pub has_contact: bool,
}

/// What one batch writes for one record: a new record (`id` None) or the stored one
/// changed, a contact to add when none is on file, and the changes to store as events.
#[derive(Clone)]
pub struct RecordWrite<T> {
    pub id: Option<i64>,
    pub record: T,
    pub contact: Option<NewContact>,
    pub changes: Vec<RecordChange>,
}

// The sealed contact's keyed hashes are still personal: keep them out of Debug.
impl<T: ImportRecord> std::fmt::Debug for RecordWrite<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordWrite")
            .field("id", &self.id)
            .field("external_id", &self.record.external_id())
            .field("has_contact", &self.contact.is_some())
            .field("changes", &self.changes.len())
            .finish()
    }
}

/// External ids per look-up statement: well under both backends' parameter limits.
const IDS_PER_QUERY: usize = 2_000;

fn marks(backend: Backend, n: usize) -> String {
    let v: Vec<String> = (1..=n)
        .map(|i| match backend {
            Backend::Sqlite => "?".to_owned(),
            Backend::Postgres => format!("${i}"),
        })
        .collect();
    v.join(",")
}

async fn stored_in<'c, T, E>(
    exec: E,
    backend: Backend,
    ids: &[String],
) -> Result<Vec<StoredRecord<T>>>
where
    T: ImportRecord,
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id, contact_id, {} FROM {} WHERE external_id IN ({})",
        T::COLS.join(", "),
        T::TABLE,
        marks(backend, ids.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in ids {
        q = q.bind(id.clone());
    }
    q.fetch_all(exec)
        .await?
        .iter()
        .map(|r| {
            Ok(StoredRecord {
                id: r.try_get("id")?,
                has_contact: r.try_get::<Option<i64>, _>("contact_id")?.is_some(),
                record: T::read(r)?,
            })
        })
        .collect()
}

/// What a batch wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppliedBatch {
    pub created: usize,
    pub changed: usize,
    pub events: usize,
    pub contacts: usize,
}

impl Store {
    /// The stored records with these external ids.
    pub async fn stored_records<T: ImportRecord>(
        &self,
        external_ids: &[String],
    ) -> Result<HashMap<String, StoredRecord<T>>> {
        let mut out = HashMap::new();
        for chunk in external_ids.chunks(IDS_PER_QUERY) {
            for s in stored_in::<T, _>(self.pool(), self.backend(), chunk).await? {
                out.insert(s.record.external_id().to_owned(), s);
            }
        }
        Ok(out)
    }

    /// One import batch in one transaction: reads the stored records named by
    /// `external_ids`, lets `plan` (the caller's rules) decide the writes, and writes
    /// them — contacts, new records, changed records, and one event per change (actor
    /// `actor`) — setting `changed_at` to `now` on every record written. Either all of the
    /// batch is stored or none of it. A record created by someone else between the read
    /// and the write fails the batch on the unique external id; running it again applies
    /// it as a change.
    pub async fn apply_records<T, F>(
        &self,
        external_ids: &[String],
        actor: &str,
        now: DateTime<Utc>,
        plan: F,
    ) -> Result<AppliedBatch>
    where
        T: ImportRecord,
        F: FnOnce(HashMap<String, StoredRecord<T>>) -> Vec<RecordWrite<T>> + Send,
    {
        let backend = self.backend();
        let mut tx = match backend {
            // The write lock first, so the read below sees what this batch writes over.
            Backend::Sqlite => self.pool().begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool().begin().await?,
        };
        let mut stored = HashMap::with_capacity(external_ids.len());
        for chunk in external_ids.chunks(IDS_PER_QUERY) {
            for s in stored_in::<T, _>(&mut *tx, backend, chunk).await? {
                stored.insert(s.record.external_id().to_owned(), s);
            }
        }
        let writes = plan(stored);
        let mut done = AppliedBatch::default();

        let contacts: Vec<&NewContact> = writes.iter().filter_map(|w| w.contact.as_ref()).collect();
        let contact_ids = insert_contacts_in(&mut tx, backend, &contacts, now).await?;
        done.contacts = contact_ids.len();
        let mut contact_ids = contact_ids.into_iter();
        let mut contact_of: Vec<Option<i64>> = Vec::with_capacity(writes.len());
        for w in &writes {
            contact_of.push(if w.contact.is_some() {
                contact_ids.next()
            } else {
                None
            });
        }

        // New records, many to a statement, under reserved ids.
        let fresh: Vec<(&T, Option<i64>)> = writes
            .iter()
            .zip(&contact_of)
            .filter(|(w, _)| w.id.is_none())
            .map(|(w, c)| (&w.record, *c))
            .collect();
        let fresh_ids = reserve_ids(&mut tx, backend, T::TABLE, fresh.len()).await?;
        let mut cols: Vec<&str> = vec!["id"];
        cols.extend(T::COLS);
        cols.extend(["contact_id", "changed_at"]);
        let changed_at = ms(now);
        let fresh: Vec<(i64, &T, Option<i64>)> = fresh_ids
            .iter()
            .zip(fresh)
            .map(|(&id, (r, c))| (id, r, c))
            .collect();
        for chunk in fresh.chunks(chunk_rows(cols.len())) {
            let sql = insert_sql(backend, T::TABLE, &cols, chunk.len(), "");
            let args = args_for(chunk, &|(id, r, c): &(i64, &T, Option<i64>), a| {
                add(a, *id)?;
                r.bind(a)?;
                add(a, *c)?;
                add(a, changed_at)
            })?;
            sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
                .execute(&mut *tx)
                .await?;
        }
        done.created = fresh.len();
        let mut new_ids = fresh_ids.into_iter();

        // Changed records, one statement each (rare next to new ones).
        let n = T::MUTABLE.len();
        let set: Vec<String> = T::MUTABLE
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect();
        let update = format!(
            "UPDATE {} SET {}, contact_id = COALESCE(contact_id, ${}), changed_at = ${} WHERE id = ${}",
            T::TABLE,
            set.join(", "),
            n + 1,
            n + 2,
            n + 3
        );
        let mut events: Vec<NewEvent> = Vec::new();
        for (w, c) in writes.iter().zip(&contact_of) {
            let id = match w.id {
                Some(id) => {
                    let mut a = AnyArguments::default();
                    let bound = w
                        .record
                        .bind_mutable(&mut a)
                        .and_then(|()| add(&mut a, *c))
                        .and_then(|()| add(&mut a, changed_at))
                        .and_then(|()| add(&mut a, id));
                    bound.map_err(|e| StoreError::Corrupt(format!("cannot bind a value: {e}")))?;
                    sqlx::query_with(sqlx::AssertSqlSafe(update.clone()), a)
                        .execute(&mut *tx)
                        .await?;
                    done.changed += 1;
                    id
                }
                // Reserved in the order of `writes`, skipping the changed ones.
                None => new_ids.next().ok_or_else(|| {
                    StoreError::Corrupt("a new record of a batch was left without an id".into())
                })?,
            };
            events.extend(w.changes.iter().map(|ch| NewEvent {
                subject: T::SUBJECT,
                subject_id: id,
                at: ch.at,
                actor: actor.to_owned(),
                action: ch.action.code().to_owned(),
                from_state: ch.from_state.clone(),
                to_state: ch.to_state.clone(),
                detail: ch.detail.clone(),
            }));
        }
        done.events = events.len();
        insert_events_in(&mut tx, backend, &events).await?;
        tx.commit().await?;
        Ok(done)
    }
}

// ---------------------------------------------------------------------------------------
// Hard indicators
// ---------------------------------------------------------------------------------------

/// The window an indicator is counted over: records of `[from, to)` as judged at `now`,
/// cases filed within `filing_limit_ms` of their report counting as filed in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndicatorWindow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub filing_limit_ms: i64,
}

/// One unit's numerator and denominator of one indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct IndicatorCount {
    pub indicator: Indicator,
    pub unit_id: i64,
    pub numerator: i64,
    pub denominator: i64,
}

/// One record in an indicator's denominator, with what it adds to the numerator and the
/// denominator (1 and 1 or 0 and 1 for counts; fen for the loss recovery rate).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IndicatorRecord {
    pub id: i64,
    pub unit_id: i64,
    /// The record's external id, or for a callback `source:source_id`.
    pub label: String,
    pub at: DateTime<Utc>,
    pub numerator: i64,
    pub denominator: i64,
}

/// Where an indicator's records live and which of them count. Written once per indicator
/// and used by both the figures and the drill-down. `{F}`, `{T}`, `{U}` (the earlier of
/// `to` and `now`), `{N}` (now) and `{L}` (the filing limit) stand for epoch-ms integers.
struct IndicatorSql {
    table: &'static str,
    unit: &'static str,
    at: &'static str,
    label: &'static str,
    counted: &'static str,
    numerator: &'static str,
    denominator: &'static str,
}

/// The rule of each indicator, as SQL. See docs/formats.md, "Hard indicators".
fn indicator_sql(i: Indicator) -> IndicatorSql {
    const CB_LABEL: &str = "source || ':' || CAST(source_id AS TEXT)";
    match i {
        // Done ÷ due (due before the end of the period or now, whichever is first), not excluded.
        Indicator::CallbackCoverage => IndicatorSql {
            table: "callbacks",
            unit: "unit_id",
            at: "due_at",
            label: CB_LABEL,
            counted: "due_at >= {F} AND due_at < {U} AND state <> 'excluded'",
            numerator: "CASE WHEN state = 'done' THEN 1 ELSE 0 END",
            denominator: "1",
        },
        // Reached ÷ attempted at least once.
        Indicator::ReachRate => IndicatorSql {
            table: "callbacks",
            unit: "unit_id",
            at: "due_at",
            label: CB_LABEL,
            counted: "due_at >= {F} AND due_at < {T} AND attempts > 0",
            numerator: "CASE WHEN outcome = 'reached' THEN 1 ELSE 0 END",
            denominator: "1",
        },
        // 满意 + 基本满意 ÷ reached with a verdict.
        Indicator::CallbackSatisfaction => IndicatorSql {
            table: "callbacks",
            unit: "unit_id",
            at: "due_at",
            label: CB_LABEL,
            counted: "due_at >= {F} AND due_at < {T} AND outcome = 'reached' AND verdict IS NOT NULL",
            numerator: "CASE WHEN verdict IN ('satisfied', 'basically_satisfied') THEN 1 ELSE 0 END",
            denominator: "1",
        },
        // Resolved ÷ police-matter incidents closed in the period.
        Indicator::HelpResolution => IndicatorSql {
            table: "incidents",
            unit: "unit_id",
            at: "closed_at",
            label: "external_id",
            counted: "police_matter = 1 AND closed_at >= {F} AND closed_at < {T}",
            numerator: "CASE WHEN resolved = 1 THEN 1 ELSE 0 END",
            denominator: "1",
        },
        // Permits promised in the period that are issued or overdue: issued on time ÷ all.
        Indicator::PermitOnTime => IndicatorSql {
            table: "permits",
            unit: "window_id",
            at: "promised_at",
            label: "external_id",
            counted: "promised_at >= {F} AND promised_at < {T} AND (issued_at IS NOT NULL OR promised_at < {N})",
            numerator: "CASE WHEN issued_at IS NOT NULL AND issued_at <= promised_at THEN 1 ELSE 0 END",
            denominator: "1",
        },
        // Cases reported in the period that are filed or past the limit: filed in time ÷ all.
        Indicator::TimelyFiling => IndicatorSql {
            table: "cases",
            unit: "station_id",
            at: "reported_at",
            label: "external_id",
            counted: "reported_at >= {F} AND reported_at < {T} AND (filed_at IS NOT NULL OR reported_at + {L} <= {N})",
            numerator: "CASE WHEN filed_at IS NOT NULL AND filed_at <= reported_at + {L} THEN 1 ELSE 0 END",
            denominator: "1",
        },
        // Fen recovered ÷ fen lost, cases reported in the period with a loss.
        Indicator::LossRecovery => IndicatorSql {
            table: "cases",
            unit: "station_id",
            at: "reported_at",
            label: "external_id",
            counted: "reported_at >= {F} AND reported_at < {T} AND loss_fen > 0",
            numerator: "recovered_fen",
            denominator: "loss_fen",
        },
    }
}

/// Fills in the window. The values are integers computed here, never text from a request.
fn fill(sql: &str, w: &IndicatorWindow) -> String {
    let until = w.to.min(w.now);
    sql.replace("{F}", &ms(w.from).to_string())
        .replace("{T}", &ms(w.to).to_string())
        .replace("{U}", &ms(until).to_string())
        .replace("{N}", &ms(w.now).to_string())
        .replace("{L}", &w.filing_limit_ms.to_string())
}

fn id_list(ids: &[i64]) -> String {
    if ids.is_empty() {
        return "NULL".into();
    }
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

impl Store {
    /// Every indicator's numerator and denominator per unit over the window (units with
    /// nothing counted are left out). The caller rolls units up the tree.
    pub async fn indicator_counts(&self, w: &IndicatorWindow) -> Result<Vec<IndicatorCount>> {
        let mut out = Vec::new();
        for &i in Indicator::ALL {
            let d = indicator_sql(i);
            let sql = fill(
                &format!(
                    "SELECT {unit}, CAST(SUM({num}) AS BIGINT), CAST(SUM({den}) AS BIGINT) FROM {table} \
                     WHERE {unit} IS NOT NULL AND {counted} GROUP BY {unit}",
                    unit = d.unit,
                    num = d.numerator,
                    den = d.denominator,
                    table = d.table,
                    counted = d.counted,
                ),
                w,
            );
            for r in sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(self.pool())
                .await?
            {
                out.push(IndicatorCount {
                    indicator: i,
                    unit_id: r.try_get(0)?,
                    numerator: r.try_get::<Option<i64>, _>(1)?.unwrap_or(0),
                    denominator: r.try_get::<Option<i64>, _>(2)?.unwrap_or(0),
                });
            }
        }
        Ok(out)
    }

    /// The records of one indicator's denominator among `unit_ids`, newest first, one
    /// page, and how many there are in all.
    pub async fn indicator_records(
        &self,
        indicator: Indicator,
        unit_ids: &[i64],
        w: &IndicatorWindow,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<IndicatorRecord>, i64)> {
        let d = indicator_sql(indicator);
        let base = format!(
            "FROM {table} WHERE {unit} IN ({ids}) AND {counted}",
            table = d.table,
            unit = d.unit,
            ids = id_list(unit_ids),
            counted = d.counted
        );
        let total: i64 = sqlx::query(sqlx::AssertSqlSafe(fill(
            &format!("SELECT COUNT(*) {base}"),
            w,
        )))
        .fetch_one(self.pool())
        .await?
        .try_get(0)?;
        let sql = fill(
            &format!(
                "SELECT id, {unit}, {label}, {at}, CAST({num} AS BIGINT), CAST({den} AS BIGINT) {base} \
                 ORDER BY {at} DESC, id DESC LIMIT {limit} OFFSET {offset}",
                unit = d.unit,
                label = d.label,
                at = d.at,
                num = d.numerator,
                den = d.denominator,
                limit = limit.clamp(1, 1000),
                offset = offset.max(0),
            ),
            w,
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                Ok(IndicatorRecord {
                    id: r.try_get(0)?,
                    unit_id: r.try_get(1)?,
                    label: r.try_get(2)?,
                    at: from_ms(r.try_get(3)?)?,
                    numerator: r.try_get(4)?,
                    denominator: r.try_get(5)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((rows, total))
    }
}

/// The bare SQLite insert loop that the incident import benchmark measures against: the
/// sqlx SQLite driver directly, one prepared single-row INSERT per incident, one
/// transaction, the store's schema and pragmas; no events, no contacts. Returns the time
/// the inserts and the commit took.
pub async fn bare_sqlite_insert_incidents(
    path: &std::path::Path,
    rows: &[NewIncident],
) -> Result<std::time::Duration> {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await?;
    sqlx::raw_sql(crate::SQLITE_PRAGMAS)
        .execute(&mut conn)
        .await?;
    let started = std::time::Instant::now();
    let mut tx = conn.begin().await?;
    for i in rows {
        sqlx::query(
            "INSERT INTO incidents (external_id, received_at, area_id, unit_id, category, police_matter, \
             department, summary, closed_at, resolved, synthetic) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .bind(i.external_id.as_str())
        .bind(ms(i.received_at))
        .bind(i.area_id)
        .bind(i.unit_id)
        .bind(i.category.code())
        .bind(i.police_matter as i64)
        .bind(i.department.map(|d| d.code()))
        .bind(i.summary.as_str())
        .bind(i.closed_at.map(ms))
        .bind(i.resolved.map(|r| r as i64))
        .bind(i.synthetic as i64)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let took = started.elapsed();
    conn.close().await?;
    Ok(took)
}
