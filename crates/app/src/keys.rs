//! The data key: residents' identities are encrypted under it and the audit chain is
//! sealed with it. It comes from `MINYI_DATA_KEY` or a key file created on first run with
//! mode 0600, and the database remembers a fingerprint of it, so starting with a lost or
//! different key is refused instead of silently writing data nobody can read back.

use std::path::{Path, PathBuf};

use minyi_store::Store;
use minyi_vault::{DataKey, Field};

use crate::{AppError, Config, Result};

pub const KEY_FILE: &str = "minyi.key";
const FINGERPRINT_META: &str = "data_key_fingerprint";

pub fn key_file_path(config: &Config) -> PathBuf {
    config
        .security
        .data_key_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join(KEY_FILE))
}

/// A short public fingerprint: a keyed hash of a fixed string, so it says nothing of the key.
pub fn fingerprint(key: &DataKey) -> String {
    key.lookup_hash(Field::Name, "minyi data key fingerprint")[..16].to_owned()
}

/// Loads the key (environment first, then the file), creating the file only when the
/// database has never held encrypted data.
pub async fn load_or_create(config: &Config, store: &Store) -> Result<DataKey> {
    let recorded = store.meta_get(FINGERPRINT_META).await?;
    let path = key_file_path(config);
    let key = if let Some(secret) = &config.security.data_key {
        DataKey::parse(secret.expose())
            .map_err(|e| AppError::Refused(format!("MINYI_DATA_KEY: {e}")))?
    } else if path.exists() {
        read_key_file(&path)?
    } else if recorded.is_some() {
        return Err(AppError::Refused(format!(
            "the data key file {} is missing, but this database holds data encrypted under a key \
             (fingerprint {}). Restore the key file from your backup or set MINYI_DATA_KEY; \
             a new key would make residents' data unreadable",
            path.display(),
            recorded.unwrap_or_default()
        )));
    } else {
        let key = DataKey::generate();
        write_key_file(&path, &key)?;
        tracing::warn!(path = %path.display(), "created a new data key file: back it up with the database");
        key
    };
    let fp = fingerprint(&key);
    match recorded {
        Some(r) if r != fp => Err(AppError::Refused(format!(
            "the data key (fingerprint {fp}) is not the one this database was written with \
             (fingerprint {r}); check MINYI_DATA_KEY or {}",
            path.display()
        ))),
        Some(_) => Ok(key),
        None => {
            store.meta_set(FINGERPRINT_META, &fp).await?;
            Ok(key)
        }
    }
}

fn read_key_file(path: &Path) -> Result<DataKey> {
    let shown = path.display().to_string();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            return Err(AppError::Refused(format!(
                "data key file {shown} is readable by others (mode {:o}); run `chmod 600 {shown}`",
                meta.permissions().mode() & 0o777
            )));
        }
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| AppError::Refused(format!("data key file {shown}: {e}")))?;
    DataKey::parse(&text).map_err(|e| AppError::Refused(format!("data key file {shown}: {e}")))
}

fn write_key_file(path: &Path, key: &DataKey) -> Result<()> {
    use std::io::Write;
    let shown = path.display().to_string();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| AppError::Refused(format!("cannot create data key file {shown}: {e}")))?;
    f.write_all(format!("{}\n", key.to_text()).as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| AppError::Refused(format!("cannot write data key file {shown}: {e}")))?;
    Ok(())
}
