//! Shard files ([`super::SHARD_EXPORTERS`]): the partial results of
//! `--shard K/N`, for `merge`.

use super::{Exporter, Owns, ShardContext, Sink, sweep_slug};
use crate::Result;
use crate::writers::shard::{self, Payload, ShardFile};

/// The name of a shard file: `shard-K-of-N.bin`, or
/// `sweep-SLUG-shard-K-of-N.bin` for a sweep's.
pub fn shard_name(file: &ShardFile) -> String {
    let (k, n) = (file.header.shard, file.header.shards);
    match &file.payload {
        Payload::Sweep(s) => {
            shard::sweep_file_name(&sweep_slug(&s.vary.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>()), k, n)
        }
        _ => shard::file_name(k, n),
    }
}

/// One shard file, encoded.
pub(super) struct ShardBin;

impl Owns for ShardBin {
    fn owns(&self, name: &str) -> bool {
        shard::kind(name).is_some()
    }
}

impl Exporter<ShardContext<'_>> for ShardBin {
    fn export(&self, cx: &ShardContext<'_>, sink: &mut dyn Sink) -> Result<()> {
        sink.put(&shard_name(cx.file), shard::encode(cx.file)?)
    }
}
