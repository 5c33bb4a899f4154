//! Secrets at rest: AES-256-GCM under a key the operator provides.
//!
//! Key sources, first found wins: `HOLDFAST_SECRETS_KEY` (the key text itself), the
//! configured `secrets_key_file` (`HOLDFAST_SECRETS_KEY_FILE`), and — only for the
//! embedded SQLite default — `<data_dir>/secrets.key`, generated on first start (the log
//! says so). Key text: one base64 32-byte key per line (or comma-separated); the FIRST
//! key encrypts, every key decrypts.
//!
//! Ciphertext text: `hf1:<key id>:<base64(nonce ‖ ciphertext ‖ tag)>`, key id = the first
//! 8 hex digits of SHA-256(key); the associated data names the owner (e.g.
//! `cluster:<id>:password`), so a ciphertext copied to another row does not decrypt.
//!
//! Rotation: put a new key on the first line and keep the old one below it, restart
//! (every stored credential is re-encrypted under the new key at start, see
//! [`crate::clusters::reencrypt`]), then remove the old line.

use std::fmt;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

use crate::config::Config;

const PREFIX: &str = "hf1";

/// Why secrets cannot be loaded, encrypted or decrypted.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The key file could not be read or written.
    #[error("secrets key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key text is not base64 32-byte keys.
    #[error(
        "invalid secrets key from {source_name}: {reason} (expected one base64-encoded 32-byte key per line, e.g. from `openssl rand -base64 32`)"
    )]
    BadKey {
        /// Where the key came from.
        source_name: String,
        /// What is wrong.
        reason: String,
    },
    /// No key is configured (external database without a key).
    #[error(
        "no secrets key is configured: set secrets_key_file (HOLDFAST_SECRETS_KEY_FILE) or HOLDFAST_SECRETS_KEY; every replica must use the same key"
    )]
    NoKey,
    /// The stored text is not a ciphertext of this format.
    #[error("a stored secret is malformed: {0}")]
    Malformed(String),
    /// The key that encrypted it is not loaded.
    #[error(
        "a stored secret was encrypted with key {0}, which is not configured: add that key below the current one"
    )]
    UnknownKey(String),
    /// Authentication of the ciphertext failed (wrong key, tampered, or copied).
    #[error("a stored secret does not decrypt (tampered, or moved to another object)")]
    Tampered,
}

struct KeyEntry {
    id: String,
    cipher: Aes256Gcm,
}

/// The loaded keys. `Debug` shows key ids only.
pub struct SecretBox {
    keys: Vec<KeyEntry>,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretBox")
            .field(
                "key_ids",
                &self.keys.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn key_id(key: &[u8]) -> String {
    Sha256::digest(key)
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl SecretBox {
    /// Parses key text (see the module documentation).
    pub fn from_text(text: &str, source_name: &str) -> Result<SecretBox, SecretsError> {
        let bad = |reason: String| SecretsError::BadKey {
            source_name: source_name.to_owned(),
            reason,
        };
        let mut keys = Vec::new();
        for (n, part) in text
            .split(['\n', ','])
            .map(str::trim)
            .filter(|p| !p.is_empty() && !p.starts_with('#'))
            .enumerate()
        {
            let bytes = B64
                .decode(part)
                .map_err(|e| bad(format!("key {}: {e}", n + 1)))?;
            if bytes.len() != 32 {
                return Err(bad(format!(
                    "key {} is {} bytes, not 32",
                    n + 1,
                    bytes.len()
                )));
            }
            keys.push(KeyEntry {
                id: key_id(&bytes),
                cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
            });
        }
        if keys.is_empty() {
            return Err(bad("no key found".to_owned()));
        }
        Ok(SecretBox { keys })
    }

    /// A fresh random key's text.
    pub fn generate_text() -> String {
        let key = Aes256Gcm::generate_key(&mut OsRng);
        B64.encode(key.as_slice()) + "\n"
    }

    /// The id of the key that encrypts.
    pub fn current_key_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Encrypts `plain` for the owner named by `aad`.
    pub fn encrypt(&self, plain: &str, aad: &str) -> String {
        let key = &self.keys[0];
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        // Encryption with a valid key and a 96-bit nonce cannot fail for inputs this size.
        let ct = key
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        format!("{PREFIX}:{}:{}", key.id, B64.encode(blob))
    }

    /// Decrypts a stored text for the owner named by `aad`.
    pub fn decrypt(&self, stored: &str, aad: &str) -> Result<String, SecretsError> {
        let mut parts = stored.splitn(3, ':');
        let (Some(PREFIX), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SecretsError::Malformed(
                "expected hf1:<key id>:<data>".into(),
            ));
        };
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| SecretsError::UnknownKey(id.to_owned()))?;
        let blob = B64
            .decode(body)
            .map_err(|e| SecretsError::Malformed(e.to_string()))?;
        if blob.len() < 12 + 16 {
            return Err(SecretsError::Malformed("too short".into()));
        }
        let (nonce, ct) = blob.split_at(12);
        let plain = key
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SecretsError::Tampered)?;
        String::from_utf8(plain).map_err(|_| SecretsError::Tampered)
    }

