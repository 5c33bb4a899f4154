//! Running the `rbd` command-line tool (Debian's ceph-common) against one cluster, as
//! one client, with a timeout on every command and stderr turned into typed errors.
//!
//! Why the CLI and not librbd bindings: `unsafe` is confined to `kmod-interface`, and
//! the Rust librbd bindings are unmaintained (`librbd-sys` 0.1). The `rbd` tool is
//! librbd itself, installed on every Ceph client node, and its `export-diff` /
//! `import-diff` stream is a documented, versioned format.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

/// Where and as whom the agent reaches one Ceph cluster, and which pool it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    pub conf: PathBuf,
    pub client_id: String,
    pub keyring: PathBuf,
    pub pool: String,
    /// Deadline of one control command, and the longest silence of a data stream.
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum RbdError {
    #[error(
        "cannot run `rbd` ({source}): install ceph-common (it provides the rbd tool) on this node"
    )]
    Spawn { source: std::io::Error },
    #[error(
        "`{command}` did not finish within {secs} s: check that the monitors in {conf} answer (`ceph -c {conf} --id {client} -s`)"
    )]
    Timeout {
        command: String,
        secs: u64,
        conf: String,
        client: String,
    },
    #[error("`{command}`: {what} does not exist")]
    NotFound { command: String, what: String },
    #[error("`{command}` already exists: {stderr}")]
    Exists { command: String, stderr: String },
    #[error("`{command}` failed (exit {code:?}): {stderr}{hint}")]
    Failed {
        command: String,
        code: Option<i32>,
        stderr: String,
        hint: String,
    },
    #[error("`{command}` printed output this agent cannot read: {reason}")]
    Output { command: String, reason: String },
    #[error("`{command}` I/O: {source}")]
    Io {
        command: String,
        source: std::io::Error,
    },
}

impl RbdError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, RbdError::NotFound { .. })
    }
}

/// What to check, from what rbd printed.
fn hint(stderr: &str, cluster: &Cluster) -> String {
    let s = stderr.to_ascii_lowercase();
    if s.contains("(13)") || s.contains("permission denied") || s.contains("(1) ") {
        format!(
            "; check the keyring {} and the caps of client.{} on pool {}",
            cluster.keyring.display(),
            cluster.client_id,
            cluster.pool
        )
    } else if s.contains("(110)") || s.contains("timed out") || s.contains("(111)") {
        format!(
            "; check that the monitors in {} are reachable",
            cluster.conf.display()
        )
    } else if s.contains("(28)") || s.contains("no space") {
        "; the cluster is full: free space or add OSDs".to_owned()
    } else {
        String::new()
    }
}

impl Cluster {
    /// The arguments naming the cluster and client, before any subcommand.
    fn base(&self) -> Vec<String> {
        vec![
            "-c".into(),
            self.conf.display().to_string(),
            "--id".into(),
            self.client_id.clone(),
            "--keyring".into(),
            self.keyring.display().to_string(),
        ]
    }

    /// `pool/image` or `pool/image@snap`.
    pub fn spec(&self, image: &str, snap: Option<&str>) -> String {
        match snap {
            Some(s) => format!("{}/{image}@{s}", self.pool),
            None => format!("{}/{image}", self.pool),
        }
    }

    fn command(&self, args: &[&str]) -> (Command, String) {
        let mut c = Command::new("rbd");
        c.args(self.base())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        (c, format!("rbd {}", args.join(" ")))
    }

    fn timeout_err(&self, command: String) -> RbdError {
        RbdError::Timeout {
            command,
            secs: self.timeout.as_secs().max(1),
            conf: self.conf.display().to_string(),
            client: self.client_id.clone(),
        }
    }

    /// Turns a finished command's status and stderr into an error.
    pub(crate) fn check(
        &self,
        command: String,
        status: std::process::ExitStatus,
        stderr: &[u8],
    ) -> Result<(), RbdError> {
        if status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(stderr)
            .lines()
            .filter(|l| !l.contains("% complete"))
            .collect::<Vec<_>>()
            .join(" ")
            .trim()
            .to_owned();
        if stderr.contains("couldn't connect to the cluster") {
            let hint = format!(
                "; check that {} names the monitors and that {} holds the key of client.{}",
                self.conf.display(),
                self.keyring.display(),
                self.client_id
            );
            return Err(RbdError::Failed {
                command,
                code: status.code(),
                stderr,
                hint,
            });
        }
        if stderr.contains("(2) No such file or directory") {
            let what = command
                .split_whitespace()
                .rfind(|w| w.contains('/'))
                .unwrap_or("the image")
                .to_owned();
            return Err(RbdError::NotFound { command, what });
        }
        if stderr.contains("(17) File exists") {
            return Err(RbdError::Exists { command, stderr });
        }
        let hint = hint(&stderr, self);
        Err(RbdError::Failed {
            command,
            code: status.code(),
            stderr,
            hint,
        })
    }

