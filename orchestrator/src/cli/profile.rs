//! The CLI's profile file: named connections (URL, user, session token), TOML, mode 0600.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::CliError;

/// One named connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Orchestrator base URL, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// User id logged in.
    pub user: String,
    /// Session token (bearer).
    #[serde(default)]
    pub token: Option<String>,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    /// Profiles by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// `$HOLDFAST_PROFILE_FILE`, else `$XDG_CONFIG_HOME/holdfast/profiles.toml`, else
/// `~/.config/holdfast/profiles.toml`.
pub fn default_path(env: impl Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(p) = env("HOLDFAST_PROFILE_FILE") {
        return PathBuf::from(p);
    }
    let base = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("holdfast").join("profiles.toml")
}

impl ProfileFile {
    /// Reads the file; a missing file is empty.
    pub fn load(path: &Path) -> Result<ProfileFile, CliError> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text)
                .map_err(|e| CliError::Profile(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ProfileFile::default()),
            Err(e) => Err(CliError::Profile(format!("{}: {e}", path.display()))),
        }
    }

    /// Writes the file, readable by the owner only.
    pub fn save(&self, path: &Path) -> Result<(), CliError> {
        let text = toml::to_string_pretty(self).map_err(|e| CliError::Profile(e.to_string()))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| CliError::Profile(format!("{}: {e}", dir.display())))?;
        }
        std::fs::write(path, text)
            .map_err(|e| CliError::Profile(format!("{}: {e}", path.display())))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| CliError::Profile(format!("{}: {e}", path.display())))?;
        }
        Ok(())
    }
}
