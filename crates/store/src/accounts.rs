//! Staff accounts, their sign-in sessions, and API keys for machines.
//!
//! Only hashes of secrets are stored (password hashes from the caller, SHA-256 of session
//! tokens and API keys), and no Debug output here prints one. Deciding who may sign in,
//! how long a lock lasts and what a role may do is the caller's; this module records.

use chrono::{DateTime, Utc};
use minyi_core::access::{KeyPurpose, Role};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{Result, StoreError};
use crate::{Store, from_ms, ms};

/// An account to create. The password arrives hashed; the store never sees it.
#[derive(Clone)]
pub struct NewAccount {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub unit_id: i64,
    pub password_hash: String,
    pub must_change_password: bool,
    pub synthetic: bool,
}

#[derive(Clone)]
pub struct AccountRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub unit_id: i64,
    pub password_hash: String,
    pub disabled: bool,
    pub must_change_password: bool,
    pub failed_logins: i64,
    pub last_failed_at: Option<DateTime<Utc>>,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub synthetic: bool,
}

// By hand: the password hash (crackable offline) and the person's name stay out of logs.
impl std::fmt::Debug for AccountRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("unit_id", &self.unit_id)
            .field("disabled", &self.disabled)
            .field("must_change_password", &self.must_change_password)
            .field("failed_logins", &self.failed_logins)
            .field("locked_until", &self.locked_until)
            .field("synthetic", &self.synthetic)
            .finish_non_exhaustive()
    }
}

/// A session as looked up by the hash of its cookie token. Expiry is the caller's to
/// check against its clock: a row past `expires_at` is still returned until purged.
#[derive(Clone)]
pub struct SessionRow {
    pub account_id: i64,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for SessionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRow")
            .field("account_id", &self.account_id)
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// An API key to record: its public prefix (the look-up handle) and the hash of the
/// whole key. The key itself is shown once to its creator and never stored.
#[derive(Clone)]
pub struct NewApiKey {
    pub prefix: String,
    pub key_hash: String,
    pub unit_id: i64,
    pub purpose: KeyPurpose,
    pub label: String,
    pub created_by: Option<i64>,
}

#[derive(Clone)]
pub struct ApiKeyRow {
    pub id: i64,
    pub prefix: String,
    pub key_hash: String,
    pub unit_id: i64,
    pub purpose: KeyPurpose,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<i64>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for ApiKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyRow")
            .field("id", &self.id)
            .field("prefix", &self.prefix)
            .field("unit_id", &self.unit_id)
            .field("purpose", &self.purpose)
            .field("label", &self.label)
            .field("created_at", &self.created_at)
            .field("created_by", &self.created_by)
            .field("revoked_at", &self.revoked_at)
            .field("last_used_at", &self.last_used_at)
            .finish_non_exhaustive()
    }
}

const ACCOUNT_COLS: &str = "id, username, display_name, role, unit_id, password_hash, disabled, \
     must_change_password, failed_logins, last_failed_at, locked_until, created_at, last_login_at, synthetic";

const KEY_COLS: &str = "id, prefix, key_hash, unit_id, purpose, label, created_at, created_by, revoked_at, last_used_at";

fn opt_time(r: &AnyRow, col: &str) -> Result<Option<DateTime<Utc>>> {
    r.try_get::<Option<i64>, _>(col)?.map(from_ms).transpose()
}

fn account_row(r: &AnyRow) -> Result<AccountRow> {
    Ok(AccountRow {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        role: Role::parse(&r.try_get::<String, _>("role")?)?,
        unit_id: r.try_get("unit_id")?,
        password_hash: r.try_get("password_hash")?,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        must_change_password: r.try_get::<i64, _>("must_change_password")? != 0,
        failed_logins: r.try_get("failed_logins")?,
        last_failed_at: opt_time(r, "last_failed_at")?,
        locked_until: opt_time(r, "locked_until")?,
        created_at: from_ms(r.try_get("created_at")?)?,
        last_login_at: opt_time(r, "last_login_at")?,
        synthetic: r.try_get::<i64, _>("synthetic")? != 0,
    })
}

