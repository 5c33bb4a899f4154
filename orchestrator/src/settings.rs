//! Typed system settings with defaults; stored per name in the database.

use serde::{Deserialize, Serialize};

use crate::db::{self, Db, DbError};
use crate::domain::lockout::LockoutPolicy;
use crate::state::App;

/// The system settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Log filter: `error`, `warn`, `info`, `debug` or `trace`.
    pub log_level: String,
    /// Days events are kept (1–3650).
    pub event_retention_days: u32,
    /// Consecutive failed logins that lock an account (1–100).
    pub lockout_max_failures: u32,
    /// Minutes an account stays locked (1–1440).
    pub lockout_minutes: u32,
    /// Minutes a session lasts (5–10080).
    pub session_ttl_minutes: u32,
    /// Minutes a completed drill waits before its automatic rollback (1–10080).
    pub rollback_wait_minutes: u32,
    /// Minutes between cluster synchronisations (1–1440).
    pub sync_interval_minutes: u32,
    /// URL that receives every new event as a JSON POST; `null` for none.
    pub webhook_url: Option<String>,
    /// SMTP server `host:port` that e-mails every new event; `null` for none.
    pub smtp_relay: Option<String>,
    /// Sender address of event e-mail.
    pub smtp_from: String,
    /// Recipients of event e-mail.
    pub smtp_to: Vec<String>,
    /// Days before the licence's expiry from which a daily `licence.expiry.near` event
    /// is raised (1–365).
    pub licence_expiry_warning_days: u32,
    /// Transport security of the SMTP connection: `none` (plain, e.g. the local MTA on
    /// port 25), `starttls` (upgrade required, usually port 587) or `tls` (implicit TLS,
    /// usually port 465).
    pub smtp_tls: SmtpTls,
    /// User name for SMTP AUTH; `null` sends without authentication. Its password is set
    /// with `smtp_password` and is never shown.
    pub smtp_username: Option<String>,
}

/// Transport security of event e-mail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP (a trusted relay such as the local MTA).
    #[default]
    None,
    /// STARTTLS, required: the message is not sent if the server cannot upgrade.
    Starttls,
    /// Implicit TLS from the first byte (SMTPS).
    Tls,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            log_level: "info".to_owned(),
            event_retention_days: 365,
            lockout_max_failures: 5,
            lockout_minutes: 5,
            session_ttl_minutes: 12 * 60,
            rollback_wait_minutes: 60,
            sync_interval_minutes: 10,
            webhook_url: None,
            smtp_relay: None,
            smtp_from: "holdfast@localhost.localdomain".to_owned(),
            smtp_to: Vec::new(),
            licence_expiry_warning_days: 30,
            smtp_tls: SmtpTls::None,
            smtp_username: None,
        }
    }
}

/// A partial change; absent fields stay. `webhook_url: null` clears the webhook.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    /// See [`Settings::log_level`].
    pub log_level: Option<String>,
    /// See [`Settings::event_retention_days`].
    pub event_retention_days: Option<u32>,
    /// See [`Settings::lockout_max_failures`].
    pub lockout_max_failures: Option<u32>,
    /// See [`Settings::lockout_minutes`].
    pub lockout_minutes: Option<u32>,
    /// See [`Settings::session_ttl_minutes`].
    pub session_ttl_minutes: Option<u32>,
    /// See [`Settings::rollback_wait_minutes`].
    pub rollback_wait_minutes: Option<u32>,
    /// See [`Settings::sync_interval_minutes`].
    pub sync_interval_minutes: Option<u32>,
    /// See [`Settings::webhook_url`].
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub webhook_url: Option<Option<String>>,
    /// See [`Settings::smtp_relay`]; `null` clears it.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub smtp_relay: Option<Option<String>>,
    /// See [`Settings::smtp_from`].
    pub smtp_from: Option<String>,
    /// See [`Settings::smtp_to`].
    pub smtp_to: Option<Vec<String>>,
    /// See [`Settings::licence_expiry_warning_days`].
    pub licence_expiry_warning_days: Option<u32>,
    /// See [`Settings::smtp_tls`].
    pub smtp_tls: Option<SmtpTls>,
    /// See [`Settings::smtp_username`]; `null` clears it (and AUTH).
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub smtp_username: Option<Option<String>>,
    /// The SMTP AUTH password (write-only: stored encrypted, never returned); `null`
    /// removes it.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub smtp_password: Option<Option<String>>,
}

