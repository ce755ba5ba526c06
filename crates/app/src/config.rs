//! Configuration: defaults in code, then `minyi.toml` (in the data directory, or the file
//! given), then `MINYI_*` environment variables, then command-line flags. Unknown keys
//! are errors, so a typo never silently leaves a default in place.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {message}")]
    File { path: String, message: String },
    #[error("data directory {0} exists but is not a directory")]
    NotADirectory(String),
    #[error("environment variable {var}: {message}")]
    Env { var: &'static str, message: String },
    /// Keys that are each fine but do not fit together (checked after every layer).
    #[error("configuration key {key}: {message}")]
    Key { key: &'static str, message: String },
}

/// What `minyi.toml` may contain. Every key is optional.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub database_url: Option<String>,
    pub listen: Option<String>,
    /// A working-day calendar file replacing the built-in one (see docs/formats.md).
    pub calendar_file: Option<PathBuf>,
    pub log: Option<String>,
    /// Where the data key lives (default: `minyi.key` in the data directory).
    pub data_key_file: Option<PathBuf>,
    /// Sign-outs after this many minutes without a request.
    pub session_idle_minutes: Option<i64>,
    /// Sign-outs this many hours after sign-in, however active.
    pub session_max_hours: Option<i64>,
    /// Mark cookies Secure: set when minyi is reached over HTTPS (behind the bureau's proxy).
    pub secure_cookies: Option<bool>,
    /// Take the client address from X-Forwarded-For (only behind a trusted reverse proxy).
    pub trust_forwarded_for: Option<bool>,
    /// Sign-in attempts per minute from one address.
    pub login_rate_per_minute: Option<u32>,
    /// Public submissions per minute from one address.
    pub intake_rate_per_minute: Option<u32>,
    /// Closed matters older than this many days have their residents' identities anonymised
    /// by `minyi retention run`.
    pub retention_days: Option<i64>,
    /// The name given to the root unit when minyi starts on an empty store.
    pub bureau_name: Option<String>,
    /// The address residents reach minyi at (`https://minyi.example.gov.cn`): printed in
    /// the QR codes of contact cards and boards.
    pub public_url: Option<String>,
    /// How SMS to residents leave: `log` (default, a file in the data directory) or `http`.
    pub sms_provider: Option<String>,
    /// The SMS gateway's endpoint for `sms_provider = "http"` (http:// only).
    pub sms_gateway_url: Option<String>,
    /// Sent as `Authorization: Bearer …` to the gateway; prefer MINYI_SMS_GATEWAY_TOKEN.
    pub sms_gateway_token: Option<String>,
    /// zh-CN message templates by code (`received`, `answered`), with `{code}` and `{due}`.
    pub sms_templates: Option<std::collections::BTreeMap<String, String>>,
    /// Deadline watch: remind this many hours before a deadline.
    pub remind_hours: Option<i64>,
    /// Deadline watch: escalate to the county bureau this many working days late.
    pub escalate_county_after_working_days: Option<u32>,
    /// Deadline watch: escalate to the city bureau this many working days late.
    pub escalate_city_after_working_days: Option<u32>,
    /// `[triage]`: the classifier model file and its review threshold.
    pub triage: Option<crate::triage::TriageFile>,
    /// `[merge]`: the near-duplicate window and similarity threshold.
    pub merge: Option<crate::triage::MergeFile>,
    /// `[callbacks]`: callback rules, attempts and case-progress notices, laid over the
    /// shipped rules (`minyi_core::callback::DEFAULT_RULES`).
    pub callbacks: Option<toml::Table>,
    /// `[kiosk]`: the window rating devices' scale and dissatisfaction reasons.
    pub kiosk: Option<crate::kiosk::KioskFile>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub listen: SocketAddr,
    pub calendar_file: Option<PathBuf>,
    pub log: String,
    /// The public base URL (no trailing `/`); `None` means `http://` + `listen`.
    pub public_url: Option<String>,
    pub security: SecurityConfig,
    pub sms: SmsConfig,
    pub watch: crate::watch::WatchRules,
    pub triage: crate::triage::TriageConfig,
    pub callbacks: minyi_core::callback::CallbackRules,
    pub kiosk: crate::kiosk::KioskConfig,
}

/// A secret from the environment: usable, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

