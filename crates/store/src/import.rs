//! The bulk path for imported opinions: many (opinion, sealed contact) pairs written in one
//! transaction, each opinion with its `received` event, idempotent on the client key.
//!
//! Like `contacts`, this module never sees plaintext identities: contacts arrive already
//! encrypted, hashed and masked. It holds no business rule; the caller triages.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use minyi_core::event::{NewEvent, SubjectKind};
use minyi_core::opinion::{NewOpinion, OpinionState};
use sqlx::Row;
use sqlx::any::AnyArguments;

use crate::bulk::{add, args_for, chunk_rows, insert_sql};
use crate::contacts::{NewContact, insert_contacts_in};
use crate::error::Result;
use crate::opinions::InsertOutcome;
use crate::{Backend, Store};

/// One imported opinion and the resident's contact, if the file named one.
#[derive(Clone)]
pub struct ImportItem {
    pub opinion: NewOpinion,
    pub contact: Option<NewContact>,
}

// The contact is sealed but its keyed hashes are still personal: keep them out of Debug.
impl std::fmt::Debug for ImportItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportItem")
            .field("tracking_code", &self.opinion.tracking_code)
            .field("has_contact", &self.contact.is_some())
            .finish_non_exhaustive()
    }
}

/// The opinion columns of `opinions.rs`, plus the contact the row points at.
fn cols() -> Vec<&'static str> {
    crate::opinions::COLS
        .iter()
        .copied()
        .chain(["contact_id"])
        .collect()
}

fn bind(
    (o, contact_id): &(&NewOpinion, Option<i64>),
    a: &mut AnyArguments,
) -> std::result::Result<(), sqlx::error::BoxDynError> {
    crate::opinions::bind(o, a)?;
    add(a, *contact_id)
}

/// Keys per look-up statement: well under both backends' parameter limits.
const KEYS_PER_QUERY: usize = 2_000;

fn placeholders(backend: Backend, n: usize) -> String {
    let marks: Vec<String> = (1..=n)
        .map(|i| match backend {
            Backend::Sqlite => "?".to_owned(),
            Backend::Postgres => format!("${i}"),
        })
        .collect();
    marks.join(",")
}

async fn existing_in<'c, E>(exec: E, backend: Backend, keys: &[&str]) -> Result<Vec<(String, i64)>>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT client_key, id FROM opinions WHERE client_key IN ({})",
        placeholders(backend, keys.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for k in keys {
        q = q.bind((*k).to_owned());
    }
    q.fetch_all(exec)
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
        .collect()
}

impl Store {
    /// Which of these client keys are stored already, with their opinions' ids (for a
    /// dry run, which must say what an import would add without writing).
    pub async fn existing_client_keys(&self, keys: &[String]) -> Result<HashMap<String, i64>> {
        let mut found = HashMap::new();
        for chunk in keys.chunks(KEYS_PER_QUERY) {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            found.extend(existing_in(self.pool(), self.backend(), &refs).await?);
        }
        Ok(found)
    }

    /// Stores imported opinions in one transaction: each contact row, the opinion pointing
    /// at it, and its `received` event (actor: the channel). Outcomes come back in input
    /// order, as for [`Store::insert_opinions`]: a client key stored before, or earlier in
    /// the same batch, yields `Existing` and writes no contact; a tracking-code collision
    /// yields `CodeTaken`, writes nothing for that item, and the caller retries it.
    pub async fn import_opinions(
        &self,
        items: &[ImportItem],
        now: DateTime<Utc>,
    ) -> Result<Vec<InsertOutcome>> {
        let backend = self.backend();
        let mut outcomes = vec![InsertOutcome::CodeTaken; items.len()];
        let mut tx = match backend {
            // Take the write lock first, so a concurrent writer waits instead of failing
            // this transaction's upgrade from a read snapshot.
            Backend::Sqlite => self.pool().begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool().begin().await?,
        };

        // Keys stored before: nothing of those rows is written again.
        let keys: Vec<&str> = items
            .iter()
            .filter_map(|i| i.opinion.client_key.as_deref())
            .collect();
        let mut stored: HashMap<String, i64> = HashMap::new();
        for chunk in keys.chunks(KEYS_PER_QUERY) {
            stored.extend(existing_in(&mut *tx, backend, chunk).await?);
        }

        // The first row with a key in this batch is written; later ones point at it.
        let mut first_with_key: HashMap<&str, usize> = HashMap::new();
        let mut repeat_of: Vec<(usize, usize)> = Vec::new();
        let mut fresh: Vec<usize> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item.opinion.client_key.as_deref() {
                Some(k) if stored.contains_key(k) => {
                    outcomes[i] = InsertOutcome::Existing(stored[k]);
                }
                Some(k) => match first_with_key.get(k) {
                    Some(&first) => repeat_of.push((i, first)),
                    None => {
                        first_with_key.insert(k, i);
                        fresh.push(i);
                    }
                },
                None => fresh.push(i),
            }
        }

