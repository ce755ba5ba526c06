//! Residents' contacts: stored exactly as the caller hands them over — ciphertext, keyed
//! hash and masked form per field — and anonymised once their matter is long closed.
//!
//! This module must never see or produce plaintext: encryption, hashing and masking
//! belong to the caller (the vault), so a copy of the database reveals nobody.

use chrono::{DateTime, Utc};
use minyi_core::opinion::OpinionState;
use sqlx::Row;
use sqlx::any::{AnyArguments, AnyRow};

use crate::bulk::{add, args_for, chunk_rows, insert_sql, reserve_ids};
use crate::error::{Result, StoreError};
use crate::{Backend, Store, from_ms, ms};

/// What replaces every masked field when a contact is anonymised.
pub const ANONYMISED: &str = "已匿名化";

/// A resident's identity as it arrives for storage: already encrypted, hashed and masked.
#[derive(Default, Clone)]
pub struct NewContact {
    pub name_enc: Option<String>,
    pub name_hash: Option<String>,
    pub name_masked: Option<String>,
    pub phone_enc: Option<String>,
    pub phone_hash: Option<String>,
    pub phone_masked: Option<String>,
    pub id_number_enc: Option<String>,
    pub id_number_hash: Option<String>,
    pub id_number_masked: Option<String>,
    pub address_enc: Option<String>,
    pub address_masked: Option<String>,
}

#[derive(Clone)]
pub struct ContactRow {
    pub id: i64,
    pub name_enc: Option<String>,
    pub name_hash: Option<String>,
    pub name_masked: Option<String>,
    pub phone_enc: Option<String>,
    pub phone_hash: Option<String>,
    pub phone_masked: Option<String>,
    pub id_number_enc: Option<String>,
    pub id_number_hash: Option<String>,
    pub id_number_masked: Option<String>,
    pub address_enc: Option<String>,
    pub address_masked: Option<String>,
    pub created_at: DateTime<Utc>,
    pub anonymised_at: Option<DateTime<Utc>>,
}

// Ciphertexts and hashes stay out of Debug: a hash of a phone number is searchable by
// anyone who can enumerate numbers, so it is as personal as the number in a log.
impl std::fmt::Debug for ContactRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContactRow")
            .field("id", &self.id)
            .field("name_masked", &self.name_masked)
            .field("phone_masked", &self.phone_masked)
            .field("id_number_masked", &self.id_number_masked)
            .field("address_masked", &self.address_masked)
            .finish_non_exhaustive()
    }
}

const CONTACT_COLS: &str = "id, name_enc, name_hash, name_masked, phone_enc, phone_hash, phone_masked, \
     id_number_enc, id_number_hash, id_number_masked, address_enc, address_masked, created_at, anonymised_at";

fn contact_row(r: &AnyRow) -> Result<ContactRow> {
    let os = |c: &str| r.try_get::<Option<String>, _>(c);
    Ok(ContactRow {
        id: r.try_get("id")?,
        name_enc: os("name_enc")?,
        name_hash: os("name_hash")?,
        name_masked: os("name_masked")?,
        phone_enc: os("phone_enc")?,
        phone_hash: os("phone_hash")?,
        phone_masked: os("phone_masked")?,
        id_number_enc: os("id_number_enc")?,
        id_number_hash: os("id_number_hash")?,
        id_number_masked: os("id_number_masked")?,
        address_enc: os("address_enc")?,
        address_masked: os("address_masked")?,
        created_at: from_ms(r.try_get("created_at")?)?,
        anonymised_at: r
            .try_get::<Option<i64>, _>("anonymised_at")?
            .map(from_ms)
            .transpose()?,
    })
}

/// A contact's columns after `id`, in the order [`bind_contact`] binds them.
const FIELDS: [&str; 12] = [
    "name_enc",
    "name_hash",
    "name_masked",
    "phone_enc",
    "phone_hash",
    "phone_masked",
    "id_number_enc",
    "id_number_hash",
    "id_number_masked",
    "address_enc",
    "address_masked",
    "created_at",
];

/// Binds a contact's [`FIELDS`], `created_at` being `now` (epoch ms).
fn bind_contact(
    c: &NewContact,
    now: i64,
    a: &mut AnyArguments,
) -> std::result::Result<(), sqlx::error::BoxDynError> {
    add(a, c.name_enc.clone())?;
    add(a, c.name_hash.clone())?;
    add(a, c.name_masked.clone())?;
    add(a, c.phone_enc.clone())?;
    add(a, c.phone_hash.clone())?;
    add(a, c.phone_masked.clone())?;
    add(a, c.id_number_enc.clone())?;
    add(a, c.id_number_hash.clone())?;
    add(a, c.id_number_masked.clone())?;
    add(a, c.address_enc.clone())?;
    add(a, c.address_masked.clone())?;
    add(a, now)
}

