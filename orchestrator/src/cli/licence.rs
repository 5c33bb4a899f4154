//! `holdfast license ...`: show, register and replace the licence; the developer
//! commands `keygen` and `issue` that sign licence keys for tests and the demo.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::json;

use super::output::{self, Format};
use super::{CliError, Client};

/// `holdfast license ...`
#[derive(Debug, Subcommand)]
pub enum LicenseCmd {
    /// Show the licence and this installation's product UUID.
    Show,
    /// Register or replace the licence key.
    Register {
        /// The key (`HFL1....`); `-` reads it from stdin.
        key: String,
    },
    /// Developer tool: make a vendor key pair (writes the private key file, prints the
    /// public key for `licence_public_key`).
    #[command(hide = true)]
    Keygen {
        /// Private key file to create.
        #[arg(long)]
        private_key: PathBuf,
    },
    /// Developer tool: sign a licence key with a vendor private key file.
    #[command(hide = true)]
    Issue {
        /// Private key file (from `license keygen`).
        #[arg(long)]
        private_key: PathBuf,
        /// Product UUID of the installation (`holdfast license show`).
        #[arg(long)]
        product_uuid: String,
        /// Issue date (YYYY-MM-DD; default today).
        #[arg(long)]
        issued: Option<String>,
        /// Last valid day (YYYY-MM-DD).
        #[arg(long)]
        expires: String,
        /// Instance limit.
        #[arg(long)]
        instances: u32,
        /// Permitted platform (repeatable).
        #[arg(long = "platform", default_value = "openstack")]
        platforms: Vec<String>,
    },
}

pub async fn run(
    client: impl FnOnce() -> Result<Client, CliError>,
    cmd: LicenseCmd,
    fmt: Format,
    stdin: impl FnOnce() -> String,
) -> Result<String, CliError> {
    use reqwest::Method;
    match cmd {
        LicenseCmd::Show => Ok(output::render(
            &client()?
                .send(Method::GET, "/api/v1/licence", &[], None)
                .await?,
            fmt,
        )),
        LicenseCmd::Register { key } => {
            let key = if key == "-" {
                stdin().trim().to_owned()
            } else {
                key
            };
            let body = json!({"licence_key": key});
            Ok(output::render(
                &client()?
                    .send(Method::PUT, "/api/v1/licence", &[], Some(&body))
                    .await?,
                fmt,
            ))
        }
        LicenseCmd::Keygen { private_key } => {
            if private_key.exists() {
                return Err(CliError::Usage(format!(
                    "{} exists; not overwriting a private key",
                    private_key.display()
                )));
            }
            let key = crate::licence::generate_signing_key();
            write_private(&private_key, &crate::licence::signing_key_text(&key))?;
            Ok(format!(
                "private key written to {}\npublic key (licence_public_key): {}\n",
                private_key.display(),
                crate::licence::public_key_text(&key.verifying_key())
            ))
        }
        LicenseCmd::Issue {
            private_key,
            product_uuid,
            issued,
            expires,
            instances,
            platforms,
        } => {
            let text = std::fs::read_to_string(&private_key)
                .map_err(|e| CliError::Usage(format!("{}: {e}", private_key.display())))?;
            let key = crate::licence::signing_key_from_text(&text).map_err(CliError::Usage)?;
            let terms = crate::licence::LicenceTerms {
                product_uuid,
                issued: issued.unwrap_or_else(|| crate::licence::today().to_string()),
                expires,
                instance_limit: instances,
                platforms,
            };
            Ok(crate::licence::issue(&terms, &key) + "\n")
        }
    }
}

fn write_private(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}
