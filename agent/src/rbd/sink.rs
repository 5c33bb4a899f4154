//! The target-side writer of an RBD image: extents received from the data plane are
//! fed to `rbd import-diff - <image>` as a generated v1 stream (no snapshot records,
//! so librbd applies them as plain writes and discards). A sync point ends the stream:
//! once `import-diff` exits successfully, librbd has flushed and closed the image and
//! the data is durable in the cluster. The next extent starts a new stream.

use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::process::ChildStdin;

use super::cli::Streaming;
use super::stream::{self, Record};
use super::{Image, RbdError};

/// One running `import-diff`.
#[derive(Debug)]
pub struct Batch {
    stream: Streaming,
    stdin: BufWriter<ChildStdin>,
}

/// Applies extents to a target image.
#[derive(Debug)]
pub struct RbdSink {
    pub image: Image,
    batch: Option<Batch>,
}

impl RbdSink {
    pub fn new(image: Image) -> RbdSink {
        RbdSink { image, batch: None }
    }

    /// Makes the image exist with `size` bytes; with `zero_first` its content is
    /// discarded first (shrunk to nothing, then grown: thin and all zero). Snapshots of
    /// the image are kept.
    pub async fn prepare(&mut self, size: u64, zero_first: bool) -> Result<(), RbdError> {
        self.flush().await?;
        match self.image.size().await? {
            None => self.image.create(size).await,
            Some(_) if zero_first => {
                self.image.resize(0).await?;
                self.image.resize(size).await
            }
            Some(s) if s != size => self.image.resize(size).await,
            Some(_) => Ok(()),
        }
    }

    async fn batch(&mut self) -> Result<&mut Batch, RbdError> {
        if self.batch.is_none() {
            let spec = self.image.spec();
            let mut s = self
                .image
                .cluster
                .spawn(&["import-diff", "--no-progress", "-", &spec], true)?;
            let stdin = s.child.stdin.take().ok_or_else(|| RbdError::Io {
                command: s.command.clone(),
                source: std::io::ErrorKind::BrokenPipe.into(),
            })?;
            let mut stdin = BufWriter::with_capacity(1 << 20, stdin);
            let mut banner = Vec::new();
            stream::banner(&mut banner);
            stdin
                .write_all(&banner)
                .await
                .map_err(|source| RbdError::Io {
                    command: s.command.clone(),
                    source,
                })?;
            self.batch = Some(Batch { stream: s, stdin });
        }
        self.batch.as_mut().ok_or_else(|| RbdError::Io {
            command: "rbd import-diff".into(),
            source: std::io::ErrorKind::NotConnected.into(),
        })
    }

    /// A write failed: the command's own error (from its exit) says why.
    async fn failed(&mut self, source: std::io::Error) -> RbdError {
        match self.batch.take() {
            Some(b) => {
                let command = b.stream.command.clone();
                match self.image.cluster.finish(b.stream).await {
                    Err(e) => e,
                    Ok(()) => RbdError::Io { command, source },
                }
            }
            None => RbdError::Io {
                command: "rbd import-diff".into(),
                source,
            },
        }
    }

    pub async fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), RbdError> {
        let b = self.batch().await?;
        let header = stream::data_header(offset, data.len() as u64);
        let r = async {
            b.stdin.write_all(&header).await?;
            b.stdin.write_all(data).await
        }
        .await;
        match r {
            Ok(()) => Ok(()),
            Err(e) => Err(self.failed(e).await),
        }
    }

    pub async fn zero(&mut self, offset: u64, len: u64) -> Result<(), RbdError> {
        let b = self.batch().await?;
        let mut rec = Vec::with_capacity(17);
        stream::encode(&mut rec, &Record::Zero { offset, len });
        match b.stdin.write_all(&rec).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.failed(e).await),
        }
    }

    /// Hands the running stream over (for a background flush); `None` if nothing was
    /// written since the last one.
    pub fn take(&mut self) -> Option<Batch> {
        self.batch.take()
    }

    /// Ends the running stream and waits until its data is durable.
    pub async fn flush(&mut self) -> Result<(), RbdError> {
        match self.batch.take() {
            Some(b) => finish(&self.image, b).await,
            None => Ok(()),
        }
    }
}

/// Ends a stream (end record, stdin closed) and waits for `import-diff` to succeed.
pub async fn finish(image: &Image, mut b: Batch) -> Result<(), RbdError> {
    let r = async {
        b.stdin.write_all(b"e").await?;
        b.stdin.flush().await?;
        b.stdin.shutdown().await
    }
    .await;
    drop(b.stdin);
    let done = image.cluster.finish(b.stream).await;
    match (done, r) {
        (Err(e), _) => Err(e),
        (Ok(()), Err(source)) => Err(RbdError::Io {
            command: format!("rbd import-diff - {}", image.spec()),
            source,
        }),
        (Ok(()), Ok(())) => Ok(()),
    }
}
