//! Residents' identities: sealed (encrypted, keyed-hashed, masked) before they reach the
//! store, revealed one field at a time to someone allowed to, for a typed reason that is
//! audited first, and anonymised when the retention period of a closed matter ends.

use chrono::{DateTime, Duration, Utc};
use minyi_core::PhoneNumber;
use minyi_core::access::{OpinionPlace, Permission, may_view_opinion};
use minyi_core::identity::{Address, IdNumber, ResidentName};
use minyi_store::{ContactRow, NewContact};
use minyi_vault::{DataKey, Field, Sealer, mask};

use crate::audit::{AuditAction, record};
use crate::auth::Principal;
use crate::{App, AppError, Result};

/// What a resident told us about themselves, parsed. All optional: residents may stay
/// anonymous.
#[derive(Debug, Default, Clone)]
pub struct ContactInput {
    pub name: Option<ResidentName>,
    pub phone: Option<PhoneNumber>,
    pub id_number: Option<IdNumber>,
    pub address: Option<Address>,
}

impl ContactInput {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.phone.is_none()
            && self.id_number.is_none()
            && self.address.is_none()
    }
}

/// Encrypts each field, adds the keyed hash used for equality look-ups (repeat callers,
/// duplicates) and the masked form shown in lists. No plaintext leaves this function.
pub fn seal(key: &DataKey, c: &ContactInput) -> NewContact {
    seal_with(&key.sealer(), c)
}

/// [`seal`] with the subkeys derived once, for sealing many contacts (imports).
pub fn seal_with(key: &Sealer, c: &ContactInput) -> NewContact {
    let mut n = NewContact::default();
    if let Some(v) = &c.name {
        n.name_enc = Some(key.encrypt(Field::Name, v.as_str()));
        n.name_hash = Some(key.lookup_hash(Field::Name, v.as_str()));
        n.name_masked = Some(mask::name(v.as_str()));
    }
    if let Some(v) = &c.phone {
        n.phone_enc = Some(key.encrypt(Field::Phone, v.as_str()));
        n.phone_hash = Some(key.lookup_hash(Field::Phone, v.as_str()));
        n.phone_masked = Some(v.masked());
    }
    if let Some(v) = &c.id_number {
        n.id_number_enc = Some(key.encrypt(Field::IdNumber, v.as_str()));
        n.id_number_hash = Some(key.lookup_hash(Field::IdNumber, v.as_str()));
        n.id_number_masked = Some(mask::id_number(v.as_str()));
    }
    if let Some(v) = &c.address {
        n.address_enc = Some(key.encrypt(Field::Address, v.as_str()));
        n.address_masked = Some(mask::address(v.as_str()));
    }
    n
}

/// The keyed hash of a phone number, to find earlier contacts by the same caller.
pub fn phone_lookup(key: &DataKey, phone: &PhoneNumber) -> String {
    key.lookup_hash(Field::Phone, phone.as_str())
}

pub fn field_code(f: Field) -> &'static str {
    f.code()
}

pub fn parse_field(s: &str) -> Option<Field> {
    [Field::Name, Field::Phone, Field::IdNumber, Field::Address]
        .into_iter()
        .find(|f| f.code() == s.trim())
}

/// The masked view of a contact for pages and exports.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MaskedContact {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub id_number: Option<String>,
    pub address: Option<String>,
    pub anonymised: bool,
}

pub fn masked(c: &ContactRow) -> MaskedContact {
    MaskedContact {
        name: c.name_masked.clone(),
        phone: c.phone_masked.clone(),
        id_number: c.id_number_masked.clone(),
        address: c.address_masked.clone(),
        anonymised: c.anonymised_at.is_some(),
    }
}

/// Reveals one field of the contact of an opinion the principal may see, for a reason of
/// at least four characters. The audit entry is written before the value is decrypted, so
/// a reveal that is not on record cannot happen.
pub async fn reveal(
    app: &App,
    who: &Principal,
    opinion_id: i64,
    field: Field,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<String> {
    who.require(Permission::RevealPersonalData)?;
    let o = app
        .store
        .opinion(opinion_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let place = OpinionPlace {
        unit_id: o.unit_id,
        department_id: o.department_id,
    };
    if !may_view_opinion(who.role, &who.scope, who.scope_is_city, place) {
        return Err(AppError::NotFound);
    }
    let reason = reason.trim();
    if reason.chars().count() < 4 || reason.chars().count() > 200 {
        return Err(AppError::Invalid("reveal_reason".into()));
    }
    let c = app
        .store
        .contact_of_opinion(opinion_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let stored = match field {
        Field::Name => c.name_enc.as_deref(),
        Field::Phone => c.phone_enc.as_deref(),
        Field::IdNumber => c.id_number_enc.as_deref(),
        Field::Address => c.address_enc.as_deref(),
    }
    .ok_or(AppError::NotFound)?;
    let reason_one_line: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    record(
        app,
        now,
        &who.actor(),
        AuditAction::Reveal,
        &format!("opinion:{}", o.tracking_code),
        &format!("field={} reason={reason_one_line}", field.code()),
    )
    .await?;
    app.key
        .decrypt(field, stored)
        .map_err(|e| AppError::Refused(e.to_string()))
}

/// Anonymises the residents' identities of matters closed more than the configured
/// retention period ago. Returns how many contacts were anonymised; audited.
pub async fn run_retention(
    app: &App,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(u64, DateTime<Utc>)> {
    let cutoff = now - Duration::days(app.config.security.retention_days);
    let n = app.store.anonymise_closed_before(cutoff, now).await?;
    record(
        app,
        now,
        actor,
        AuditAction::Retention,
        "contacts",
        &format!("anonymised={n} closed_before={}", cutoff.format("%Y-%m-%d")),
    )
    .await?;
    Ok((n, cutoff))
}
