//! minyi-vault: the cryptography of minyi, in one small crate with no IO.
//!
//! It encrypts residents' personal fields, derives blind lookup hashes for them, hashes
//! passwords and machine tokens, and MACs and verifies the audit chain. It must not read
//! files, the environment or the network: callers load the master key and pass a
//! [`DataKey`] in. Errors and `Debug` output never carry plaintext or key bytes.

pub mod chain;
pub mod mask;
mod secret;

pub use secret::{
    NewApiKey, api_key_prefix, constant_time_eq, hash_password, new_api_key, new_secret_token,
    token_hash, verify_password,
};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a vault operation failed. No message contains plaintext, ciphertext or key bytes,
/// so these can be logged as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error("data key is unusable: {0}")]
    BadKey(String),
    #[error(
        "stored {field} cannot be decrypted with this key (wrong key, wrong field, or altered)"
    )]
    Undecryptable { field: &'static str },
    #[error("stored {field} is not in the vault's format: {why}")]
    BadFormat { field: &'static str, why: String },
    #[error("password hashing failed: {0}")]
    Password(String),
}

/// The prefix of every stored ciphertext; a later scheme gets `v2:` and both can be read.
const CIPHERTEXT_PREFIX: &str = "v1:";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// `prev_hash` of the first audit entry: there is nothing before it to chain to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Fills `buf` from the operating system. Without OS randomness no key, nonce or token
/// this crate makes would be safe, so running on is worse than stopping.
pub(crate) fn os_random(buf: &mut [u8]) {
    #[allow(clippy::expect_used)]
    getrandom::fill(buf).expect("the operating system's random number generator is unavailable");
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn from_hex_32(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// Appends `bytes` with its length in front, so that no two different field lists
/// encode to the same byte string (`"ab","c"` vs `"a","bc"`).
fn put_field(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    buf.extend_from_slice(bytes);
}

/// Which personal field a value belongs to. Its code is bound into every ciphertext and
/// lookup hash, so a phone number's ciphertext cannot be passed off as a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Phone,
    IdNumber,
    Address,
}

impl Field {
    pub fn code(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Phone => "phone",
            Field::IdNumber => "id_number",
            Field::Address => "address",
        }
    }
}

/// [`DataKey::encrypt`] under a cipher keyed with the encryption subkey.
fn encrypt_with(cipher: &XChaCha20Poly1305, field: Field, plaintext: &str) -> String {
    let mut nonce = [0u8; NONCE_LEN];
    os_random(&mut nonce);
    let payload = Payload {
        msg: plaintext.as_bytes(),
        aad: field.code().as_bytes(),
    };
    // XChaCha20-Poly1305 only refuses messages beyond 256 GiB, which no `&str` field is.
    #[allow(clippy::expect_used)]
    let sealed = cipher
        .encrypt(&XNonce::from(nonce), payload)
        .expect("a personal field is far below the AEAD length limit");
    let mut raw = Vec::with_capacity(NONCE_LEN + sealed.len());
    raw.extend_from_slice(&nonce);
    raw.extend_from_slice(&sealed);
    let mut out = String::with_capacity(CIPHERTEXT_PREFIX.len() + raw.len().div_ceil(3) * 4);
    out.push_str(CIPHERTEXT_PREFIX);
    URL_SAFE_NO_PAD.encode_string(raw, &mut out);
    out
}

/// [`DataKey::lookup_hash`] with an HMAC already keyed with the lookup subkey.
fn lookup_with(mut mac: HmacSha256, field: Field, normalized: &str) -> String {
    let mut buf = Vec::with_capacity(normalized.len() + 32);
    put_field(&mut buf, field.code().as_bytes());
    put_field(&mut buf, normalized.as_bytes());
    mac.update(&buf);
    to_hex(&mac.finalize().into_bytes())
}

/// The encryption and lookup subkeys of a [`DataKey`], derived once (see
/// [`DataKey::sealer`]). Same outputs as the key's own methods; holds no master key.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    lookup: HmacSha256,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(…)")
    }
}

impl Sealer {
    /// As [`DataKey::encrypt`].
    pub fn encrypt(&self, field: Field, plaintext: &str) -> String {
        encrypt_with(&self.cipher, field, plaintext)
    }

