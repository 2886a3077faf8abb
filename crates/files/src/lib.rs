//! The file side of backlog-risk's front-ends (the command line, the Python
//! module): what the core must not do. Files are put in place whole
//! ([`files`]); a result folder appears whole or not at all, with one writer
//! per output folder at a time ([`outdir`]); [`DirSink`] writes the core's
//! exporters into a folder. Every front-end writes through this crate, so a
//! folder written from Python is the command line's, byte for byte.

pub mod files;
pub mod outdir;

use std::path::Path;

use anyhow::Context;
use backlog_risk::writers::export;

/// Where the exporters put their files: a folder (a staging folder, or
/// one written file by file), each file written atomically; charts are
/// kept for the pages that embed them.
pub struct DirSink<'a> {
    dir: &'a Path,
    charts: Vec<(String, Vec<u8>)>,
}

impl<'a> DirSink<'a> {
    pub fn new(dir: &'a Path) -> Self {
        DirSink { dir, charts: Vec::new() }
    }
}

impl export::Sink for DirSink<'_> {
    fn put(&mut self, name: &str, bytes: Vec<u8>) -> backlog_risk::Result<()> {
        files::write_atomic(&self.dir.join(name), &bytes).map_err(io_error)?;
        if name.ends_with(".png") {
            self.charts.push((name.to_string(), bytes));
        }
        Ok(())
    }

    fn stream(
        &mut self,
        name: &str,
        write: &mut dyn FnMut(&mut dyn std::io::Write) -> backlog_risk::Result<()>,
    ) -> backlog_risk::Result<()> {
        files::stream_atomic(&self.dir.join(name), write).map_err(io_error)
    }

    fn get(&self, name: &str) -> Option<&[u8]> {
        self.charts.iter().find(|(n, _)| n == name).map(|(_, b)| b.as_slice())
    }
}

/// A file error of a front-end, passed through the core's exporters.
fn io_error(e: anyhow::Error) -> backlog_risk::Error {
    backlog_risk::Error::Io(std::io::Error::other(format!("{e:#}")))
}

/// Write the files `export` puts (one of the core's exporter lists) into a
/// staging folder beside `target`, then move it into place whole
/// ([`outdir::Staging`]): the previous results stay whole until the new
/// ones are, and the files of `target` that `owns` does not claim are kept.
/// `what` names the result in an error ("the results of openai-shift").
pub fn write_folder(
    target: &Path,
    owns: fn(&str) -> bool,
    what: &str,
    export: impl FnOnce(&mut DirSink) -> backlog_risk::Result<()>,
) -> anyhow::Result<()> {
    let staging = outdir::Staging::new(target)?;
    export(&mut DirSink::new(&staging.dir))
        .with_context(|| format!("cannot write {what} into {}", target.display()))?;
    staging.commit(owns)
}