mod double_option {
    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// A setting value out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("setting {name}: {reason}")]
pub struct SettingsError {
    /// The setting.
    pub name: &'static str,
    /// What is allowed.
    pub reason: String,
}

fn range(name: &'static str, v: u32, lo: u32, hi: u32) -> Result<(), SettingsError> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(SettingsError {
            name,
            reason: format!("must be between {lo} and {hi} (got {v})"),
        })
    }
}

impl Settings {
    /// Checks every value.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if !["error", "warn", "info", "debug", "trace"].contains(&self.log_level.as_str()) {
            return Err(SettingsError {
                name: "log_level",
                reason: "must be one of error, warn, info, debug, trace".to_owned(),
            });
        }
        range("event_retention_days", self.event_retention_days, 1, 3650)?;
        range("lockout_max_failures", self.lockout_max_failures, 1, 100)?;
        range("lockout_minutes", self.lockout_minutes, 1, 1440)?;
        range("session_ttl_minutes", self.session_ttl_minutes, 5, 10080)?;
        range(
            "rollback_wait_minutes",
            self.rollback_wait_minutes,
            1,
            10080,
        )?;
        range("sync_interval_minutes", self.sync_interval_minutes, 1, 1440)?;
        if let Some(url) = &self.webhook_url
            && (!(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 2048)
        {
            return Err(SettingsError {
                name: "webhook_url",
                reason: "must be an http:// or https:// URL".to_owned(),
            });
        }
        if let Some(relay) = &self.smtp_relay {
            let ok = relay
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !ok {
                return Err(SettingsError {
                    name: "smtp_relay",
                    reason: "must be host:port, e.g. 127.0.0.1:25".to_owned(),
                });
            }
        }
        range(
            "licence_expiry_warning_days",
            self.licence_expiry_warning_days,
            1,
            365,
        )?;
        if let Some(user) = &self.smtp_username {
            if user.is_empty() || user.len() > 256 || user.chars().any(char::is_control) {
                return Err(SettingsError {
                    name: "smtp_username",
                    reason: "must be 1–256 characters without control characters".to_owned(),
                });
            }
            if self.smtp_tls == SmtpTls::None {
                return Err(SettingsError {
                    name: "smtp_username",
                    reason: "SMTP AUTH needs smtp_tls `starttls` or `tls` (a password is never \
                             sent in clear text)"
                        .to_owned(),
                });
            }
        }
        crate::domain::names::Email::parse(&self.smtp_from).map_err(|e| SettingsError {
            name: "smtp_from",
            reason: e.to_string(),
        })?;
        for to in &self.smtp_to {
            crate::domain::names::Email::parse(to).map_err(|e| SettingsError {
                name: "smtp_to",
                reason: e.to_string(),
            })?;
        }
        Ok(())
    }

    /// The settings with `patch` applied, validated.
    pub fn apply(&self, patch: SettingsPatch) -> Result<Settings, SettingsError> {
        let mut s = self.clone();
        if let Some(v) = patch.log_level {
            s.log_level = v;
        }
        if let Some(v) = patch.event_retention_days {
            s.event_retention_days = v;
        }
        if let Some(v) = patch.lockout_max_failures {
            s.lockout_max_failures = v;
        }
        if let Some(v) = patch.lockout_minutes {
            s.lockout_minutes = v;
        }
        if let Some(v) = patch.session_ttl_minutes {
            s.session_ttl_minutes = v;
        }
        if let Some(v) = patch.rollback_wait_minutes {
            s.rollback_wait_minutes = v;
        }
        if let Some(v) = patch.sync_interval_minutes {
            s.sync_interval_minutes = v;
        }
        if let Some(v) = patch.webhook_url {
            s.webhook_url = v;
        }
        if let Some(v) = patch.smtp_relay {
            s.smtp_relay = v;
        }
        if let Some(v) = patch.smtp_from {
            s.smtp_from = v;
        }
        if let Some(v) = patch.smtp_to {
            s.smtp_to = v;
        }
        if let Some(v) = patch.licence_expiry_warning_days {
            s.licence_expiry_warning_days = v;
        }
        if let Some(v) = patch.smtp_tls {
            s.smtp_tls = v;
        }
        if let Some(v) = patch.smtp_username {
            s.smtp_username = v;
        }
        s.validate()?;
        Ok(s)
    }

    /// The lockout policy these settings define.
    pub fn lockout_policy(&self) -> LockoutPolicy {
        LockoutPolicy {
            max_failures: self.lockout_max_failures,
            lock_ms: i64::from(self.lockout_minutes) * 60_000,
        }
    }

    fn to_pairs(&self) -> Vec<(String, String)> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => {
                map.into_iter().map(|(k, v)| (k, v.to_string())).collect()
            }
            _ => Vec::new(),
        }
    }

    fn from_pairs(pairs: Vec<(String, String)>) -> Settings {
        let mut base = match serde_json::to_value(Settings::default()) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return Settings::default(),
        };
        for (name, value) in pairs {
            if !base.contains_key(&name) {
                tracing::warn!(%name, "ignoring an unknown stored setting");
                continue;
            }
            match serde_json::from_str(&value) {
                Ok(v) => {
                    base.insert(name, v);
                }
                Err(_) => tracing::warn!(%name, "ignoring an unreadable stored setting"),
            }
        }
        let merged: Settings =
            serde_json::from_value(serde_json::Value::Object(base)).unwrap_or_default();
        if merged.validate().is_ok() {
            merged
        } else {
            tracing::warn!("stored settings are out of range; using the defaults");
            Settings::default()
        }
    }
}

