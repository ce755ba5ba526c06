//! Accounts, sign-in with growing back-off and temporary lock, sessions, API keys, and
//! the principal every request acts as. The permission table and the subtree rule are in
//! `minyi_core::access`; this module loads what they need and writes the audit trail.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use minyi_core::access::{
    self, KeyPurpose, LOCK_AFTER_FAILURES, LOCK_MINUTES, Permission, Role, Scope,
};
use minyi_store::{AccountRow, ApiKeyRow, NewAccount, NewApiKey};

use crate::audit::{AuditAction, record};
use crate::{App, AppError, Result};

/// A signed-in staff member, with the scope every read and write is checked against.
#[derive(Debug, Clone)]
pub struct Principal {
    pub account_id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub unit_id: i64,
    pub unit_name: String,
    pub unit_code: String,
    pub scope: Arc<Scope>,
    /// Scoped at the root of the unit tree: sees unrouted matters and city-wide figures.
    pub scope_is_city: bool,
    pub must_change_password: bool,
}

impl Principal {
    pub fn may(&self, p: Permission) -> bool {
        self.role.may(p)
    }

    /// `user:NAME` for the audit log.
    pub fn actor(&self) -> String {
        format!("user:{}", self.username)
    }

    /// Refuses with `Forbidden` unless the role holds the permission.
    pub fn require(&self, p: Permission) -> Result<()> {
        if self.may(p) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }
}

/// A machine identity: an API key or device token bound to one unit and one purpose.
#[derive(Debug, Clone)]
pub struct Machine {
    pub key_id: i64,
    pub prefix: String,
    pub unit_id: i64,
    pub purpose: KeyPurpose,
    pub scope: Arc<Scope>,
}

impl Machine {
    pub fn actor(&self) -> String {
        format!("key:{}", self.prefix)
    }
}

/// A session's cookie token and its CSRF token, handed to the browser once.
#[derive(Debug)]
pub struct NewSession {
    pub token: String,
    pub csrf: String,
    pub principal: Principal,
}

/// Why a sign-in was refused. The messages do not say whether the username exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInRefusal {
    BadCredentials,
    /// Too many failures: locked until then.
    Locked {
        until: DateTime<Utc>,
    },
    /// Failures are piling up: wait this many seconds before the next attempt counts.
    TooSoon {
        wait_secs: i64,
    },
}

/// A session that exists: the principal and the CSRF token its forms must carry.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub principal: Principal,
    pub csrf: String,
}

async fn scope_of(app: &App, unit_id: i64) -> Result<(Arc<Scope>, bool)> {
    let tree = app.store.unit_tree().await?;
    let is_root = tree
        .iter()
        .any(|&(id, parent)| id == unit_id && parent.is_none());
    Ok((Arc::new(Scope::subtree(unit_id, &tree)), is_root))
}

async fn principal_of(app: &App, a: &AccountRow) -> Result<Principal> {
    let (scope, scope_is_city) = scope_of(app, a.unit_id).await?;
    // This runs on every signed-in request: one row, not the whole unit table.
    let (unit_name, unit_code) = app
        .store
        .unit(a.unit_id)
        .await?
        .map(|u| (u.name, u.code.to_string()))
        .unwrap_or_default();
    Ok(Principal {
        account_id: a.id,
        username: a.username.clone(),
        display_name: a.display_name.clone(),
        role: a.role,
        unit_id: a.unit_id,
        unit_name,
        unit_code,
        scope,
        scope_is_city,
        must_change_password: a.must_change_password,
    })
}