    /// Runs a control command to completion and returns its stdout.
    #[tracing::instrument(skip_all, fields(command = %args.join(" ")))]
    pub async fn run(&self, args: &[&str]) -> Result<Vec<u8>, RbdError> {
        let (mut c, command) = self.command(args);
        let child = c.spawn().map_err(|source| RbdError::Spawn { source })?;
        let out = match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(Ok(out)) => out,
            Ok(Err(source)) => return Err(RbdError::Io { command, source }),
            // Dropping the future kills the child (kill_on_drop).
            Err(_) => return Err(self.timeout_err(command)),
        };
        self.check(command, out.status, &out.stderr)?;
        Ok(out.stdout)
    }

    /// Runs a command and parses its `--format json` output.
    pub async fn json<T: serde::de::DeserializeOwned>(&self, args: &[&str]) -> Result<T, RbdError> {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let out = self.run(&all).await?;
        serde_json::from_slice(&out).map_err(|e| RbdError::Output {
            command: format!("rbd {}", all.join(" ")),
            reason: e.to_string(),
        })
    }

    /// Starts a streaming command (`export-diff ... -` or `import-diff - ...`): stdout
    /// or stdin piped as asked, stderr collected by [`Cluster::finish`].
    pub fn spawn(&self, args: &[&str], stdin: bool) -> Result<Streaming, RbdError> {
        let (mut c, command) = self.command(args);
        if stdin {
            c.stdin(Stdio::piped()).stdout(Stdio::null());
        }
        let mut child = c.spawn().map_err(|source| RbdError::Spawn { source })?;
        let mut stderr = child.stderr.take();
        let stderr = tokio::spawn(async move {
            let mut buf = Vec::new();
            if let Some(s) = stderr.as_mut() {
                let _ = s.take(64 << 10).read_to_end(&mut buf).await;
            }
            buf
        });
        Ok(Streaming {
            child,
            command,
            stderr,
        })
    }

    /// Waits (with the timeout) for a streaming command whose input or output is done.
    pub async fn finish(&self, s: Streaming) -> Result<(), RbdError> {
        let Streaming {
            mut child,
            command,
            stderr,
        } = s;
        drop(child.stdin.take());
        let status = match tokio::time::timeout(self.timeout, child.wait()).await {
            Ok(Ok(st)) => st,
            Ok(Err(source)) => return Err(RbdError::Io { command, source }),
            Err(_) => {
                let _ = child.kill().await;
                return Err(self.timeout_err(command));
            }
        };
        let stderr = stderr.await.unwrap_or_default();
        self.check(command, status, &stderr)
    }
}

#[derive(serde::Deserialize)]
struct Df {
    pools: Vec<DfPool>,
}

#[derive(serde::Deserialize)]
struct DfPool {
    name: String,
    stats: DfStats,
}

#[derive(serde::Deserialize)]
struct DfStats {
    bytes_used: u64,
    max_avail: u64,
}

impl Cluster {
    /// The pool's space as (total, available) bytes, from `ceph df` (same client).
    pub async fn pool_space(&self) -> Result<(u64, u64), RbdError> {
        let mut c = Command::new("ceph");
        c.args(self.base())
            .args(["df", "--format", "json"])
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let command = "ceph df --format json".to_owned();
        let out = match tokio::time::timeout(self.timeout, c.output()).await {
            Ok(Ok(out)) => out,
            Ok(Err(source)) => return Err(RbdError::Spawn { source }),
            Err(_) => return Err(self.timeout_err(command)),
        };
        self.check(command.clone(), out.status, &out.stderr)?;
        let df: Df = serde_json::from_slice(&out.stdout).map_err(|e| RbdError::Output {
            command: command.clone(),
            reason: e.to_string(),
        })?;
        let pool = df
            .pools
            .into_iter()
            .find(|p| p.name == self.pool)
            .ok_or_else(|| RbdError::NotFound {
                command,
                what: format!("pool {}", self.pool),
            })?;
        Ok((
            pool.stats.bytes_used + pool.stats.max_avail,
            pool.stats.max_avail,
        ))
    }
}

/// A running streaming `rbd` command.
#[derive(Debug)]
pub struct Streaming {
    pub child: Child,
    pub command: String,
    stderr: tokio::task::JoinHandle<Vec<u8>>,
}