    /// As [`DataKey::lookup_hash`].
    pub fn lookup_hash(&self, field: Field, normalized: &str) -> String {
        lookup_with(self.lookup.clone(), field, normalized)
    }
}

/// The contents of one audit-log entry, as MACed. `prev_hash` is the stored hash of the
/// entry before it ([`GENESIS_HASH`] for entry 1), which is what makes the log a chain.
#[derive(Debug, Clone, Copy)]
pub struct AuditFields<'a> {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub subject: &'a str,
    pub detail: &'a str,
    pub prev_hash: &'a str,
}

/// The 32-byte master key. Nothing is used under it directly: each purpose (encryption,
/// lookup hashes, audit MACs) gets its own subkey, so a weakness in one use cannot be
/// turned against another.
#[derive(Clone)]
pub struct DataKey {
    master: [u8; 32],
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(…)")
    }
}

impl Drop for DataKey {
    /// Best effort: overwrite the key so it does not linger in freed memory. `black_box`
    /// keeps the compiler from dropping the store as dead.
    fn drop(&mut self) {
        self.master = [0u8; 32];
        std::hint::black_box(&self.master);
    }
}

impl DataKey {
    /// A fresh random key from the operating system.
    pub fn generate() -> DataKey {
        let mut master = [0u8; 32];
        os_random(&mut master);
        DataKey { master }
    }