#[derive(Debug, Clone)]
pub struct SecurityConfig {
    /// `MINYI_DATA_KEY`: the data key itself, instead of a key file.
    pub data_key: Option<Secret>,
    pub data_key_file: Option<PathBuf>,
    pub session_idle_minutes: i64,
    pub session_max_hours: i64,
    pub secure_cookies: bool,
    pub trust_forwarded_for: bool,
    pub login_rate_per_minute: u32,
    pub intake_rate_per_minute: u32,
    pub retention_days: i64,
    pub bureau_name: String,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            data_key: None,
            data_key_file: None,
            session_idle_minutes: 120,
            session_max_hours: 12,
            secure_cookies: false,
            trust_forwarded_for: false,
            login_rate_per_minute: 10,
            intake_rate_per_minute: 30,
            // Three years: long enough for appeals and the annual assessment to be checked.
            retention_days: 3 * 365,
            bureau_name: "市公安局".into(),
        }
    }
}

/// Where residents' SMS go (see `notify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsProvider {
    /// One JSON line per message in `DATA_DIR/outbox.log`, phone masked: for trials and
    /// for bureaus whose gateway picks messages up from a file.
    Log,
    /// POST to the bureau's SMS gateway.
    Http,
}

#[derive(Debug, Clone)]
pub struct SmsConfig {
    pub provider: SmsProvider,
    pub gateway_url: Option<String>,
    pub gateway_token: Option<Secret>,
    /// `received` → text, `answered` → text; always both (defaults fill what is not set).
    pub templates: std::collections::BTreeMap<String, String>,
    /// Failed attempts before a message is given up (dead).
    pub max_attempts: i64,
}

pub const SMS_TEMPLATE_RECEIVED: &str = "您的诉求已受理，查询码{code}，我们将在{due}前答复。";
pub const SMS_TEMPLATE_ANSWERED: &str =
    "您的诉求{code}已答复，请登录查询并评价：回复1满意、2基本满意、3不满意。";
/// The template codes, and the placeholders a template may use.
pub const SMS_TEMPLATE_CODES: &[&str] = &["received", "answered"];
pub const SMS_PLACEHOLDERS: &[&str] = &["code", "due"];

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            provider: SmsProvider::Log,
            gateway_url: None,
            gateway_token: None,
            templates: [
                ("received".to_owned(), SMS_TEMPLATE_RECEIVED.to_owned()),
                ("answered".to_owned(), SMS_TEMPLATE_ANSWERED.to_owned()),
            ]
            .into_iter()
            .collect(),
            max_attempts: 8,
        }
    }
}

impl SmsConfig {
    fn set_provider(&mut self, v: &str) -> Result<(), String> {
        self.provider = match v.trim() {
            "log" => SmsProvider::Log,
            "http" => SmsProvider::Http,
            other => {
                return Err(format!(
                    "sms_provider = `{other}` is not one of `log`, `http`"
                ));
            }
        };
        Ok(())
    }

    fn set_url(&mut self, v: &str) -> Result<(), String> {
        let v = v.trim();
        if !v.starts_with("http://") || v.len() <= "http://".len() {
            return Err(format!(
                "sms_gateway_url = `{v}` must be an http:// URL (reach an https gateway through the bureau's gateway proxy)"
            ));
        }
        self.gateway_url = Some(v.to_owned());
        Ok(())
    }

    fn set_template(&mut self, code: &str, text: &str) -> Result<(), String> {
        if !SMS_TEMPLATE_CODES.contains(&code) {
            return Err(format!(
                "sms_templates.{code}: unknown template; known: {}",
                SMS_TEMPLATE_CODES.join(", ")
            ));
        }
        let mut rest = text;
        while let Some(i) = rest.find('{') {
            let after = &rest[i + 1..];
            let name = after.split('}').next().unwrap_or("");
            if !after.contains('}') || !SMS_PLACEHOLDERS.contains(&name) {
                return Err(format!(
                    "sms_templates.{code}: unknown placeholder `{{{name}`; use {{code}} and {{due}}"
                ));
            }
            rest = &after[name.len() + 1..];
        }
        if text.trim().is_empty() {
            return Err(format!("sms_templates.{code} is empty"));
        }
        self.templates.insert(code.to_owned(), text.to_owned());
        Ok(())
    }