/// Checks a username and password and opens a session. Every outcome is audited.
pub async fn sign_in(
    app: &App,
    username: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<std::result::Result<NewSession, SignInRefusal>> {
    let username = username.trim().to_ascii_lowercase();
    let account = app.store.account_by_username(&username).await?;
    let Some(account) = account else {
        // A name that does not exist backs off and locks exactly like one that does, so
        // neither the answers nor their timing tell which names are real.
        if let Some(refusal) = ghost_throttle(&username, now) {
            return Ok(Err(refusal));
        }
        let _ = verify_password(password, dummy_hash()).await;
        let lock = ghost_failure(&username, now);
        record(
            app,
            now,
            "anonymous",
            AuditAction::SignInFailed,
            "account:?",
            "unknown username",
        )
        .await?;
        return Ok(Err(match lock {
            Some(until) => SignInRefusal::Locked { until },
            None => SignInRefusal::BadCredentials,
        }));
    };
    let subject = format!("account:{}", account.username);
    if let Some(refusal) = throttle(
        account.failed_logins,
        account.last_failed_at,
        account.locked_until,
        now,
    ) {
        return Ok(Err(refusal));
    }
    let ok = verify_password(password, &account.password_hash).await;
    if !ok || account.disabled {
        let failures = account.failed_logins + 1;
        let lock = (failures >= LOCK_AFTER_FAILURES).then(|| now + Duration::minutes(LOCK_MINUTES));
        app.store
            .record_login_failure(account.id, now, lock)
            .await?;
        let why = if account.disabled && ok {
            "account disabled"
        } else {
            "wrong password"
        };
        record(
            app,
            now,
            "anonymous",
            AuditAction::SignInFailed,
            &subject,
            why,
        )
        .await?;
        return Ok(Err(match lock {
            Some(until) => SignInRefusal::Locked { until },
            None => SignInRefusal::BadCredentials,
        }));
    }
    app.store.record_login_success(account.id, now).await?;
    let principal = principal_of(app, &account).await?;
    let token = minyi_vault::new_secret_token();
    let csrf = minyi_vault::new_secret_token();
    app.store
        .insert_session(
            &minyi_vault::token_hash(&token),
            account.id,
            &csrf,
            now,
            now + idle(app),
        )
        .await?;
    record(
        app,
        now,
        &principal.actor(),
        AuditAction::SignIn,
        &subject,
        "",
    )
    .await?;
    Ok(Ok(NewSession {
        token,
        csrf,
        principal,
    }))
}

/// The shared rule: locked until a time, or too soon after the last failure.
fn throttle(
    failures: i64,
    last_failed: Option<DateTime<Utc>>,
    locked_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<SignInRefusal> {
    if let Some(until) = locked_until
        && until > now
    {
        return Some(SignInRefusal::Locked { until });
    }
    let wait = access::sign_in_backoff_secs(failures);
    let ready = last_failed? + Duration::seconds(wait);
    (wait > 0 && ready > now).then(|| SignInRefusal::TooSoon {
        wait_secs: (ready - now).num_seconds().max(1),
    })
}

/// Failures against names that do not exist: (count, last failure, locked until).
type Ghost = (i64, DateTime<Utc>, Option<DateTime<Utc>>);

fn ghosts() -> &'static std::sync::Mutex<std::collections::HashMap<String, Ghost>> {
    static G: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<String, Ghost>>> =
        std::sync::OnceLock::new();
    G.get_or_init(Default::default)
}

fn ghost_throttle(name: &str, now: DateTime<Utc>) -> Option<SignInRefusal> {
    let g = ghosts().lock().unwrap_or_else(|e| e.into_inner());
    let &(failures, last, locked) = g.get(name)?;
    throttle(failures, Some(last), locked, now)
}

/// Counts a failure against a name that does not exist; returns the lock if it starts now.
fn ghost_failure(name: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut g = ghosts().lock().unwrap_or_else(|e| e.into_inner());
    // Bounded memory: forget names idle longer than a lock lasts, then, if a flood of
    // invented names still fills the table, start again (the per-address rate limit is
    // the real guard against floods).
    if g.len() >= 10_000 {
        g.retain(|_, (_, last, _)| now - *last < Duration::minutes(LOCK_MINUTES));
        if g.len() >= 10_000 {
            g.clear();
        }
    }
    let e = g.entry(name.to_owned()).or_insert((0, now, None));
    e.0 += 1;
    e.1 = now;
    if e.0 >= LOCK_AFTER_FAILURES {
        e.2 = Some(now + Duration::minutes(LOCK_MINUTES));
    }
    e.2
}

fn idle(app: &App) -> Duration {
    Duration::minutes(app.config.security.session_idle_minutes)
}

/// argon2id is deliberately slow: hash and verify off the async threads.
async fn hash_password(password: &str) -> Result<String> {
    let pw = password.to_owned();
    tokio::task::spawn_blocking(move || minyi_vault::hash_password(&pw))
        .await
        .map_err(|e| AppError::Refused(format!("password hashing failed: {e}")))?
        .map_err(|e| AppError::Refused(e.to_string()))
}

async fn verify_password(password: &str, phc: &str) -> bool {
    let (pw, phc) = (password.to_owned(), phc.to_owned());
    tokio::task::spawn_blocking(move || minyi_vault::verify_password(&pw, &phc))
        .await
        .unwrap_or(false)
}

fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| minyi_vault::hash_password("minyi timing equaliser").unwrap_or_default())
}