    /// Reads a key as an operator would paste it: 64 hex characters, or standard or
    /// URL-safe base64 (padded or not) of exactly 32 bytes. Surrounding whitespace is
    /// ignored.
    pub fn parse(text: &str) -> Result<DataKey, VaultError> {
        const ACCEPTED: &str =
            "expected 64 hex characters, or standard or URL-safe base64 of exactly 32 bytes";
        let text = text.trim();
        if text.is_empty() {
            return Err(VaultError::BadKey(format!("the key is empty; {ACCEPTED}")));
        }
        if let Some(master) = from_hex_32(text) {
            return Ok(DataKey { master });
        }
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            if let Ok(bytes) = engine.decode(text) {
                return match <[u8; 32]>::try_from(bytes.as_slice()) {
                    Ok(master) => Ok(DataKey { master }),
                    Err(_) => Err(VaultError::BadKey(format!(
                        "the key is base64 of {} bytes; {ACCEPTED}",
                        bytes.len()
                    ))),
                };
            }
        }
        Err(VaultError::BadKey(format!(
            "the key ({} characters) is neither hex nor base64; {ACCEPTED}",
            text.chars().count()
        )))
    }

    /// The key as 64 lowercase hex characters, the form [`DataKey::parse`] reads first.
    pub fn to_text(&self) -> String {
        to_hex(&self.master)
    }

    fn subkey(&self, purpose: &str) -> [u8; 32] {
        let mut mac = self.mac_with(&self.master);
        mac.update(b"minyi-vault subkey v1\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn mac_with(&self, key: &[u8; 32]) -> HmacSha256 {
        // HMAC takes keys of any length, so this cannot fail for 32 bytes.
        #[allow(clippy::expect_used)]
        <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC accepts a 32-byte key")
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        let key = self.subkey("encrypt");
        XChaCha20Poly1305::new(&key.into())
    }

    /// Encrypts one personal field. The result is
    /// `v1:` + base64url(24-byte random nonce ‖ ciphertext ‖ tag), with the field's code
    /// as associated data. Two encryptions of the same text differ.
    pub fn encrypt(&self, field: Field, plaintext: &str) -> String {
        encrypt_with(&self.cipher(), field, plaintext)
    }

    /// The subkeys of [`DataKey::encrypt`] and [`DataKey::lookup_hash`] derived once, for
    /// sealing many contacts (an import): the same results without deriving two subkeys
    /// per field. Cheap to clone, one per thread.
    pub fn sealer(&self) -> Sealer {
        Sealer {
            cipher: self.cipher(),
            lookup: self.mac_with(&self.subkey("lookup")),
        }
    }

    /// Decrypts what [`DataKey::encrypt`] made for the same field. A wrong key, the
    /// wrong field, or any change to the stored text is an error, never wrong plaintext.
    pub fn decrypt(&self, field: Field, stored: &str) -> Result<String, VaultError> {
        let bad = |why: &str| VaultError::BadFormat {
            field: field.code(),
            why: why.to_owned(),
        };
        let body = stored
            .strip_prefix(CIPHERTEXT_PREFIX)
            .ok_or_else(|| bad("it does not start with `v1:`"))?;
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| bad("the part after `v1:` is not unpadded URL-safe base64"))?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(bad("it is too short to hold a nonce and a tag"));
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| bad("the nonce has the wrong length"))?;
        let plain = self
            .cipher()
            .decrypt(
                &nonce,
                Payload {
                    msg: sealed,
                    aad: field.code().as_bytes(),
                },
            )
            .map_err(|_| VaultError::Undecryptable {
                field: field.code(),
            })?;
        String::from_utf8(plain).map_err(|_| bad("the decrypted bytes are not UTF-8"))
    }

    /// A deterministic keyed hash of an already-normalised value, for finding a record by
    /// phone or ID number without decrypting every row. Without the key the hash says
    /// nothing, and a phone's hash never equals an ID number's for the same digits.
    pub fn lookup_hash(&self, field: Field, normalized: &str) -> String {
        lookup_with(self.mac_with(&self.subkey("lookup")), field, normalized)
    }

    /// The MAC of one audit entry: HMAC-SHA256 under the audit subkey over every field,
    /// each length-prefixed, so no edit to any field (or shift between fields) keeps it.
    pub fn audit_mac(&self, e: &AuditFields<'_>) -> String {
        self.audit_mac_with(&self.audit_key(), e)
    }

    pub(crate) fn audit_key(&self) -> [u8; 32] {
        self.subkey("audit")
    }

    pub(crate) fn audit_mac_with(&self, audit_key: &[u8; 32], e: &AuditFields<'_>) -> String {
        let mut buf = Vec::with_capacity(
            64 + e.actor.len()
                + e.action.len()
                + e.subject.len()
                + e.detail.len()
                + e.prev_hash.len(),
        );
        put_field(&mut buf, b"minyi-audit v1");
        put_field(&mut buf, &e.seq.to_be_bytes());
        put_field(&mut buf, &e.at_ms.to_be_bytes());
        for s in [e.actor, e.action, e.subject, e.detail, e.prev_hash] {
            put_field(&mut buf, s.as_bytes());
        }
        let mut mac = self.mac_with(audit_key);
        mac.update(&buf);
        to_hex(&mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DataKey {
        DataKey::parse(&"ab".repeat(32)).unwrap()
    }

    #[test]
    fn round_trips_chinese_ascii_and_empty() {
        let k = DataKey::generate();
        for text in [
            "张三丰",
            "云南省昆明市五华区华山南路 12 号",
            "",
            "Zhang San",
        ] {
            for field in [Field::Name, Field::Phone, Field::IdNumber, Field::Address] {
                let stored = k.encrypt(field, text);
                assert!(stored.starts_with("v1:"));
                assert!(!stored.contains(text) || text.is_empty());
                assert_eq!(k.decrypt(field, &stored).unwrap(), text);
            }
        }
    }

    #[test]
    fn wrong_field_or_key_fails() {
        let k = key();
        let stored = k.encrypt(Field::Phone, "13800005678");
        assert_eq!(
            k.decrypt(Field::Name, &stored),
            Err(VaultError::Undecryptable { field: "name" })
        );
        assert!(matches!(
            DataKey::generate().decrypt(Field::Phone, &stored),
            Err(VaultError::Undecryptable { .. })
        ));
    }

    #[test]
    fn tampered_or_malformed_ciphertext_fails() {
        let k = key();
        let stored = k.encrypt(Field::Address, "华山南路 12 号");
        let raw = URL_SAFE_NO_PAD.decode(&stored[3..]).unwrap();
        for i in [0, NONCE_LEN, raw.len() - 1] {
            let mut bent = raw.clone();
            bent[i] ^= 0x01;
            let bent = format!("v1:{}", URL_SAFE_NO_PAD.encode(bent));
            assert!(
                matches!(
                    k.decrypt(Field::Address, &bent),
                    Err(VaultError::Undecryptable { .. })
                ),
                "flip at byte {i} went unnoticed"
            );
        }
        let truncated = format!("v1:{}", URL_SAFE_NO_PAD.encode(&raw[..raw.len() - 1]));
        assert!(k.decrypt(Field::Address, &truncated).is_err());
        for bad in ["", "v2:abc", &stored[3..], "v1:!!!", "v1:AAAA"] {
            assert!(
                matches!(
                    k.decrypt(Field::Address, bad),
                    Err(VaultError::BadFormat {
                        field: "address",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn each_encryption_uses_a_fresh_nonce() {
        let k = key();
        let a = k.encrypt(Field::Name, "张三");
        let b = k.encrypt(Field::Name, "张三");
        assert_ne!(a, b);
        assert_ne!(a[3..35], b[3..35]);
    }

    #[test]
    fn sealer_gives_what_the_key_gives() {
        let k = key();
        let s = k.sealer();
        for field in [Field::Name, Field::Phone, Field::IdNumber, Field::Address] {
            for text in ["13800005678", "张三", ""] {
                assert_eq!(s.lookup_hash(field, text), k.lookup_hash(field, text));
                let sealed = s.encrypt(field, text);
                assert_eq!(k.decrypt(field, &sealed).unwrap(), text);
                assert!(
                    k.decrypt(Field::Name, &s.encrypt(Field::Phone, text))
                        .is_err()
                );
                assert_ne!(sealed, s.encrypt(field, text), "a fresh nonce each time");
            }
        }
    }

    #[test]
    fn lookup_hash_is_deterministic_keyed_and_field_separated() {
        let k = key();
        let h = k.lookup_hash(Field::Phone, "13800005678");
        assert_eq!(h, k.lookup_hash(Field::Phone, "13800005678"));
        assert_eq!(h.len(), 64);
        assert!(
            h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(h, k.lookup_hash(Field::Phone, "13800005679"));
        assert_ne!(h, k.lookup_hash(Field::IdNumber, "13800005678"));
        assert_ne!(
            h,
            DataKey::generate().lookup_hash(Field::Phone, "13800005678")
        );
    }

    #[test]
    fn audit_mac_covers_every_field_unambiguously() {
        let k = key();
        let base = AuditFields {
            seq: 3,
            at_ms: 1_700_000_000_000,
            actor: "ab",
            action: "c",
            subject: "s",
            detail: "d",
            prev_hash: GENESIS_HASH,
        };
        let mac = k.audit_mac(&base);
        assert_eq!(mac, k.audit_mac(&base));
        let variants = [
            AuditFields { seq: 4, ..base },
            AuditFields { at_ms: 1, ..base },
            AuditFields {
                actor: "a",
                action: "bc",
                ..base
            },
            AuditFields {
                subject: "t",
                ..base
            },
            AuditFields { detail: "", ..base },
            AuditFields {
                prev_hash: "",
                ..base
            },
        ];
        for v in variants {
            assert_ne!(mac, k.audit_mac(&v), "{v:?}");
        }
        assert_ne!(mac, DataKey::generate().audit_mac(&base));
    }

    #[test]
    fn data_key_parses_hex_and_base64_and_rejects_garbage() {
        let k = DataKey::generate();
        let hex = k.to_text();
        assert_eq!(hex.len(), 64);
        assert_eq!(
            DataKey::parse(&format!("  {hex}\n")).unwrap().to_text(),
            hex
        );
        assert_eq!(DataKey::parse(&hex.to_uppercase()).unwrap().to_text(), hex);
        let bytes = from_hex_32(&hex).unwrap();
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            assert_eq!(
                DataKey::parse(&engine.encode(bytes)).unwrap().to_text(),
                hex
            );
        }
        for bad in [
            "",
            "   ",
            "xyz",
            &hex[..63],
            &format!("{hex}0"),
            &STANDARD.encode([7u8; 31]),
        ] {
            match DataKey::parse(bad) {
                Err(VaultError::BadKey(why)) => {
                    assert!(why.contains("64 hex characters"), "{why}");
                }
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn debug_and_errors_do_not_leak() {
        let k = key();
        assert_eq!(format!("{k:?}"), "DataKey(…)");
        let err = DataKey::parse("not-a-key-but-a-secret")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
        let stored = k.encrypt(Field::Name, "张三丰");
        let err = k.decrypt(Field::Phone, &stored).unwrap_err().to_string();
        assert!(!err.contains("张") && !err.contains(&stored[3..]), "{err}");
    }
}
