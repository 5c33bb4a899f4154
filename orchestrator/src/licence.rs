//! Licence keys: an Ed25519-signed statement of product UUID, dates, instance limit and
//! platforms. Format: `HFL1.<base64url(payload JSON)>.<base64url(signature of payload)>`.

pub mod alerts;
pub mod watch;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The compiled-in vendor public key (base64); `licence_public_key` (or
/// `HOLDFAST_LICENCE_PUBLIC_KEY`) overrides it. No private key for this value is held by
/// the project yet: until the vendor key pair is made and kept offline, installations set
/// `licence_public_key` to the public half of a `holdfast license keygen` pair.
pub const VENDOR_PUBLIC_KEY: &str = "5ZkTB0GKZ/KB3s8VmL0Yc8VdYWW1bgm7L8cqbIpFa3k=";

const PREFIX: &str = "HFL1";

/// What a licence states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LicenceTerms {
    /// The installation this licence is for.
    pub product_uuid: String,
    /// Issue date (YYYY-MM-DD).
    pub issued: String,
    /// Last valid day (YYYY-MM-DD, inclusive).
    pub expires: String,
    /// Protected instances allowed.
    pub instance_limit: u32,
    /// Permitted platforms, e.g. `openstack`.
    pub platforms: Vec<String>,
}

/// Why a licence key is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenceError {
    /// Not `HFL1.<payload>.<signature>` in base64url.
    #[error("the licence key is malformed: {0}")]
    Malformed(String),
    /// The signature does not verify with the vendor key.
    #[error("the licence key's signature is not valid (tampered or not issued by the vendor)")]
    BadSignature,
    /// Issued for another installation.
    #[error("the licence is for product {licensed}, but this installation is {actual}")]
    WrongProduct {
        /// In the licence.
        licensed: String,
        /// This installation.
        actual: String,
    },
    /// Dates inconsistent.
    #[error("the licence dates are invalid: {0}")]
    Dates(String),
}

/// Parses a base64 Ed25519 public key; `None` means the compiled-in vendor key.
pub fn verifying_key(b64: Option<&str>) -> Result<VerifyingKey, String> {
    let text = b64.unwrap_or(VENDOR_PUBLIC_KEY);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| e.to_string())?;
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "an Ed25519 public key is 32 bytes".to_owned())?;
    VerifyingKey::from_bytes(&arr).map_err(|e| e.to_string())
}

/// Signs `terms` (the vendor's side, `holdfast license issue`).
pub fn issue(terms: &LicenceTerms, key: &SigningKey) -> String {
    let payload = serde_json::to_vec(terms).unwrap_or_default();
    let sig = key.sign(&payload);
    format!(
        "{PREFIX}.{}.{}",
        B64.encode(&payload),
        B64.encode(sig.to_bytes())
    )
}

/// Verifies a key's signature and installation, and returns its terms.
pub fn verify(
    key_text: &str,
    vendor: &VerifyingKey,
    product_uuid: &str,
) -> Result<LicenceTerms, LicenceError> {
    let mut parts = key_text.trim().split('.');
    let (Some(prefix), Some(payload), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(LicenceError::Malformed(
            "expected HFL1.<payload>.<signature>".into(),
        ));
    };
    if prefix != PREFIX {
        return Err(LicenceError::Malformed(format!(
            "unknown format {prefix:?}"
        )));
    }
    let payload = B64
        .decode(payload)
        .map_err(|e| LicenceError::Malformed(e.to_string()))?;
    let sig = B64
        .decode(sig)
        .map_err(|e| LicenceError::Malformed(e.to_string()))?;
    let sig: [u8; 64] = sig
        .try_into()
        .map_err(|_| LicenceError::Malformed("the signature is not 64 bytes".into()))?;
    vendor
        .verify(&payload, &Signature::from_bytes(&sig))
        .map_err(|_| LicenceError::BadSignature)?;
    let terms: LicenceTerms =
        serde_json::from_slice(&payload).map_err(|e| LicenceError::Malformed(e.to_string()))?;
    if terms.product_uuid != product_uuid {
        return Err(LicenceError::WrongProduct {
            licensed: terms.product_uuid,
            actual: product_uuid.to_owned(),
        });
    }
    let (issued, expires) = terms.dates()?;
    if expires < issued {
        return Err(LicenceError::Dates("expires before it is issued".into()));
    }
    Ok(terms)
}