fn key_row(r: &AnyRow) -> Result<ApiKeyRow> {
    Ok(ApiKeyRow {
        id: r.try_get("id")?,
        prefix: r.try_get("prefix")?,
        key_hash: r.try_get("key_hash")?,
        unit_id: r.try_get("unit_id")?,
        purpose: KeyPurpose::parse(&r.try_get::<String, _>("purpose")?)?,
        label: r.try_get("label")?,
        created_at: from_ms(r.try_get("created_at")?)?,
        created_by: r.try_get("created_by")?,
        revoked_at: opt_time(r, "revoked_at")?,
        last_used_at: opt_time(r, "last_used_at")?,
    })
}

impl Store {
    /// Creates an account; a username already in use is a `Conflict`, decided by the
    /// unique index, so two administrators racing for one name cannot both win.
    pub async fn insert_account(&self, a: &NewAccount, now: DateTime<Utc>) -> Result<i64> {
        let id = sqlx::query(
            "INSERT INTO accounts (username, display_name, role, unit_id, password_hash, \
             must_change_password, created_at, synthetic) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (username) DO NOTHING RETURNING id",
        )
        .bind(a.username.clone())
        .bind(a.display_name.clone())
        .bind(a.role.code())
        .bind(a.unit_id)
        .bind(a.password_hash.clone())
        .bind(a.must_change_password as i64)
        .bind(ms(now))
        .bind(a.synthetic as i64)
        .fetch_optional(self.pool())
        .await?;
        match created_id(id)? {
            Some(id) => Ok(id),
            None => Err(StoreError::Conflict(format!(
                "username `{}` is taken",
                a.username
            ))),
        }
    }

    pub async fn account(&self, id: i64) -> Result<Option<AccountRow>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = $1"));
        sqlx::query(sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(account_row)
            .transpose()
    }