    /// Checks the keys against each other, once every layer is in.
    fn validate(&self) -> Result<(), ConfigError> {
        if self.provider == SmsProvider::Http && self.gateway_url.is_none() {
            return Err(ConfigError::Key {
                key: "sms_gateway_url",
                message: "sms_provider = \"http\" needs the gateway's URL".into(),
            });
        }
        Ok(())
    }
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const CONFIG_FILE: &str = "minyi.toml";

impl Config {
    /// Defaults for a data directory, before any file or environment is read.
    pub fn defaults(data_dir: PathBuf) -> Config {
        Config {
            data_dir,
            database_url: None,
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080))),
            calendar_file: None,
            log: "info".into(),
            public_url: None,
            security: SecurityConfig::default(),
            sms: SmsConfig::default(),
            watch: crate::watch::WatchRules::default(),
            triage: crate::triage::TriageConfig::default(),
            callbacks: minyi_core::callback::CallbackRules::default(),
            kiosk: crate::kiosk::KioskConfig::default(),
        }
    }

    /// Loads the layers in order. `file` overrides the default `DATA_DIR/minyi.toml`,
    /// which may be absent; an explicitly named file must exist.
    pub fn load(
        data_dir: PathBuf,
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        if data_dir.exists() && !data_dir.is_dir() {
            return Err(ConfigError::NotADirectory(data_dir.display().to_string()));
        }
        let mut config = Config::defaults(data_dir);
        let (path, required) = match file {
            Some(p) => (p.to_owned(), true),
            None => (config.data_dir.join(CONFIG_FILE), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => config.apply_file(&path, &text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {}
            Err(e) => {
                return Err(ConfigError::File {
                    path: path.display().to_string(),
                    message: e.to_string(),
                });
            }
        }
        if let Some(url) = env("MINYI_DATABASE_URL").filter(|v| !v.trim().is_empty()) {
            config.database_url = Some(url);
        }
        if let Some(listen) = env("MINYI_LISTEN").filter(|v| !v.trim().is_empty()) {
            config.listen = parse_listen(&listen).map_err(|message| ConfigError::Env {
                var: "MINYI_LISTEN",
                message,
            })?;
        }
        if let Some(cal) = env("MINYI_CALENDAR_FILE").filter(|v| !v.trim().is_empty()) {
            config.calendar_file = Some(PathBuf::from(cal));
        }
        if let Some(log) = env("MINYI_LOG").filter(|v| !v.trim().is_empty()) {
            config.log = log;
        }
        if let Some(v) = env("MINYI_PUBLIC_URL").filter(|v| !v.trim().is_empty()) {
            config.public_url = Some(parse_public_url(&v).map_err(|message| ConfigError::Env {
                var: "MINYI_PUBLIC_URL",
                message,
            })?);
        }
        if let Some(key) = env("MINYI_DATA_KEY").filter(|v| !v.trim().is_empty()) {
            config.security.data_key = Some(Secret(key.trim().to_owned()));
        }
        for (var, slot) in [
            ("MINYI_SECURE_COOKIES", &mut config.security.secure_cookies),
            (
                "MINYI_TRUST_FORWARDED_FOR",
                &mut config.security.trust_forwarded_for,
            ),
        ] {
            if let Some(v) = env(var).filter(|v| !v.trim().is_empty()) {
                *slot = parse_bool(&v).ok_or_else(|| ConfigError::Env {
                    var,
                    message: format!("`{v}` is not true or false"),
                })?;
            }
        }
        if let Some(v) = env("MINYI_SMS_PROVIDER").filter(|v| !v.trim().is_empty()) {
            config
                .sms
                .set_provider(&v)
                .map_err(|message| ConfigError::Env {
                    var: "MINYI_SMS_PROVIDER",
                    message,
                })?;
        }
        if let Some(v) = env("MINYI_SMS_GATEWAY_URL").filter(|v| !v.trim().is_empty()) {
            config.sms.set_url(&v).map_err(|message| ConfigError::Env {
                var: "MINYI_SMS_GATEWAY_URL",
                message,
            })?;
        }
        if let Some(v) = env("MINYI_SMS_GATEWAY_TOKEN").filter(|v| !v.trim().is_empty()) {
            config.sms.gateway_token = Some(Secret(v.trim().to_owned()));
        }
        config.sms.validate()?;
        Ok(config)
    }

    fn apply_file(&mut self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let err = |message: String| ConfigError::File {
            path: path.display().to_string(),
            message,
        };
        let file: FileConfig =
            toml::from_str(text).map_err(|e| err(e.to_string().trim().replace('\n', " ")))?;
        if let Some(url) = file.database_url {
            self.database_url = Some(url);
        }
        if let Some(listen) = file.listen {
            self.listen = parse_listen(&listen).map_err(|m| err(format!("listen: {m}")))?;
        }
        if let Some(cal) = file.calendar_file {
            // Relative paths in the file are relative to the file, not to wherever minyi was started.
            self.calendar_file = Some(if cal.is_relative() {
                path.parent().unwrap_or(Path::new(".")).join(cal)
            } else {
                cal
            });
        }
        if let Some(log) = file.log {
            self.log = log;
        }
        if let Some(v) = file.public_url {
            self.public_url =
                Some(parse_public_url(&v).map_err(|m| err(format!("public_url: {m}")))?);
        }
        let sec = &mut self.security;
        if let Some(f) = file.data_key_file {
            sec.data_key_file = Some(if f.is_relative() {
                path.parent().unwrap_or(Path::new(".")).join(f)
            } else {
                f
            });
        }
        if let Some(v) = file.session_idle_minutes {
            sec.session_idle_minutes =
                in_range("session_idle_minutes", v, 1, 24 * 60).map_err(err)?;
        }
        if let Some(v) = file.session_max_hours {
            sec.session_max_hours = in_range("session_max_hours", v, 1, 7 * 24).map_err(err)?;
        }
        if let Some(v) = file.secure_cookies {
            sec.secure_cookies = v;
        }
        if let Some(v) = file.trust_forwarded_for {
            sec.trust_forwarded_for = v;
        }
        if let Some(v) = file.login_rate_per_minute {
            sec.login_rate_per_minute =
                in_range("login_rate_per_minute", i64::from(v), 1, 10_000).map_err(err)? as u32;
        }
        if let Some(v) = file.intake_rate_per_minute {
            sec.intake_rate_per_minute =
                in_range("intake_rate_per_minute", i64::from(v), 1, 1_000_000).map_err(err)? as u32;
        }
        if let Some(v) = file.retention_days {
            sec.retention_days = in_range("retention_days", v, 30, 36_500).map_err(err)?;
        }
        if let Some(v) = file.bureau_name {
            minyi_core::org::check_name("bureau_name", &v).map_err(|e| err(e.to_string()))?;
            sec.bureau_name = v.trim().to_owned();
        }
        if let Some(v) = file.remind_hours {
            self.watch.remind_hours = in_range("remind_hours", v, 0, 24 * 14).map_err(err)?;
        }
        if let Some(v) = file.escalate_county_after_working_days {
            self.watch.county_after_working_days =
                in_range("escalate_county_after_working_days", i64::from(v), 0, 60).map_err(err)?
                    as u32;
        }
        if let Some(v) = file.escalate_city_after_working_days {
            self.watch.city_after_working_days =
                in_range("escalate_city_after_working_days", i64::from(v), 0, 60).map_err(err)?
                    as u32;
        }
        if self.watch.city_after_working_days < self.watch.county_after_working_days {
            return Err(err(format!(
                "escalate_city_after_working_days ({}) must not be less than escalate_county_after_working_days ({})",
                self.watch.city_after_working_days, self.watch.county_after_working_days
            )));
        }
        self.triage
            .apply_file(path, file.triage, file.merge)
            .map_err(err)?;
        let sms = &mut self.sms;
        if let Some(v) = file.sms_provider {
            sms.set_provider(&v).map_err(err)?;
        }
        if let Some(v) = file.sms_gateway_url {
            sms.set_url(&v).map_err(err)?;
        }
        if let Some(v) = file.sms_gateway_token.filter(|v| !v.trim().is_empty()) {
            sms.gateway_token = Some(Secret(v.trim().to_owned()));
        }
        for (code, text) in file.sms_templates.unwrap_or_default() {
            sms.set_template(&code, &text).map_err(err)?;
        }
        if let Some(section) = &file.callbacks {
            self.callbacks = minyi_core::callback::CallbackRules::from_toml(Some(section))
                .map_err(|e| err(e.to_string()))?;
        }
        if let Some(k) = &file.kiosk {
            self.kiosk = crate::kiosk::KioskConfig::from_file(k).map_err(err)?;
        }
        Ok(())
    }

    /// Where residents reach this server, without a trailing `/`: the configured
    /// `public_url`, or the listen address (fine on one machine, wrong on printed cards —
    /// the card page says so).
    pub fn public_base_url(&self) -> String {
        match &self.public_url {
            Some(u) => u.clone(),
            None => format!("http://{}", self.listen),
        }
    }

    /// The database URL in force: the configured one, or the SQLite file in the data directory.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => format!("sqlite://{}", self.data_dir.join("minyi.db").display()),
        }
    }
}