/// The settings in effect (defaults overlaid with stored values).
pub async fn load_from(db: &Db) -> Result<Settings, DbError> {
    let mut tx = db.begin().await?;
    let pairs = db::settings::all(&mut tx).await?;
    tx.commit().await?;
    Ok(Settings::from_pairs(pairs))
}

/// The settings in effect.
pub async fn load(app: &App) -> Result<Settings, DbError> {
    load_from(&app.db).await
}

/// Stores every value of `s`.
pub async fn save(db: &Db, s: &Settings, now: i64) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    for (name, value) in s.to_pairs() {
        db::settings::upsert(&mut tx, &name, &value, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip() {
        let d = Settings::default();
        d.validate().unwrap();
        assert_eq!(Settings::from_pairs(d.to_pairs()), d);
        assert_eq!(d.lockout_policy(), LockoutPolicy::default());
    }

    #[test]
    fn invalid_values_are_refused_with_the_name() {
        let d = Settings::default();
        let e = d
            .apply(SettingsPatch {
                lockout_max_failures: Some(0),
                ..SettingsPatch::default()
            })
            .unwrap_err();
        assert_eq!(e.name, "lockout_max_failures");
        let e = d
            .apply(SettingsPatch {
                webhook_url: Some(Some("ftp://x".into())),
                ..SettingsPatch::default()
            })
            .unwrap_err();
        assert_eq!(e.name, "webhook_url");
        let e = d
            .apply(SettingsPatch {
                log_level: Some("loud".into()),
                ..SettingsPatch::default()
            })
            .unwrap_err();
        assert_eq!(e.name, "log_level");
    }

    #[test]
    fn patch_changes_only_what_it_names() {
        let d = Settings::default();
        let s = d
            .apply(SettingsPatch {
                lockout_minutes: Some(9),
                webhook_url: Some(Some("http://127.0.0.1:9/hook".into())),
                ..SettingsPatch::default()
            })
            .unwrap();
        assert_eq!(s.lockout_minutes, 9);
        assert_eq!(s.event_retention_days, d.event_retention_days);
        let cleared = s
            .apply(SettingsPatch {
                webhook_url: Some(None),
                ..SettingsPatch::default()
            })
            .unwrap();
        assert_eq!(cleared.webhook_url, None);
    }
}