impl LicenceTerms {
    fn dates(&self) -> Result<(jiff::civil::Date, jiff::civil::Date), LicenceError> {
        let issued = self
            .issued
            .parse::<jiff::civil::Date>()
            .map_err(|e| LicenceError::Dates(format!("issued: {e}")))?;
        let expires = self
            .expires
            .parse::<jiff::civil::Date>()
            .map_err(|e| LicenceError::Dates(format!("expires: {e}")))?;
        Ok((issued, expires))
    }

    /// Is the licence expired on `today` (UTC date)?
    pub fn expired_on(&self, today: jiff::civil::Date) -> bool {
        self.dates().map_or(true, |(_, expires)| today > expires)
    }
}

/// What a caller wants to do that the licence may limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Use<'a> {
    /// Protect instances: the total protected after the change.
    ProtectInstances {
        /// Instances protected in total after the change.
        total: u32,
    },
    /// Register a cluster of a platform.
    RegisterCluster {
        /// The platform, e.g. `openstack`.
        platform: &'a str,
    },
    /// Run a real DR job: never blocked by the licence.
    RunDisasterRecovery,
}

/// Why the licence does not allow a use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenceRefusal {
    /// No licence registered.
    #[error("no licence is registered; register one with `holdfast license register`")]
    Missing,
    /// Past the expiry date.
    #[error("the licence expired on {0}; replace it to protect more instances")]
    Expired(String),
    /// Over the instance limit.
    #[error("the licence allows {limit} protected instances; this would make {wanted}")]
    InstanceLimit {
        /// The limit.
        limit: u32,
        /// The total asked for.
        wanted: u32,
    },
    /// Platform not licensed.
    #[error("the licence does not cover the {0} platform")]
    Platform(String),
}

/// May `terms` (if any) be used for `what` on `today`? Real DR is always allowed.
pub fn check(
    terms: Option<&LicenceTerms>,
    what: &Use<'_>,
    today: jiff::civil::Date,
) -> Result<(), LicenceRefusal> {
    if *what == Use::RunDisasterRecovery {
        return Ok(());
    }
    let terms = terms.ok_or(LicenceRefusal::Missing)?;
    if terms.expired_on(today) {
        return Err(LicenceRefusal::Expired(terms.expires.clone()));
    }
    match what {
        Use::ProtectInstances { total } if *total > terms.instance_limit => {
            Err(LicenceRefusal::InstanceLimit {
                limit: terms.instance_limit,
                wanted: *total,
            })
        }
        Use::RegisterCluster { platform } if !terms.platforms.iter().any(|p| p == platform) => {
            Err(LicenceRefusal::Platform((*platform).to_owned()))
        }
        _ => Ok(()),
    }
}

/// A fresh signing key from 32 random bytes (for `holdfast license keygen`).
pub fn generate_signing_key() -> SigningKey {
    let mut seed = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut seed);
    SigningKey::from_bytes(&seed)
}

/// Base64 of a public key.
pub fn public_key_text(key: &VerifyingKey) -> String {
    base64::engine::general_purpose::STANDARD.encode(key.to_bytes())
}

/// Base64 of a signing key's seed (the private key file's content).
pub fn signing_key_text(key: &SigningKey) -> String {
    base64::engine::general_purpose::STANDARD.encode(key.to_bytes())
}

