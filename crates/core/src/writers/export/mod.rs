//! Every output file as an exporter, on one list per kind of result.
//!
//! An exporter turns a finished result (a context: [`RunContext`],
//! [`StressContext`]...) into one or more files, handed to a [`Sink`] the
//! front-end provides (the command line writes them into a folder; a
//! [`MemorySink`] keeps them). Each command's exporters are one list,
//! written in its order:
//!
//! | list | result | folder the command line writes it to |
//! |---|---|---|
//! | [`RUN_EXPORTERS`] | a run (plain, paired, to a precision, merged) | `OUT/NAME/` |
//! | [`EXPLAIN_EXPORTERS`] | `explain` | `OUT/NAME/` |
//! | [`SWEEP_EXPORTERS`] | a sweep | `OUT/NAME/` |
//! | [`SHARD_EXPORTERS`] | a shard of a run, a sweep or a stress test | `OUT/NAME/`, `OUT/NAME/portfolio-P/` |
//! | [`STRESS_EXPORTERS`] | a stress test of one scenario | `OUT/NAME/portfolio-P/` |
//! | [`PATH_EXPORTERS`] | one replayed path (`path`) | `OUT/NAME/path-N/` |
//! | [`ACROSS_EXPORTERS`] | a stress test across scenarios | `OUT/` |
//! | [`BATCH_EXPORTERS`] | a run of several scenarios | `OUT/` |
//!
//! The set of files a command owns (what a new result replaces in an
//! existing folder, [`run_owns`], [`stress_owns`]...) is derived from its
//! list, and [`FOLDERS`] says which lists share a folder: a test checks that
//! no file name is claimed by two of them. Adding a format is one new
//! exporter (in the file of its command here, or a file of its own) and one
//! line in a list.

use std::io::Write;

mod batch;
mod explain;
mod path;
mod run;
mod shard;
mod stress;
mod sweep;

pub use batch::BatchContext;
pub use explain::ExplainContext;
pub use path::{PathContext, path_folder};
pub use run::RunContext;
pub use shard::shard_name;
pub use stress::{AcrossContext, StressContext};
pub use sweep::{SweepContext, sweep_slug};

use crate::Result;
use crate::writers::shard::ShardFile;

/// Which charts a command draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charts {
    None,
    /// A run's loss.png for the focus provider, fan, exceedance,
    /// concentration; every other command's charts.
    Key,
    /// Key charts plus a run's loss-PROVIDER.png for every provider and a
    /// batch's comparison-PROVIDER.png.
    All,
}

/// Where exported files go (a sink may be handed to another thread of the
/// pool while an exporter [`Exporter::beside`] the others runs).
pub trait Sink: Send {
    /// A whole file.
    fn put(&mut self, name: &str, bytes: Vec<u8>) -> Result<()>;
    /// A file written as it comes (a table too large to hold).
    fn stream(&mut self, name: &str, write: &mut dyn FnMut(&mut dyn Write) -> Result<()>) -> Result<()>;
    /// The bytes of a chart (a `.png`) put earlier in this export: the
    /// pages embed them.
    fn get(&self, name: &str) -> Option<&[u8]>;
}

/// Which file names an exporter writes.
pub trait Owns: Sync {
    /// Whether a file of this name in its folder is this exporter's (a new
    /// result replaces it, whether or not it writes it again).
    fn owns(&self, name: &str) -> bool;
}

/// One kind of file of a result of type `C`.
pub trait Exporter<C>: Owns {
    /// Write this exporter's files of `cx` (none, when it does not apply).
    fn export(&self, cx: &C, sink: &mut dyn Sink) -> Result<()>;

    /// Whether this exporter's files are made beside those of the
    /// exporters before it in its list, on another thread of the rayon
    /// pool, into memory, and put when they are done (so in the list's
    /// order). Only for an exporter that reads nothing the others put
    /// (no [`Sink::get`]) and writes no file too large to hold.
    fn beside(&self) -> bool {
        false
    }
}

/// Every file of a result in memory, in the order put: for front-ends that
/// hand bytes on (and tests).
#[derive(Debug, Default)]
pub struct MemorySink {
    pub files: Vec<(String, Vec<u8>)>,
}

impl Sink for MemorySink {
    fn put(&mut self, name: &str, bytes: Vec<u8>) -> Result<()> {
        self.files.retain(|(n, _)| n != name);
        self.files.push((name.to_string(), bytes));
        Ok(())
    }

    fn stream(&mut self, name: &str, write: &mut dyn FnMut(&mut dyn Write) -> Result<()>) -> Result<()> {
        let mut bytes = Vec::new();
        write(&mut bytes)?;
        self.put(name, bytes)
    }

