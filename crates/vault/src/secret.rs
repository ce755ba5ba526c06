//! Passwords, session and device tokens, and API keys: secrets that are stored only as
//! hashes. Nothing here needs the data key.

use crate::{VaultError, os_random, to_hex};
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// OWASP's minimum for argon2id: 19 MiB, two passes, one lane.
const M_COST_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

/// A stored hash asking for more than this is refused rather than run: a corrupted or
/// planted row must not make one sign-in allocate gigabytes or spin for minutes.
const MAX_VERIFY_M_COST_KIB: u32 = 256 * 1024;
const MAX_VERIFY_T_COST: u32 = 16;
const MAX_VERIFY_P_COST: u32 = 8;

fn argon2id() -> Result<Argon2<'static>, VaultError> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, Some(32))
        .map_err(|e| VaultError::Password(format!("bad argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with argon2id and a fresh 16-byte salt, as a PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash_password(password: &str) -> Result<String, VaultError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| {
        VaultError::Password("the OS random number generator is unavailable".into())
    })?;
    let hash = argon2id()?
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|e| VaultError::Password(format!("argon2 refused: {e}")))?;
    Ok(hash.to_string())
}

/// Whether `password` matches a PHC string made by [`hash_password`] (or any argon2
/// variant within sane cost limits). A malformed string is simply no match.
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed.params) else {
        return false;
    };
    if params.m_cost() > MAX_VERIFY_M_COST_KIB
        || params.t_cost() > MAX_VERIFY_T_COST
        || params.p_cost() > MAX_VERIFY_P_COST
    {
        return false;
    }
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// A fresh secret for a session cookie, device token or API key: 32 random bytes,
/// base64url without padding (43 characters).
pub fn new_secret_token() -> String {
    let mut bytes = [0u8; 32];
    os_random(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// How a token is stored: SHA-256, lowercase hex. Tokens carry 256 random bits, so a
/// fast unsalted hash is enough; it only keeps a database reader from using them.
pub fn token_hash(token: &str) -> String {
    to_hex(&Sha256::digest(token.as_bytes()))
}

/// Compares two secrets in time that depends only on their lengths, not on where they
/// first differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let diff = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
    std::hint::black_box(diff) == 0
}

/// A newly made API key. `key` is shown to its owner once; only `prefix` (to find the
/// row and to show in lists) and `key_hash` are stored.
pub struct NewApiKey {
    pub prefix: String,
    pub key: String,
    pub key_hash: String,
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiKey")
            .field("prefix", &self.prefix)
            .field("key", &"…")
            .finish_non_exhaustive()
    }
}

const API_KEY_TAG: &str = "mk_";
const PREFIX_LEN: usize = 8;
const SECRET_LEN: usize = 43;

/// Makes an API key `mk_<8 chars [a-z0-9]>_<secret>` and its hash.
pub fn new_api_key() -> NewApiKey {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut prefix = String::with_capacity(PREFIX_LEN);
    while prefix.len() < PREFIX_LEN {
        let mut byte = [0u8; 1];
        os_random(&mut byte);
        // Rejection keeps every character equally likely: 252 = 7 × 36.
        if byte[0] < 252 {
            prefix.push(char::from(ALPHABET[usize::from(byte[0] % 36)]));
        }
    }
    let key = format!("{API_KEY_TAG}{prefix}_{}", new_secret_token());
    let key_hash = token_hash(&key);
    NewApiKey {
        prefix,
        key,
        key_hash,
    }
}

/// The prefix of a well-formed API key, to look its row up by; `None` for anything else.
pub fn api_key_prefix(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(API_KEY_TAG)?;
    let bytes = rest.as_bytes();
    if bytes.len() != PREFIX_LEN + 1 + SECRET_LEN {
        return None;
    }
    let (prefix, tail) = bytes.split_at(PREFIX_LEN);
    let prefix_ok = prefix
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let secret_ok = tail.first() == Some(&b'_')
        && tail[1..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
    if prefix_ok && secret_ok {
        // All checked bytes are ASCII, so index PREFIX_LEN is a char boundary.
        rest.get(..PREFIX_LEN)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn password_hash_verifies_and_rejects() {
        let phc = hash_password("正确的马电池订书钉").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password("正确的马电池订书钉", &phc));
        assert!(!verify_password("正确的马电池订书针", &phc));
        assert!(!verify_password("", &phc));
        for bad in ["", "plain", "$argon2id$", &phc[..phc.len() - 4]] {
            assert!(!verify_password("正确的马电池订书钉", bad), "{bad}");
        }
        let greedy = phc.replace("m=19456", "m=4194304");
        assert!(!verify_password("正确的马电池订书钉", &greedy));
    }

    #[test]
    fn tokens_are_fresh_and_hash_to_hex() {
        let a = new_secret_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, new_secret_token());
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq("", ""));
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }

    #[test]
    fn api_keys_have_their_shape_and_prefix() {
        let k = new_api_key();
        assert_eq!(k.prefix.len(), 8);
        assert!(
            k.prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert!(k.key.starts_with(&format!("mk_{}_", k.prefix)));
        assert_eq!(k.key_hash, token_hash(&k.key));
        assert_eq!(api_key_prefix(&k.key), Some(k.prefix.as_str()));
        assert!(!format!("{k:?}").contains(&k.key));
        for bad in [
            "",
            "mk_",
            "mk_abcdefgh_",
            &k.key[..k.key.len() - 1],
            &format!("{}x", k.key),
            &k.key.replacen("mk_", "MK_", 1),
            &k.key.replacen(&k.prefix, "ABCDEFGH", 1),
            &format!("mk_abcdefg{}_{}", 'é', &k.key[12..]),
        ] {
            assert_eq!(api_key_prefix(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn api_key_prefix_never_panics(s in ".*") {
            if let Some(p) = api_key_prefix(&s) {
                let expected = format!("mk_{p}_");
                prop_assert!(s.starts_with(&expected));
            }
        }

        #[test]
        fn api_key_prefix_survives_multibyte_near_the_boundary(
            pre in "[a-z0-9é]{7,9}", secret in "[A-Za-z0-9_é-]{40,45}"
        ) {
            let key = format!("mk_{pre}_{secret}");
            let _ = api_key_prefix(&key);
        }
    }
}