/// Inserts a contact inside the caller's transaction, so it commits (or not) with the
/// opinion that refers to it. The id comes from the database: not every transaction that
/// writes one opinion holds SQLite's write lock from its start, as reserving ids needs.
pub(crate) async fn insert_contact_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    c: &NewContact,
    now: DateTime<Utc>,
) -> Result<i64> {
    let marks: Vec<String> = (1..=FIELDS.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO contacts ({}) VALUES ({}) RETURNING id",
        FIELDS.join(", "),
        marks.join(", ")
    );
    let mut a = AnyArguments::default();
    bind_contact(c, ms(now), &mut a)
        .map_err(|e| StoreError::Corrupt(format!("cannot bind a value: {e}")))?;
    let id = sqlx::query_with(sqlx::AssertSqlSafe(sql), a)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
    Ok(id)
}

/// Inserts contacts in multi-row statements under reserved ids; returns the ids in input
/// order.
pub(crate) async fn insert_contacts_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    contacts: &[&NewContact],
    now: DateTime<Utc>,
) -> Result<Vec<i64>> {
    let ids = reserve_ids(tx, backend, "contacts", contacts.len()).await?;
    let now = ms(now);
    let mut cols = vec!["id"];
    cols.extend(FIELDS);
    let rows: Vec<(i64, &NewContact)> = ids.iter().copied().zip(contacts.iter().copied()).collect();
    for chunk in rows.chunks(chunk_rows(cols.len())) {
        let sql = insert_sql(backend, "contacts", &cols, chunk.len(), "");
        let args = args_for(chunk, &|(id, c): &(i64, &NewContact), a| {
            add(a, *id)?;
            bind_contact(c, now, a)
        })?;
        sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
            .execute(&mut **tx)
            .await?;
    }
    Ok(ids)
}

/// The terminal states' codes as an SQL list. Built from the core vocabulary (fixed
/// lowercase codes, no user input), so the rule "what counts as finished" lives in one place.
fn terminal_states_sql() -> String {
    OpinionState::ALL
        .iter()
        .filter(|s| !s.is_open())
        .map(|s| format!("'{}'", s.code()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    pub async fn contact(&self, id: i64) -> Result<Option<ContactRow>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {CONTACT_COLS} FROM contacts WHERE id = $1"));
        sqlx::query(sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(contact_row)
            .transpose()
    }

    /// The contact the resident left with an opinion, if any.
    pub async fn contact_of_opinion(&self, opinion_id: i64) -> Result<Option<ContactRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {CONTACT_COLS} FROM contacts WHERE id = (SELECT contact_id FROM opinions WHERE id = $1)"
        ));
        sqlx::query(sql)
            .bind(opinion_id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(contact_row)
            .transpose()
    }

    /// How many contacts carry this phone hash: a repeat caller shows up without anyone
    /// decrypting a number.
    pub async fn count_contacts_by_phone_hash(&self, phone_hash: &str) -> Result<i64> {
        Ok(
            sqlx::query("SELECT COUNT(*) FROM contacts WHERE phone_hash = $1")
                .bind(phone_hash.to_owned())
                .fetch_one(self.pool())
                .await?
                .try_get(0)?,
        )
    }

    /// Anonymises the contacts of matters finished (closed, withdrawn, invalid, merged)
    /// before `cutoff`: ciphertexts and hashes are cleared, masked forms that held
    /// something become [`ANONYMISED`], and the row stays so counts remain true. A contact
    /// also linked to a matter still open is left alone. Returns how many rows changed.
    pub async fn anonymise_closed_before(
        &self,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let terminal = terminal_states_sql();
        // A masked field that was never given stays NULL: "no phone left" must not read
        // as "a phone, anonymised".
        let mask = |c: &str| format!("{c} = CASE WHEN {c} IS NULL THEN NULL ELSE $2 END");
        let sql = format!(
            "UPDATE contacts SET name_enc = NULL, name_hash = NULL, {}, \
             phone_enc = NULL, phone_hash = NULL, {}, \
             id_number_enc = NULL, id_number_hash = NULL, {}, \
             address_enc = NULL, {}, anonymised_at = $1 \
             WHERE anonymised_at IS NULL \
             AND EXISTS (SELECT 1 FROM opinions o WHERE o.contact_id = contacts.id \
                 AND o.state IN ({terminal}) AND COALESCE(o.closed_at, o.received_at) < $3) \
             AND NOT EXISTS (SELECT 1 FROM opinions o WHERE o.contact_id = contacts.id \
                 AND (o.state NOT IN ({terminal}) OR COALESCE(o.closed_at, o.received_at) >= $3))",
            mask("name_masked"),
            mask("phone_masked"),
            mask("id_number_masked"),
            mask("address_masked"),
        );
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ms(now))
            .bind(ANONYMISED)
            .bind(ms(cutoff))
            .execute(self.pool())
            .await?
            .rows_affected())
    }
}