    /// Does `stored` need re-encryption under the current key?
    pub fn is_stale(&self, stored: &str) -> bool {
        stored
            .split(':')
            .nth(1)
            .is_none_or(|id| id != self.current_key_id())
    }
}

fn read(path: &Path) -> Result<String, SecretsError> {
    std::fs::read_to_string(path).map_err(|source| SecretsError::Io {
        path: path.to_owned(),
        source,
    })
}

fn write_private(path: &Path, text: &str) -> Result<(), SecretsError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let io = |source| SecretsError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)
}

/// Loads the key as the module documentation describes; `env` reads the environment.
pub fn load(
    config: &Config,
    env: impl Fn(&str) -> Option<String>,
) -> Result<SecretBox, SecretsError> {
    if let Some(text) = env("HOLDFAST_SECRETS_KEY") {
        return SecretBox::from_text(&text, "HOLDFAST_SECRETS_KEY");
    }
    if let Some(path) = &config.secrets_key_file {
        return SecretBox::from_text(&read(path)?, &path.display().to_string());
    }
    if config.database_url.is_some() {
        return Err(SecretsError::NoKey);
    }
    let path = config.data_dir.join("secrets.key");
    if !path.exists() {
        write_private(&path, &SecretBox::generate_text())?;
        tracing::warn!(path = %path.display(), "generated a new secrets key for stored cluster credentials; back it up: without it the credentials cannot be decrypted");
    }
    SecretBox::from_text(&read(&path)?, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed() -> SecretBox {
        SecretBox::from_text(&SecretBox::generate_text(), "test").unwrap()
    }

    #[test]
    fn round_trip_bound_to_the_owner() {
        let b = boxed();
        let c = b.encrypt("hunter2", "cluster:a:password");
        assert!(!c.contains("hunter2"));
        assert_eq!(b.decrypt(&c, "cluster:a:password").unwrap(), "hunter2");
        assert!(matches!(
            b.decrypt(&c, "cluster:b:password"),
            Err(SecretsError::Tampered)
        ));
        let mut flipped = c.clone();
        flipped.pop();
        flipped.push(if c.ends_with('A') { 'B' } else { 'A' });
        assert!(b.decrypt(&flipped, "cluster:a:password").is_err());
        assert!(matches!(
            b.decrypt("plain", "x"),
            Err(SecretsError::Malformed(_))
        ));
    }

    #[test]
    fn rotation_decrypts_with_old_keys_and_encrypts_with_the_first() {
        let old_text = SecretBox::generate_text();
        let old = SecretBox::from_text(&old_text, "old").unwrap();
        let c = old.encrypt("pw", "x");
        let rotated =
            SecretBox::from_text(&format!("{}{old_text}", SecretBox::generate_text()), "r")
                .unwrap();
        assert_eq!(rotated.decrypt(&c, "x").unwrap(), "pw");
        assert!(rotated.is_stale(&c));
        assert!(!rotated.is_stale(&rotated.encrypt("pw", "x")));
        let fresh = boxed();
        assert!(matches!(
            fresh.decrypt(&c, "x"),
            Err(SecretsError::UnknownKey(_))
        ));
    }

    #[test]
    fn bad_keys_are_refused_and_debug_hides_keys() {
        assert!(SecretBox::from_text("", "t").is_err());
        assert!(SecretBox::from_text("c2hvcnQ=", "t").is_err());
        let text = SecretBox::generate_text();
        let b = SecretBox::from_text(&text, "t").unwrap();
        assert!(!format!("{b:?}").contains(text.trim()));
    }

    #[test]
    fn embedded_default_generates_a_private_key_once() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        let a = load(&config, |_| None).unwrap();
        let b = load(&config, |_| None).unwrap();
        assert_eq!(a.current_key_id(), b.current_key_id());
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("data/secrets.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let external = Config {
            database_url: Some(crate::config::Secret::new("postgres://x/y".into())),
            ..config
        };
        assert!(matches!(
            load(&external, |_| None),
            Err(SecretsError::NoKey)
        ));
    }
}