    fn get(&self, name: &str) -> Option<&[u8]> {
        self.files.iter().find(|(n, _)| n == name).map(|(_, b)| b.as_slice())
    }
}

/// The exporters of one kind of result, and the two functions derived from
/// the list: which names it owns, and the export of all of them.
macro_rules! exporters {
    ($(#[$doc:meta])* $list:ident: $cx:ident, $owns:ident, $export:ident, [$($e:expr),* $(,)?]) => {
        $(#[$doc])*
        pub static $list: &[&dyn for<'a> Exporter<$cx<'a>>] = &[$(&$e),*];

        #[doc = concat!("Whether a file of this name is one of [`", stringify!($list), "`]'s.")]
        pub fn $owns(name: &str) -> bool {
            $list.iter().any(|e| e.owns(name))
        }

        #[doc = concat!("Export every file of [`", stringify!($list), "`] to `sink`, in order.")]
        pub fn $export(cx: &$cx, sink: &mut dyn Sink) -> Result<()> {
            let mut list = $list;
            // An exporter beside the ones before it: both at once, the
            // earlier ones' error first, its files put after theirs.
            while let Some(i) = list.iter().position(|e| e.beside()) {
                let (made, before) = rayon::join(
                    || {
                        let mut m = MemorySink::default();
                        list[i].export(cx, &mut m).map(|()| m)
                    },
                    || list[..i].iter().try_for_each(|e| e.export(cx, &mut *sink)),
                );
                before?;
                made?.files.into_iter().try_for_each(|(name, bytes)| sink.put(&name, bytes))?;
                list = &list[i + 1..];
            }
            list.iter().try_for_each(|e| e.export(cx, sink))
        }
    };
}

exporters!(
    /// Every exporter of a run, in the order they write (`run.json` last:
    /// its presence says the run's files are all there).
    ///
    /// ```
    /// use backlog_risk::writers::export::run_owns;
    /// assert!(run_owns("summary.csv") && run_owns("loss-aws.png") && run_owns("paired-base.csv"));
    /// assert!(!run_owns("portfolio-ai-infra") && !run_owns("shard-0-of-3.bin") && !run_owns("tornado.png"));
    /// ```
    RUN_EXPORTERS: RunContext, run_owns, export_run, [
        run::SamplesCsv,
        run::Table("summary.csv", crate::writers::output::summary_csv),
        run::Table("errors.csv", crate::writers::output::errors_csv),
        run::Table("summary.json", crate::writers::output::summary_json),
        run::Table("fan.csv", crate::writers::output::fan_csv),
        run::Table("revenue.csv", crate::writers::output::revenue_csv),
        run::ChartsPng,
        run::PairedCsv,
        run::ReportHtml,
        run::ReportXlsx,
        run::RunJson,
    ]
);

exporters!(
    /// The files of `explain` (the charts before the page that shows them).
    EXPLAIN_EXPORTERS: ExplainContext, explain_owns, export_explain, [
        explain::File("attribution.csv", explain::attribution_csv),
        explain::File("attribution.png", explain::attribution_png),
        explain::File("sensitivity.csv", explain::sensitivity_csv),
        explain::File("tornado.png", explain::tornado_png),
        explain::File("given.csv", explain::given_csv),
        explain::File("given.png", explain::given_png),
        explain::File("given-paths.csv", explain::given_paths_csv),
        explain::File("explain.xlsx", explain::explain_xlsx),
        explain::ExplainHtml,
    ]
);

exporters!(
    /// The files of one replayed path, in its folder `path-N`.
    ///
    /// ```
    /// use backlog_risk::writers::export::path_owns;
    /// assert!(path_owns("path-12.csv") && path_owns("path-0-values.csv") && path_owns("path-7-variant.toml"));
    /// assert!(!path_owns("path-.csv") && !path_owns("path-x.png") && !path_owns("summary.csv"));
    /// ```
    PATH_EXPORTERS: PathContext, path_owns, export_path, [
        path::File(".csv", path::quarters_csv),
        path::File("-values.csv", path::values_csv),
        path::File(".png", path::chart_png),
        path::File("-variant.toml", path::variant_toml),
    ]
);

exporters!(
    /// The files of a sweep: `sweep-SLUG.csv` and `sweep-SLUG.png`.
    SWEEP_EXPORTERS: SweepContext, sweep_owns, export_sweep, [sweep::SweepCsv, sweep::SweepPng]
);

exporters!(
    /// A shard file: `shard-K-of-N.bin`, or `sweep-SLUG-shard-K-of-N.bin`.
    SHARD_EXPORTERS: ShardContext, shard_owns, export_shard, [shard::ShardBin]
);

exporters!(
    /// The files of one scenario's stress test.
    STRESS_EXPORTERS: StressContext, stress_owns, export_stress, [
        stress::PairedCsv,
        stress::Table("pnl.csv", stress::pnl_rows),
        stress::Table("risk.csv", |r| crate::writers::output::rows_csv(&r.risk)),
        stress::Table("contributions.csv", |r| crate::writers::output::rows_csv(&r.contributions)),
        stress::Table("tail.csv", |r| crate::writers::output::rows_csv(&r.tail)),
        stress::PnlPng,
        stress::ContributionsPng,
        stress::PortfolioXlsx,
    ]
);

exporters!(
    /// A stress test across scenarios: `portfolio-P.csv` and `.png`.
    ACROSS_EXPORTERS: AcrossContext, across_owns, export_across, [stress::AcrossCsv, stress::AcrossPng]
);

exporters!(
    /// The files of a run of several scenarios (`index.html` after the
    /// comparison chart it shows).
    BATCH_EXPORTERS: BatchContext, batch_owns, export_batch, [
        batch::ComparisonCsv,
        batch::ComparisonPng,
        batch::ComparisonXlsx,
        batch::IndexHtml,
        batch::BatchCsv,
    ]
);

/// A shard file, as its exporter sees it.
pub struct ShardContext<'a> {
    pub file: &'a ShardFile,
}

/// A list by name, and which file names it owns.
pub type Claim = (&'static str, fn(&str) -> bool);

/// The folders the command line writes into and the lists that share each
/// (by name); no file name may be claimed by two lists of one folder.
pub static FOLDERS: &[(&str, &[Claim])] = &[
    ("OUT", &[("batch", batch_owns), ("across", across_owns)]),
    ("OUT/NAME", &[("run", run_owns), ("explain", explain_owns), ("sweep", sweep_owns), ("shard", shard_owns)]),
    ("OUT/NAME/portfolio-P", &[("stress", stress_owns), ("shard", shard_owns)]),
    ("OUT/NAME/path-N", &[("path", path_owns)]),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A context of the test list: which exporters fail.
    pub struct Cx<'a> {
        failing: &'a [&'a str],
    }

    /// An exporter putting `NAME.txt`, or failing when its context says so.
    pub struct Put(&'static str, bool);

    impl Owns for Put {
        fn owns(&self, name: &str) -> bool {
            name == format!("{}.txt", self.0)
        }
    }

    impl Exporter<Cx<'_>> for Put {
        fn export(&self, cx: &Cx<'_>, sink: &mut dyn Sink) -> Result<()> {
            if cx.failing.contains(&self.0) {
                return Err(crate::Error::Invalid(format!("{} failed", self.0)));
            }
            sink.put(&format!("{}.txt", self.0), self.0.as_bytes().to_vec())
        }

        fn beside(&self) -> bool {
            self.1
        }
    }

    exporters!(
        TEST_EXPORTERS: Cx, test_owns, export_test, [
            Put("a", false),
            Put("b", true),
            Put("c", false),
            Put("d", false),
            Put("e", true),
            Put("f", true),
            Put("g", false),
        ]
    );

    fn export_on(threads: usize, failing: &[&str]) -> (Vec<String>, Result<()>) {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut sink = MemorySink::default();
        let res = pool.install(|| export_test(&Cx { failing }, &mut sink));
        (sink.files.into_iter().map(|(n, _)| n).collect(), res)
    }

    /// Exporters made beside the others put their files in the list's
    /// order, on one thread or several, and an error stops the list where
    /// it arises (the earlier exporter's first).
    #[test]
    fn exporters_beside_the_others_keep_the_lists_order_and_its_first_error() {
        let all: Vec<String> = "abcdefg".chars().map(|c| format!("{c}.txt")).collect();
        for threads in [1, 2, 4] {
            for _ in 0..20 {
                let (files, res) = export_on(threads, &[]);
                assert!(res.is_ok());
                assert_eq!(files, all, "{threads} threads");
            }
            let message = |failing: &[&str]| {
                let (files, res) = export_on(threads, failing);
                (files.len(), res.map_err(|e| e.to_string()).expect_err("an exporter failed"))
            };
            // An exporter beside the others fails: what came before it is
            // put, nothing after.
            assert_eq!(message(&["b"]), (1, "b failed".to_string()));
            // One before it fails too: that error, not the later one's.
            assert_eq!(message(&["a", "b"]), (0, "a failed".to_string()));
            assert_eq!(message(&["d", "e"]), (3, "d failed".to_string()));
            // Two beside each other: the first's error.
            assert_eq!(message(&["e", "f"]), (4, "e failed".to_string()));
            assert_eq!(message(&["g"]), (6, "g failed".to_string()));
        }
        assert!(test_owns("f.txt") && !test_owns("h.txt"));
    }
}