        // The contacts of the batch in multi-row statements under reserved ids, then each
        // row its own (rows without a contact take none).
        let sealed: Vec<&NewContact> = fresh
            .iter()
            .filter_map(|&i| items[i].contact.as_ref())
            .collect();
        let mut written = insert_contacts_in(&mut tx, backend, &sealed, now)
            .await?
            .into_iter();
        let contact_ids: Vec<Option<i64>> = fresh
            .iter()
            .map(|&i| items[i].contact.as_ref().and_then(|_| written.next()))
            .collect();

        let rows: Vec<(&NewOpinion, Option<i64>)> = fresh
            .iter()
            .zip(&contact_ids)
            .map(|(&i, c)| (&items[i].opinion, *c))
            .collect();
        let mut events: Vec<NewEvent> = Vec::with_capacity(rows.len());
        let mut orphans: Vec<i64> = Vec::new();
        let mut done = 0;
        for chunk in rows.chunks(chunk_rows(cols().len())) {
            let sql = insert_sql(
                backend,
                "opinions",
                &cols(),
                chunk.len(),
                "ON CONFLICT DO NOTHING RETURNING id, tracking_code",
            );
            let args = args_for(chunk, &bind)?;
            let returned = sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
                .fetch_all(&mut *tx)
                .await?;
            let mut by_code: HashMap<String, i64> = HashMap::with_capacity(returned.len());
            for r in &returned {
                by_code.insert(r.try_get("tracking_code")?, r.try_get("id")?);
            }
            for (j, (o, contact_id)) in chunk.iter().enumerate() {
                let i = fresh[done + j];
                if let Some(id) = by_code.remove(o.tracking_code.as_str()) {
                    outcomes[i] = InsertOutcome::Created(id);
                    events.push(NewEvent {
                        subject: SubjectKind::Opinion,
                        subject_id: id,
                        at: o.received_at,
                        // No staff member acted: the event names the channel, as for intake.
                        actor: o.channel.code().to_owned(),
                        action: "receive".into(),
                        from_state: None,
                        to_state: Some(OpinionState::Received.code().into()),
                        detail: None,
                    });
                    continue;
                }
                // Not written: its contact must not stay behind as a second copy of
                // someone's identity.
                if let Some(c) = contact_id {
                    orphans.push(*c);
                }
                // A key written by someone else since the look-up above.
                if let Some(k) = &o.client_key {
                    let existing = sqlx::query("SELECT id FROM opinions WHERE client_key = $1")
                        .bind(k.clone())
                        .fetch_optional(&mut *tx)
                        .await?;
                    if let Some(r) = existing {
                        outcomes[i] = InsertOutcome::Existing(r.try_get(0)?);
                    }
                }
            }
            done += chunk.len();
        }
        for id in orphans {
            sqlx::query("DELETE FROM contacts WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        for (i, first) in repeat_of {
            outcomes[i] = match outcomes[first] {
                InsertOutcome::Created(id) | InsertOutcome::Existing(id) => {
                    InsertOutcome::Existing(id)
                }
                InsertOutcome::CodeTaken => InsertOutcome::CodeTaken,
            };
        }
        crate::records::insert_events_in(&mut tx, backend, &events).await?;
        tx.commit().await?;
        Ok(outcomes)
    }
}
