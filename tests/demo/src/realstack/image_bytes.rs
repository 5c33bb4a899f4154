//! Known bytes in RBD images, through the `rbd` tool: written into a source volume's
//! image with `rbd import-diff` (plain writes, no snapshot), and checked on a recovered
//! image by reading `rbd export-diff` (every allocated extent) against the model of
//! what the image must hold.

use anyhow::{Context, bail, ensure};
use holdfast_agent::rbd::Image;
use holdfast_agent::rbd::stream::{self, Reader, Record};
use rand::Rng;
use tokio::io::AsyncWriteExt;

/// What an image holds: zeros overlaid, in order, with the recorded writes.
#[derive(Debug, Clone)]
pub(crate) struct Content {
    size: u64,
    writes: Vec<(u64, Vec<u8>)>,
}

impl Content {
    /// A new, all-zero image of `size` bytes (a new Cinder volume).
    pub(crate) fn zeros(size: u64) -> Content {
        Content {
            size,
            writes: Vec::new(),
        }
    }

    /// `data` written at `offset`.
    pub(crate) fn record(&mut self, offset: u64, data: Vec<u8>) {
        self.writes.push((offset, data));
    }

    /// The bytes of `[offset, offset + len)`.
    fn expected(&self, offset: u64, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        let end = offset + len as u64;
        for (at, data) in &self.writes {
            let w_end = at + data.len() as u64;
            let (from, to) = (offset.max(*at), end.min(w_end));
            if from < to {
                let dst = usize::try_from(from - offset).unwrap_or(usize::MAX);
                let src = usize::try_from(from - at).unwrap_or(usize::MAX);
                let n = usize::try_from(to - from).unwrap_or(usize::MAX);
                out[dst..dst + n].copy_from_slice(&data[src..src + n]);
            }
        }
        out
    }

    /// Bytes written in total.
    pub(crate) fn written(&self) -> u64 {
        self.writes.iter().map(|(_, d)| d.len() as u64).sum()
    }
}

/// `len` random bytes.
pub(crate) fn random(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rand::rng().fill(&mut v[..]);
    v
}

/// Writes `data` at `offset` into the image (durable when this returns).
pub(crate) async fn write(image: &Image, offset: u64, data: &[u8]) -> anyhow::Result<()> {
    let spec = image.spec();
    let mut s = image
        .cluster
        .spawn(&["import-diff", "--no-progress", "-", &spec], true)?;
    let mut stdin = s
        .child
        .stdin
        .take()
        .context("rbd import-diff has no stdin")?;
    let mut bytes = Vec::with_capacity(data.len() + 64);
    stream::banner(&mut bytes);
    bytes.extend_from_slice(&stream::data_header(offset, data.len() as u64));
    bytes.extend_from_slice(data);
    stream::encode(&mut bytes, &Record::End);
    let sent = stdin.write_all(&bytes).await;
    drop(stdin);
    image
        .cluster
        .finish(s)
        .await
        .with_context(|| format!("writing {} bytes at {offset} into {spec}", data.len()))?;
    sent.with_context(|| format!("feeding rbd import-diff of {spec}"))?;
    Ok(())
}

/// Checks that the image holds exactly `content`: its size, every allocated extent
/// equal to the model, every written byte present. Returns the bytes compared.
pub(crate) async fn verify(image: &Image, content: &Content) -> anyhow::Result<u64> {
    let spec = image.spec();
    let mut s = image
        .cluster
        .spawn(&["export-diff", "--no-progress", &spec, "-"], false)?;
    let stdout = s
        .child
        .stdout
        .take()
        .context("rbd export-diff has no stdout")?;
    let checked = compare(Reader::new(stdout), content, &spec).await;
    let finished = image.cluster.finish(s).await;
    let checked = checked?;
    finished.with_context(|| format!("rbd export-diff of {spec}"))?;
    Ok(checked)
}

async fn compare<R: tokio::io::AsyncRead + Unpin>(
    mut reader: Reader<R>,
    content: &Content,
    spec: &str,
) -> anyhow::Result<u64> {
    let mut data_extents: Vec<(u64, u64)> = Vec::new();
    let mut compared = 0u64;
    while let Some(record) = reader
        .next()
        .await
        .with_context(|| format!("reading rbd export-diff of {spec}"))?
    {
        match record {
            Record::Size(size) => ensure!(
                size == content.size,
                "{spec} is {size} bytes, the source volume {} bytes",
                content.size
            ),
            Record::Data { offset, data } => {
                if data != content.expected(offset, data.len()) {
                    bail!(
                        "{spec} differs from the source at the snapshot within {offset}+{}",
                        data.len()
                    );
                }
                compared += data.len() as u64;
                data_extents.push((offset, offset + data.len() as u64));
            }
            Record::Zero { offset, len } => {
                let n = usize::try_from(len).context("zero extent too large")?;
                if content.expected(offset, n).iter().any(|b| *b != 0) {
                    bail!("{spec} is zero within {offset}+{len} where the source holds data");
                }
            }
            Record::FromSnap(_) | Record::ToSnap(_) | Record::End => {}
        }
    }
    data_extents.sort_unstable();
    for (at, data) in &content.writes {
        let (mut from, to) = (*at, at + data.len() as u64);
        for (s, e) in &data_extents {
            if *s <= from && from < *e {
                from = *e;
            }
        }
        if from < to {
            bail!("{spec} lacks the data the source held within {from}..{to}");
        }
    }
    Ok(compared)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_of(records: &[Record]) -> Vec<u8> {
        let mut b = Vec::new();
        stream::banner(&mut b);
        for r in records {
            stream::encode(&mut b, r);
        }
        stream::encode(&mut b, &Record::End);
        b
    }

    async fn check(content: &Content, records: &[Record]) -> anyhow::Result<u64> {
        let bytes = stream_of(records);
        compare(Reader::new(&bytes[..]), content, "rbd/x").await
    }

    #[tokio::test]
    async fn an_image_matches_its_model_only_with_every_written_byte() {
        let mut c = Content::zeros(1 << 20);
        c.record(4096, vec![7; 100]);
        c.record(4146, vec![9; 10]);
        let mut expected = vec![0u8; 8192];
        expected[4096..4196].fill(7);
        expected[4146..4156].fill(9);
        let exact = [
            Record::Size(1 << 20),
            Record::Data {
                offset: 0,
                data: expected.clone(),
            },
            Record::Zero {
                offset: 8192,
                len: 4096,
            },
        ];
        assert_eq!(check(&c, &exact).await.unwrap(), 8192);
        // one byte differs
        let mut wrong = expected.clone();
        wrong[4150] = 7;
        let e = check(
            &c,
            &[Record::Data {
                offset: 0,
                data: wrong,
            }],
        )
        .await;
        assert!(e.unwrap_err().to_string().contains("differs"));
        // the second write is missing
        let e = check(
            &c,
            &[Record::Data {
                offset: 4096,
                data: vec![7; 40],
            }],
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("lacks"), "{e}");
        // zeroed where data was written
        let e = check(
            &c,
            &[
                Record::Data {
                    offset: 0,
                    data: expected,
                },
                Record::Zero {
                    offset: 4100,
                    len: 1,
                },
            ],
        )
        .await;
        assert!(e.unwrap_err().to_string().contains("zero"));
        // another size
        let e = check(&c, &[Record::Size(2 << 20)]).await;
        assert!(e.unwrap_err().to_string().contains("bytes"));
    }
}