fn in_range(key: &str, v: i64, lo: i64, hi: i64) -> Result<i64, String> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{key} = {v} is outside {lo}..={hi}"))
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// An absolute http(s) URL with a host and nothing after the path: what goes before
/// `/q/…` in a printed QR code. A trailing `/` is dropped.
pub fn parse_public_url(s: &str) -> Result<String, String> {
    let v = s.trim();
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"))
        .ok_or_else(|| format!("`{v}` must start with http:// or https://"))?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') || host.contains('@') {
        return Err(format!(
            "`{v}` has no host (like https://minyi.example.gov.cn)"
        ));
    }
    if let Some(bad) = v.chars().find(|c| {
        c.is_whitespace() || c.is_control() || matches!(c, '?' | '#' | '"' | '<' | '>' | '\\')
    }) {
        return Err(format!(
            "`{}` contains `{}`; give only the scheme, host, port and path",
            v.escape_debug(),
            bad.escape_debug()
        ));
    }
    if v.len() > 200 {
        return Err(format!(
            "`{v}` is longer than 200 characters; a QR code of it would be hard to scan"
        ));
    }
    Ok(v.trim_end_matches('/').to_owned())
}

pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("`{s}` is not an address like 127.0.0.1:8080"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = std::env::temp_dir().join(format!("minyi-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(CONFIG_FILE),
            "listen = \"127.0.0.1:9000\"\ncalendar_file = \"cal.toml\"\n",
        )
        .unwrap();
        let c = Config::load(dir.clone(), None, &no_env).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.calendar_file, Some(dir.join("cal.toml")));
        assert!(c.effective_database_url().ends_with("minyi.db"));
        let env = |k: &str| (k == "MINYI_LISTEN").then(|| "127.0.0.1:9100".to_string());
        assert_eq!(
            Config::load(dir.clone(), None, &env).unwrap().listen.port(),
            9100
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn watch_thresholds_are_read_and_checked() {
        let dir = std::env::temp_dir().join(format!("minyi-config-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(CONFIG_FILE),
            "remind_hours = 12\nescalate_county_after_working_days = 1\nescalate_city_after_working_days = 3\n",
        )
        .unwrap();
        let c = Config::load(dir.clone(), None, &no_env).unwrap();
        assert_eq!(
            (
                c.watch.remind_hours,
                c.watch.county_after_working_days,
                c.watch.city_after_working_days
            ),
            (12, 1, 3)
        );
        std::fs::write(
            dir.join(CONFIG_FILE),
            "escalate_county_after_working_days = 4\nescalate_city_after_working_days = 2\n",
        )
        .unwrap();
        let e = Config::load(dir.clone(), None, &no_env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("escalate_city_after_working_days"), "{e}");
        std::fs::write(dir.join(CONFIG_FILE), "remind_hours = -1\n").unwrap();
        let e = Config::load(dir.clone(), None, &no_env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("remind_hours"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_files_name_the_file_and_key() {
        let dir = std::env::temp_dir().join(format!("minyi-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(CONFIG_FILE), "lisen = \"x\"\n").unwrap();
        let e = Config::load(dir.clone(), None, &no_env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("minyi.toml") && e.contains("lisen"), "{e}");
        std::fs::write(dir.join(CONFIG_FILE), "listen = \"nowhere\"\n").unwrap();
        let e = Config::load(dir.clone(), None, &no_env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("listen") && e.contains("nowhere"), "{e}");
        std::fs::write(dir.join(CONFIG_FILE), "listen = [\n").unwrap();
        assert!(Config::load(dir.clone(), None, &no_env).is_err());
        let missing = dir.join("absent.toml");
        let e = Config::load(dir.clone(), Some(&missing), &no_env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("absent.toml"), "{e}");
        let env = |k: &str| (k == "MINYI_LISTEN").then(|| "bad".to_string());
        std::fs::remove_file(dir.join(CONFIG_FILE)).unwrap();
        let e = Config::load(dir.clone(), None, &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("MINYI_LISTEN"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn load_text(
        name: &str,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, String> {
        let dir = std::env::temp_dir().join(format!("minyi-config-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(CONFIG_FILE), text).unwrap();
        let c = Config::load(dir.clone(), None, env).map_err(|e| e.to_string());
        std::fs::remove_dir_all(&dir).unwrap();
        c
    }

    #[test]
    fn sms_defaults_and_overrides() {
        let c = load_text("sms-default", "", &no_env).unwrap();
        assert_eq!(c.sms.provider, SmsProvider::Log);
        assert_eq!(c.sms.templates["received"], SMS_TEMPLATE_RECEIVED);
        assert_eq!(c.sms.templates["answered"], SMS_TEMPLATE_ANSWERED);
        let text = "sms_provider = \"http\"\nsms_gateway_url = \"http://127.0.0.1:9/send\"\n\
                    sms_gateway_token = \"tok-file\"\n[sms_templates]\nreceived = \"收到{code}，{due}前答复\"\n";
        let env = |k: &str| (k == "MINYI_SMS_GATEWAY_TOKEN").then(|| "tok-env".to_string());
        let c = load_text("sms-http", text, &env).unwrap();
        assert_eq!(c.sms.provider, SmsProvider::Http);
        assert_eq!(
            c.sms.gateway_url.as_deref(),
            Some("http://127.0.0.1:9/send")
        );
        assert_eq!(
            c.sms.gateway_token.as_ref().map(Secret::expose),
            Some("tok-env")
        );
        assert_eq!(c.sms.templates["received"], "收到{code}，{due}前答复");
        assert_eq!(
            c.sms.templates["answered"], SMS_TEMPLATE_ANSWERED,
            "unset keeps the default"
        );
        // The token never shows in Debug output.
        let shown = format!("{:?}", c.sms);
        assert!(
            !shown.contains("tok-env") && shown.contains("Secret(…)"),
            "{shown}"
        );
    }

    #[test]
    fn public_url_is_checked_and_defaults_to_listen() {
        let c = load_text("public-default", "", &no_env).unwrap();
        assert_eq!(c.public_base_url(), "http://127.0.0.1:8080");
        let c = load_text(
            "public-file",
            "public_url = \"https://minyi.example.gov.cn/bs/\"\n",
            &no_env,
        )
        .unwrap();
        assert_eq!(c.public_base_url(), "https://minyi.example.gov.cn/bs");
        let env = |k: &str| (k == "MINYI_PUBLIC_URL").then(|| "http://10.1.2.3:8080".to_string());
        let c = load_text("public-env", "public_url = \"https://a.example\"\n", &env).unwrap();
        assert_eq!(c.public_base_url(), "http://10.1.2.3:8080");
        for bad in [
            "minyi.example.gov.cn",
            "ftp://x.example",
            "https://",
            "https:///path",
            "https://x.example/?a=1",
            "https://x.example/a b",
            "https://user@x.example",
        ] {
            let e =
                load_text("public-bad", &format!("public_url = \"{bad}\"\n"), &no_env).unwrap_err();
            assert!(e.contains("public_url"), "{bad}: {e}");
        }
        let env = |k: &str| (k == "MINYI_PUBLIC_URL").then(|| "nowhere".to_string());
        let e = load_text("public-bad-env", "", &env).unwrap_err();
        assert!(e.contains("MINYI_PUBLIC_URL"), "{e}");
    }

    #[test]
    fn sms_mistakes_name_the_key() {
        for (text, key) in [
            ("sms_provider = \"pigeon\"\n", "sms_provider"),
            ("sms_provider = \"http\"\n", "sms_gateway_url"),
            (
                "sms_gateway_url = \"https://gw.example/send\"\n",
                "sms_gateway_url",
            ),
            ("[sms_templates]\nclosed = \"x\"\n", "sms_templates.closed"),
            (
                "[sms_templates]\nreceived = \"查询码{cod}\"\n",
                "sms_templates.received",
            ),
            ("sms_gatway_url = \"http://x\"\n", "sms_gatway_url"),
        ] {
            let e = load_text("sms-bad", text, &no_env).unwrap_err();
            assert!(e.contains(key), "{text}: {e}");
        }
        let env = |k: &str| (k == "MINYI_SMS_PROVIDER").then(|| "carrier".to_string());
        let e = load_text("sms-bad-env", "", &env).unwrap_err();
        assert!(
            e.contains("MINYI_SMS_PROVIDER") && e.contains("carrier"),
            "{e}"
        );
    }
}