    pub async fn account_by_username(&self, username: &str) -> Result<Option<AccountRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLS} FROM accounts WHERE username = $1"
        ));
        sqlx::query(sql)
            .bind(username.to_owned())
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(account_row)
            .transpose()
    }

    /// All accounts, by username (bytewise on both backends).
    pub async fn accounts(&self) -> Result<Vec<AccountRow>> {
        let order = match self.backend() {
            crate::Backend::Sqlite => "username",
            crate::Backend::Postgres => "username COLLATE \"C\"",
        };
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLS} FROM accounts ORDER BY {order}"
        ));
        sqlx::query(sql)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(account_row)
            .collect()
    }

    pub async fn count_accounts(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM accounts")
            .fetch_one(self.pool())
            .await?
            .try_get(0)?)
    }

    /// Returns false when no such account exists.
    pub async fn set_account_disabled(&self, id: i64, disabled: bool) -> Result<bool> {
        let n = sqlx::query("UPDATE accounts SET disabled = $1 WHERE id = $2")
            .bind(disabled as i64)
            .bind(id)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Returns false when no such account exists.
    pub async fn set_account_role(&self, id: i64, role: Role, unit_id: i64) -> Result<bool> {
        let n = sqlx::query("UPDATE accounts SET role = $1, unit_id = $2 WHERE id = $3")
            .bind(role.code())
            .bind(unit_id)
            .bind(id)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Replaces the password hash and lifts any lock: a reset is how an administrator
    /// lets a locked-out colleague back in. Returns false when no such account exists.
    pub async fn set_password(
        &self,
        id: i64,
        password_hash: &str,
        must_change: bool,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE accounts SET password_hash = $1, must_change_password = $2, \
             failed_logins = 0, locked_until = NULL WHERE id = $3",
        )
        .bind(password_hash.to_owned())
        .bind(must_change as i64)
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Counts a failed sign-in in the database itself (`failed_logins + 1`), so
    /// concurrent guesses are all counted; sets the lock when the caller gives one.
    /// Returns the new count.
    pub async fn record_login_failure(
        &self,
        id: i64,
        now: DateTime<Utc>,
        lock_until: Option<DateTime<Utc>>,
    ) -> Result<i64> {
        let row = sqlx::query(
            "UPDATE accounts SET failed_logins = failed_logins + 1, last_failed_at = $1, \
             locked_until = COALESCE($2, locked_until) WHERE id = $3 RETURNING failed_logins",
        )
        .bind(ms(now))
        .bind(lock_until.map(ms))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("account {id}"),
        })?;
        Ok(row.try_get(0)?)
    }

    /// Clears the failure count and any lock, and records the sign-in time.
    pub async fn record_login_success(&self, id: i64, now: DateTime<Utc>) -> Result<()> {
        let n = sqlx::query(
            "UPDATE accounts SET failed_logins = 0, locked_until = NULL, last_login_at = $1 WHERE id = $2",
        )
        .bind(ms(now))
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected();
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound {
                what: format!("account {id}"),
            })
        }
    }

    /// Records a session under the hash of its cookie token.
    pub async fn insert_session(
        &self,
        token_hash: &str,
        account_id: i64,
        csrf_token: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, account_id, csrf_token, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash.to_owned())
        .bind(account_id)
        .bind(csrf_token.to_owned())
        .bind(ms(now))
        .bind(ms(now))
        .bind(ms(expires_at))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The session stored under this token hash, expired or not (see [`SessionRow`]).
    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>> {
        let row = sqlx::query(
            "SELECT account_id, csrf_token, created_at, last_seen_at, expires_at FROM sessions WHERE token_hash = $1",
        )
        .bind(token_hash.to_owned())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(SessionRow {
                account_id: r.try_get("account_id")?,
                csrf_token: r.try_get("csrf_token")?,
                created_at: from_ms(r.try_get("created_at")?)?,
                last_seen_at: from_ms(r.try_get("last_seen_at")?)?,
                expires_at: from_ms(r.try_get("expires_at")?)?,
            })
        })
        .transpose()
    }

    /// Extends a session on use. A session deleted meanwhile (signed out elsewhere) is
    /// not an error: there is simply nothing to extend.
    pub async fn touch_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE token_hash = $3")
            .bind(ms(now))
            .bind(ms(expires_at))
            .bind(token_hash.to_owned())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash.to_owned())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Ends every session of an account (disabled, password changed). Returns how many.
    pub async fn delete_sessions_of(&self, account_id: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM sessions WHERE account_id = $1")
            .bind(account_id)
            .execute(self.pool())
            .await?
            .rows_affected())
    }

    /// Deletes sessions whose expiry is at or before `now`. Returns how many.
    pub async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(ms(now))
            .execute(self.pool())
            .await?
            .rows_affected())
    }

    /// Records an API key. A prefix already in use is a `Conflict` (prefixes are the
    /// look-up handle, so they must be unique; the caller draws a new one).
    pub async fn insert_api_key(&self, k: &NewApiKey, now: DateTime<Utc>) -> Result<i64> {
        let id = sqlx::query(
            "INSERT INTO api_keys (prefix, key_hash, unit_id, purpose, label, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (prefix) DO NOTHING RETURNING id",
        )
        .bind(k.prefix.clone())
        .bind(k.key_hash.clone())
        .bind(k.unit_id)
        .bind(k.purpose.code())
        .bind(k.label.clone())
        .bind(ms(now))
        .bind(k.created_by)
        .fetch_optional(self.pool())
        .await?;
        match created_id(id)? {
            Some(id) => Ok(id),
            None => Err(StoreError::Conflict(format!(
                "API key prefix `{}` is taken",
                k.prefix
            ))),
        }
    }

    pub async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<ApiKeyRow>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {KEY_COLS} FROM api_keys WHERE prefix = $1"));
        sqlx::query(sql)
            .bind(prefix.to_owned())
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(key_row)
            .transpose()
    }

    pub async fn api_key(&self, id: i64) -> Result<Option<ApiKeyRow>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {KEY_COLS} FROM api_keys WHERE id = $1"));
        sqlx::query(sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(key_row)
            .transpose()
    }

    /// All API keys, revoked ones included, newest first.
    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {KEY_COLS} FROM api_keys ORDER BY created_at DESC, id DESC"
        ));
        sqlx::query(sql)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(key_row)
            .collect()
    }

    /// Revokes a key. False when it does not exist or was revoked already, so the
    /// original revocation time is kept.
    pub async fn revoke_api_key(&self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let n =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(ms(now))
                .bind(id)
                .execute(self.pool())
                .await?
                .rows_affected();
        Ok(n == 1)
    }

    /// Notes that a key was used now.
    pub async fn touch_api_key(&self, id: i64, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(ms(now))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

fn created_id(row: Option<AnyRow>) -> Result<Option<i64>> {
    Ok(row.map(|r| r.try_get::<i64, _>(0)).transpose()?)
}