/// Parses a private key file's content.
pub fn signing_key_from_text(text: &str) -> Result<SigningKey, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| e.to_string())?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "an Ed25519 private key is 32 bytes".to_owned())?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The registered licence's terms, if one is registered and still verifies.
pub async fn current(app: &crate::state::App) -> Result<Option<LicenceTerms>, crate::db::DbError> {
    let mut tx = app.db.begin().await?;
    let stored = crate::db::licence::get(&mut tx).await?;
    tx.commit().await?;
    Ok(stored.and_then(|(key, _)| {
        verify(&key, &app.licence_key, &app.product_uuid.to_string())
            .inspect_err(|e| tracing::warn!(error = %e, "the stored licence no longer verifies"))
            .ok()
    }))
}

/// Today's date in UTC.
pub fn today() -> jiff::civil::Date {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms() -> LicenceTerms {
        LicenceTerms {
            product_uuid: "5f0c2b1e-0000-4000-8000-000000000001".into(),
            issued: "2026-01-01".into(),
            expires: "2026-12-31".into(),
            instance_limit: 10,
            platforms: vec!["openstack".into()],
        }
    }

    fn day(s: &str) -> jiff::civil::Date {
        s.parse().unwrap()
    }

    #[test]
    fn issued_keys_verify_and_tampering_is_rejected() {
        let sk = generate_signing_key();
        let vk = sk.verifying_key();
        let key = issue(&terms(), &sk);
        assert_eq!(verify(&key, &vk, &terms().product_uuid).unwrap(), terms());

        // Change the payload (instance limit 10 -> 99) but keep the signature.
        let parts: Vec<&str> = key.split('.').collect();
        let mut t = terms();
        t.instance_limit = 99;
        let forged = format!(
            "HFL1.{}.{}",
            B64.encode(serde_json::to_vec(&t).unwrap()),
            parts[2]
        );
        assert_eq!(
            verify(&forged, &vk, &t.product_uuid),
            Err(LicenceError::BadSignature)
        );

        // Signed by someone else.
        let other = issue(&terms(), &generate_signing_key());
        assert_eq!(
            verify(&other, &vk, &terms().product_uuid),
            Err(LicenceError::BadSignature)
        );

        // Another installation.
        assert!(matches!(
            verify(&key, &vk, "another"),
            Err(LicenceError::WrongProduct { .. })
        ));
        assert!(matches!(
            verify("garbage", &vk, "x"),
            Err(LicenceError::Malformed(_))
        ));
    }

    #[test]
    fn expiry_limits_and_platforms() {
        let t = terms();
        let ok = day("2026-12-31");
        let late = day("2027-01-01");
        assert!(check(Some(&t), &Use::ProtectInstances { total: 10 }, ok).is_ok());
        assert_eq!(
            check(Some(&t), &Use::ProtectInstances { total: 11 }, ok),
            Err(LicenceRefusal::InstanceLimit {
                limit: 10,
                wanted: 11
            })
        );
        assert!(matches!(
            check(Some(&t), &Use::ProtectInstances { total: 1 }, late),
            Err(LicenceRefusal::Expired(_))
        ));
        assert!(matches!(
            check(Some(&t), &Use::RegisterCluster { platform: "vmware" }, ok),
            Err(LicenceRefusal::Platform(_))
        ));
        assert_eq!(
            check(None, &Use::ProtectInstances { total: 1 }, ok),
            Err(LicenceRefusal::Missing)
        );
        // A real DR job is never blocked: expired, missing, whatever.
        assert!(check(Some(&t), &Use::RunDisasterRecovery, late).is_ok());
        assert!(check(None, &Use::RunDisasterRecovery, late).is_ok());
    }

    #[test]
    fn key_texts_round_trip() {
        let sk = generate_signing_key();
        let back = signing_key_from_text(&signing_key_text(&sk)).unwrap();
        assert_eq!(back.to_bytes(), sk.to_bytes());
        let vk = verifying_key(Some(&public_key_text(&sk.verifying_key()))).unwrap();
        assert_eq!(vk, sk.verifying_key());
        assert!(verifying_key(None).is_ok());
    }
}
