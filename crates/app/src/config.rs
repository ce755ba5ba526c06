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
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub listen: SocketAddr,
    pub calendar_file: Option<PathBuf>,
    pub log: String,
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
        Ok(())
    }

    /// The database URL in force: the configured one, or the SQLite file in the data directory.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => format!("sqlite://{}", self.data_dir.join("minyi.db").display()),
        }
    }
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
}