/// The session behind a cookie token, if it exists, has not expired (idle or absolute),
/// and its account is still enabled. Slides the idle expiry forward.
pub async fn session(app: &App, token: &str, now: DateTime<Utc>) -> Result<Option<ActiveSession>> {
    let hash = minyi_vault::token_hash(token);
    let Some(s) = app.store.session(&hash).await? else {
        return Ok(None);
    };
    let max = s.created_at + Duration::hours(app.config.security.session_max_hours);
    if s.expires_at <= now || max <= now {
        app.store.delete_session(&hash).await?;
        return Ok(None);
    }
    let Some(account) = app.store.account(s.account_id).await? else {
        app.store.delete_session(&hash).await?;
        return Ok(None);
    };
    if account.disabled {
        app.store.delete_session(&hash).await?;
        return Ok(None);
    }
    // Writing on every request would serialise reads behind SQLite's writer; a minute of
    // slack on the idle clock costs nothing.
    if now - s.last_seen_at > Duration::minutes(1) {
        app.store
            .touch_session(&hash, now, (now + idle(app)).min(max))
            .await?;
    }
    Ok(Some(ActiveSession {
        principal: principal_of(app, &account).await?,
        csrf: s.csrf_token,
    }))
}

pub async fn sign_out(app: &App, token: &str, who: &Principal, now: DateTime<Utc>) -> Result<()> {
    app.store
        .delete_session(&minyi_vault::token_hash(token))
        .await?;
    record(
        app,
        now,
        &who.actor(),
        AuditAction::SignOut,
        &format!("account:{}", who.username),
        "",
    )
    .await?;
    Ok(())
}

/// A password a person chose: long enough to resist guessing, not absurdly long (argon2
/// hashes whatever it is given, so a megabyte password is a cheap denial of service).
pub fn check_password_strength(password: &str) -> std::result::Result<(), &'static str> {
    let n = password.chars().count();
    if n < 10 {
        return Err("password_too_short");
    }
    if n > 200 {
        return Err("password_too_long");
    }
    if password.chars().all(|c| c.is_ascii_digit()) {
        return Err("password_only_digits");
    }
    Ok(())
}

/// A random password for new accounts and resets: 16 characters, no look-alikes.
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let token = minyi_vault::new_secret_token();
    token
        .bytes()
        .take(16)
        .map(|b| ALPHABET[b as usize % ALPHABET.len()] as char)
        .collect()
}

/// Usernames: 3–32 of `a-z 0-9 . _ -`, starting with a letter; case-folded.
pub fn parse_username(s: &str) -> std::result::Result<String, &'static str> {
    let s = s.trim().to_ascii_lowercase();
    let n = s.len();
    if !(3..=32).contains(&n) {
        return Err("username_length");
    }
    if !s.starts_with(|c: char| c.is_ascii_lowercase())
        || !s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
    {
        return Err("username_chars");
    }
    Ok(s)
}

/// Who is asking for an account change: a signed-in administrator (checked against the
/// subtree) or the command line on the server itself.
pub enum Operator<'a> {
    Cli,
    User(&'a Principal),
}

impl Operator<'_> {
    fn actor(&self) -> String {
        match self {
            Operator::Cli => "cli".into(),
            Operator::User(p) => p.actor(),
        }
    }

    fn check_unit(&self, unit_id: i64) -> Result<()> {
        match self {
            Operator::Cli => Ok(()),
            Operator::User(p) => {
                p.require(Permission::ManageAccounts)?;
                if p.scope.contains(unit_id) {
                    Ok(())
                } else {
                    Err(AppError::NotFound)
                }
            }
        }
    }
}

/// Creates an account with the given password (already strength-checked by the caller
/// when a person chose it), audited.
#[allow(clippy::too_many_arguments)]
pub async fn create_account(
    app: &App,
    by: Operator<'_>,
    username: &str,
    display_name: &str,
    role: Role,
    unit_code: &str,
    password: &str,
    must_change_password: bool,
    synthetic: bool,
    now: DateTime<Utc>,
) -> Result<i64> {
    let username = parse_username(username)
        .map_err(|k| AppError::Invalid(format!("username `{}`: {k}", username.trim())))?;
    let unit = app
        .store
        .unit_by_code(unit_code.trim())
        .await?
        .ok_or_else(|| AppError::Invalid(format!("no unit with code `{}`", unit_code.trim())))?;
    by.check_unit(unit.id)?;
    if let Operator::User(p) = &by
        && p.role != Role::Admin
    {
        return Err(AppError::Forbidden);
    }
    let display_name = display_name.trim();
    if display_name.is_empty() || display_name.chars().count() > 60 {
        return Err(AppError::Invalid(
            "display name must be 1–60 characters".into(),
        ));
    }
    let password_hash = hash_password(password).await?;
    let id = app
        .store
        .insert_account(
            &NewAccount {
                username: username.clone(),
                display_name: display_name.to_owned(),
                role,
                unit_id: unit.id,
                password_hash,
                must_change_password,
                synthetic,
            },
            now,
        )
        .await?;
    record(
        app,
        now,
        &by.actor(),
        AuditAction::AccountCreated,
        &format!("account:{username}"),
        &format!("role={} unit={}", role.code(), unit.code),
    )
    .await?;
    Ok(id)
}

/// Finds an account the operator may manage; a foreign one is "not found".
async fn managed_account(app: &App, by: &Operator<'_>, username: &str) -> Result<AccountRow> {
    let a = app
        .store
        .account_by_username(&username.trim().to_ascii_lowercase())
        .await?
        .ok_or(AppError::NotFound)?;
    by.check_unit(a.unit_id)?;
    Ok(a)
}

pub async fn set_disabled(
    app: &App,
    by: Operator<'_>,
    username: &str,
    disabled: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    let a = managed_account(app, &by, username).await?;
    if let Operator::User(p) = &by
        && p.account_id == a.id
        && disabled
    {
        return Err(AppError::Invalid(
            "you cannot disable your own account".into(),
        ));
    }
    app.store.set_account_disabled(a.id, disabled).await?;
    if disabled {
        app.store.delete_sessions_of(a.id).await?;
    }
    record(
        app,
        now,
        &by.actor(),
        if disabled {
            AuditAction::AccountDisabled
        } else {
            AuditAction::AccountEnabled
        },
        &format!("account:{}", a.username),
        "",
    )
    .await?;
    Ok(())
}

/// Sets a new random password the user must change at next sign-in; ends their sessions.
pub async fn reset_password(
    app: &App,
    by: Operator<'_>,
    username: &str,
    now: DateTime<Utc>,
) -> Result<String> {
    let a = managed_account(app, &by, username).await?;
    let password = random_password();
    let hash = hash_password(&password).await?;
    app.store.set_password(a.id, &hash, true).await?;
    app.store.delete_sessions_of(a.id).await?;
    record(
        app,
        now,
        &by.actor(),
        AuditAction::PasswordReset,
        &format!("account:{}", a.username),
        "",
    )
    .await?;
    Ok(password)
}

/// A user changes their own password, knowing the current one.
pub async fn change_own_password(
    app: &App,
    who: &Principal,
    current: &str,
    new: &str,
    now: DateTime<Utc>,
) -> Result<std::result::Result<(), &'static str>> {
    let Some(a) = app.store.account(who.account_id).await? else {
        return Err(AppError::NotFound);
    };
    if !verify_password(current, &a.password_hash).await {
        return Ok(Err("password_current_wrong"));
    }
    if let Err(k) = check_password_strength(new) {
        return Ok(Err(k));
    }
    if new == current {
        return Ok(Err("password_unchanged"));
    }
    let hash = hash_password(new).await?;
    app.store.set_password(a.id, &hash, false).await?;
    record(
        app,
        now,
        &who.actor(),
        AuditAction::PasswordReset,
        &format!("account:{}", a.username),
        "own password changed",
    )
    .await?;
    Ok(Ok(()))
}

/// Accounts the principal may manage, i.e. those of its subtree.
pub async fn accounts_visible(app: &App, by: &Operator<'_>) -> Result<Vec<AccountRow>> {
    let all = app.store.accounts().await?;
    Ok(match by {
        Operator::Cli => all,
        Operator::User(p) => {
            p.require(Permission::ManageAccounts)?;
            all.into_iter()
                .filter(|a| p.scope.contains(a.unit_id))
                .collect()
        }
    })
}

/// A new API key: the full key is returned once and never stored.
pub async fn create_api_key(
    app: &App,
    by: Operator<'_>,
    unit_code: &str,
    purpose: KeyPurpose,
    label: &str,
    now: DateTime<Utc>,
) -> Result<(i64, String)> {
    let unit = app
        .store
        .unit_by_code(unit_code.trim())
        .await?
        .ok_or_else(|| AppError::Invalid(format!("no unit with code `{}`", unit_code.trim())))?;
    let created_by = match &by {
        Operator::Cli => None,
        Operator::User(p) => {
            p.require(Permission::ManageApiKeys)?;
            if !p.scope.contains(unit.id) {
                return Err(AppError::NotFound);
            }
            Some(p.account_id)
        }
    };
    let label = label.trim();
    if label.chars().count() > 100 {
        return Err(AppError::Invalid("label: at most 100 characters".into()));
    }
    let k = minyi_vault::new_api_key();
    let id = app
        .store
        .insert_api_key(
            &NewApiKey {
                prefix: k.prefix.clone(),
                key_hash: k.key_hash,
                unit_id: unit.id,
                purpose,
                label: label.to_owned(),
                created_by,
            },
            now,
        )
        .await?;
    record(
        app,
        now,
        &by.actor(),
        AuditAction::ApiKeyCreated,
        &format!("key:{}", k.prefix),
        &format!("purpose={} unit={}", purpose.code(), unit.code),
    )
    .await?;
    Ok((id, k.key))
}

pub async fn api_keys_visible(app: &App, by: &Operator<'_>) -> Result<Vec<ApiKeyRow>> {
    let all = app.store.api_keys().await?;
    Ok(match by {
        Operator::Cli => all,
        Operator::User(p) => {
            p.require(Permission::ManageApiKeys)?;
            all.into_iter()
                .filter(|k| p.scope.contains(k.unit_id))
                .collect()
        }
    })
}

/// Revokes by id or prefix. A key outside the operator's subtree is "not found".
pub async fn revoke_api_key(
    app: &App,
    by: Operator<'_>,
    id_or_prefix: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let s = id_or_prefix.trim();
    let key = match s.parse::<i64>() {
        Ok(id) => app.store.api_key(id).await?,
        Err(_) => app.store.api_key_by_prefix(s).await?,
    }
    .ok_or(AppError::NotFound)?;
    if let Operator::User(p) = &by {
        p.require(Permission::ManageApiKeys)?;
        if !p.scope.contains(key.unit_id) {
            return Err(AppError::NotFound);
        }
    }
    if !app.store.revoke_api_key(key.id, now).await? {
        return Err(AppError::Invalid(format!(
            "key {} is already revoked",
            key.prefix
        )));
    }
    record(
        app,
        now,
        &by.actor(),
        AuditAction::ApiKeyRevoked,
        &format!("key:{}", key.prefix),
        "",
    )
    .await?;
    Ok(())
}

/// The machine behind a presented key, if the key is well-formed, known, not revoked and
/// issued for `purpose`. Records its last use.
pub async fn machine(
    app: &App,
    presented: &str,
    purpose: KeyPurpose,
    now: DateTime<Utc>,
) -> Result<Option<Machine>> {
    let Some(prefix) = minyi_vault::api_key_prefix(presented.trim()) else {
        return Ok(None);
    };
    let Some(k) = app.store.api_key_by_prefix(prefix).await? else {
        return Ok(None);
    };
    if k.revoked_at.is_some()
        || k.purpose != purpose
        || !minyi_vault::constant_time_eq(&minyi_vault::token_hash(presented.trim()), &k.key_hash)
    {
        return Ok(None);
    }
    if k.last_used_at
        .is_none_or(|t| now - t > Duration::minutes(1))
    {
        app.store.touch_api_key(k.id, now).await?;
    }
    let (scope, _) = scope_of(app, k.unit_id).await?;
    Ok(Some(Machine {
        key_id: k.id,
        prefix: k.prefix,
        unit_id: k.unit_id,
        purpose: k.purpose,
        scope,
    }))
}

/// On first start with no accounts: an administrator at the root unit (creating the root
/// unit on an empty store) with a random password, returned to be printed once.
pub async fn ensure_first_admin(app: &App, now: DateTime<Utc>) -> Result<Option<(String, String)>> {
    if app.store.count_accounts().await? > 0 {
        return Ok(None);
    }
    let tree = app.store.unit_tree().await?;
    let root_code = match tree.iter().find(|(_, p)| p.is_none()) {
        Some(&(id, _)) => app
            .store
            .units()
            .await?
            .into_iter()
            .find(|u| u.id == id)
            .map(|u| u.code.as_str().to_owned())
            .ok_or_else(|| AppError::Refused("the root unit vanished".into()))?,
        None => {
            let code =
                minyi_core::Code::parse("bureau").map_err(|e| AppError::Invalid(e.to_string()))?;
            app.store
                .insert_units(&[minyi_core::org::NewUnit {
                    code: code.clone(),
                    kind: minyi_core::org::UnitKind::CityBureau,
                    name: app.config.security.bureau_name.clone(),
                    parent: None,
                    window: None,
                    department: None,
                    synthetic: false,
                }])
                .await?;
            code.as_str().to_owned()
        }
    };
    let password = random_password();
    create_account(
        app,
        Operator::Cli,
        "admin",
        "系统管理员",
        Role::Admin,
        &root_code,
        &password,
        true,
        false,
        now,
    )
    .await?;
    Ok(Some(("admin".into(), password)))
}
