//! The exporter lists: every file a command writes is claimed by exactly one
//! list of its folder (so that what a command owns, derived from its list,
//! never reaches another command's files), a new result keeps the other
//! commands' files, and the lists in memory give the command line's bytes.

use std::path::Path;

use backlog_risk::api::{self, Observer, Options};
use backlog_risk::writers::charts::ChartSize;
use backlog_risk::writers::export::{self, Charts, FOLDERS, MemorySink};

/// Run the binary with `args` into `out`, quietly.
fn cli(out: &Path, args: &[&str]) {
    crate::common::cmd().args(args).args(["--quiet", "--out"]).arg(out).assert().success();
}

/// The lists of `folder` (a key of [`FOLDERS`]) that claim `name`.
fn claimants(folder: &str, name: &str) -> Vec<&'static str> {
    let (_, lists) = FOLDERS.iter().find(|(f, _)| *f == folder).unwrap_or_else(|| panic!("no folder {folder}"));
    lists.iter().filter(|(_, owns)| owns(name)).map(|(list, _)| *list).collect()
}

/// Every file under `out`, with the folder kind it lies in.
fn files(out: &Path) -> Vec<(&'static str, String)> {
    let names = |dir: &Path| {
        let mut v: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        v.sort();
        v
    };
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    let mut all = Vec::new();
    for top in names(out) {
        if top.is_file() {
            all.push(("OUT", name(&top)));
            continue;
        }
        for inner in names(&top) {
            if inner.is_file() {
                all.push(("OUT/NAME", name(&inner)));
                continue;
            }
            assert!(name(&inner).starts_with("portfolio-"), "{}", inner.display());
            for f in names(&inner) {
                assert!(f.is_file(), "{}", f.display());
                all.push(("OUT/NAME/portfolio-P", name(&f)));
            }
        }
    }
    all
}

#[test]
fn every_file_is_claimed_by_one_list_of_its_folder_and_new_results_keep_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let p = ["--paths", "4096"];
    let run = ["run", "scenarios/openai-shift.toml", "scenarios/status-quo.toml", "--charts", "all", "--samples", "3"];
    cli(out, &[&run[..], &p].concat());
    cli(
        out,
        &[&["run", "scenarios/variants/openai-shift-fast.toml", "--paired", "scenarios/openai-shift.toml"][..], &p]
            .concat(),
    );
    cli(out, &["explain", "scenarios/openai-shift.toml", "--paths", "2048"]);
    let vary = ["--vary", "renegotiation[0].hazard=0.1,0.2", "--paths", "2048"];
    cli(out, &[&["sweep", "scenarios/openai-shift.toml"][..], &vary].concat());
    cli(out, &[&["sweep", "scenarios/openai-shift.toml", "--shard", "0/2"][..], &vary].concat());
    let stress = ["stress", "--portfolio", "portfolios/aws-vs-msft.toml", "--paired", "scenarios/status-quo.toml"];
    cli(out, &[&stress[..], &["scenarios/openai-shift.toml", "scenarios/status-quo.toml"], &p].concat());
    cli(out, &[&stress[..], &["scenarios/openai-shift.toml", "--shard", "1/2"], &p].concat());
    cli(out, &[&["run", "scenarios/openai-shift.toml", "--shard", "0/2"][..], &p].concat());

    let written = files(out);
    let expect = [
        ("OUT", "batch.csv", "batch"),
        ("OUT", "comparison-azure.png", "batch"),
        ("OUT", "index.html", "batch"),
        ("OUT", "portfolio-aws-vs-msft.png", "across"),
        ("OUT/NAME", "samples.csv", "run"),
        ("OUT/NAME", "paired-openai-shift.csv", "run"),
        ("OUT/NAME", "tornado.png", "explain"),
        ("OUT/NAME", "sweep-renegotiation-0-hazard.png", "sweep"),
        ("OUT/NAME", "sweep-renegotiation-0-hazard-shard-0-of-2.bin", "shard"),
        ("OUT/NAME", "shard-0-of-2.bin", "shard"),
        ("OUT/NAME/portfolio-P", "paired-status-quo.csv", "stress"),
        ("OUT/NAME/portfolio-P", "shard-1-of-2.bin", "shard"),
    ];
    for (folder, name, list) in expect {
        assert!(written.iter().any(|(f, n)| *f == folder && n == name), "{folder}/{name} was not written");
        assert_eq!(claimants(folder, name), [list], "{folder}/{name}");
    }
    for (folder, name) in &written {
        if name == ".backlog-risk.lock" {
            continue;
        }
        assert_eq!(claimants(folder, name).len(), 1, "{folder}/{name} is claimed by {:?}", claimants(folder, name));
    }

    // A new run replaces the run's files only; explain without charts
    // replaces explain's, so its old chart goes.
    let s = out.join("openai-shift");
    let count = |dir: &Path| std::fs::read_dir(dir).unwrap().count();
    let before = count(&s);
    cli(out, &[&["run", "scenarios/openai-shift.toml", "--no-charts"][..], &p].concat());
    for kept in ["tornado.png", "sweep-renegotiation-0-hazard.csv", "shard-0-of-2.bin", "portfolio-aws-vs-msft"] {
        assert!(s.join(kept).exists(), "{kept} was lost to a new run");
    }
    assert!(!s.join("loss-aws.png").exists() && !s.join("samples.csv").exists(), "a run's old files stay");
    assert!(count(&s) < before);
    cli(out, &["explain", "scenarios/openai-shift.toml", "--paths", "2048", "--no-charts"]);
    assert!(!s.join("tornado.png").exists() && s.join("explain.html").exists());
    assert!(s.join("summary.csv").exists() && s.join("portfolio-aws-vs-msft/pnl.csv").exists());
    assert!(s.join("portfolio-aws-vs-msft/shard-1-of-2.bin").exists());
}

/// What the API returns, exported to memory, is the command line's folder
/// byte for byte: every file of explain and of a stress test.
#[test]
fn exported_in_memory_the_api_gives_the_command_lines_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let file = "scenarios/openai-shift.toml";
    let sc = backlog_risk::scenario::load(file.as_ref()).unwrap();
    let size = ChartSize::default();

    let o = Options { paths: Some(2048), ..Options::default() };
    let conditions = backlog_risk::analysis::given::parse("loss.azure>=300").unwrap();
    let given = api::GivenWhat { conditions, ..Default::default() };
    let what = api::ExplainWhat { given: Some(given), ..Default::default() };
    let e = api::explain(&sc, &what, &o, &Observer::new()).unwrap();
    let cx = export::ExplainContext {
        scenario: &e.scenario.name,
        scenario_file: file,
        metric: &e.metric,
        paths: e.scenario.paths,
        seed: e.scenario.seed,
        plan: e.plan,
        mean: e.accumulator.metrics[e.metric_index].moments.mean(),
        attribution: e.attribution.as_ref().map(|a| a.rows.as_slice()),
        sensitivity: e.sensitivity.as_deref(),
        given: e.given.as_ref(),
        charts: Charts::Key,
        chart_size: size,
        workbook: true,
    };
    let mut sink = MemorySink::default();
    export::export_explain(&cx, &mut sink).unwrap();
    assert!(["given.csv", "given-paths.csv"].iter().all(|n| sink.files.iter().any(|(f, _)| f == n)));
    cli(out, &["explain", file, "--paths", "2048", "--given", "loss.azure>=300"]);
    same_files(&sink, &out.join("openai-shift"), export::explain_owns);

    let portfolio = backlog_risk::portfolio::load("portfolios/ai-infra.toml".as_ref()).unwrap();
    let o = Options { paths: Some(4096), ..Options::default() };
    let api::Stressed::Ran(r, row) = api::stress(&portfolio, &sc, None, &o, &Observer::new()).unwrap() else {
        panic!("the shipped portfolio fits the shipped scenario")
    };
    let cx =
        export::StressContext { result: &r, row: Some(&row), charts: Charts::Key, chart_size: size, workbook: true };
    let mut sink = MemorySink::default();
    export::export_stress(&cx, &mut sink).unwrap();
    cli(out, &["stress", "--portfolio", "portfolios/ai-infra.toml", file, "--paths", "4096"]);
    same_files(&sink, &out.join("openai-shift/portfolio-ai-infra"), export::stress_owns);
}

/// `sink` holds exactly the files of `dir` that `owns` claims, byte for byte.
fn same_files(sink: &MemorySink, dir: &Path, owns: fn(&str) -> bool) {
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| owns(n))
        .collect();
    on_disk.sort();
    let mut in_memory: Vec<String> = sink.files.iter().map(|(n, _)| n.clone()).collect();
    in_memory.sort();
    assert_eq!(in_memory, on_disk, "{}", dir.display());
    assert!(in_memory.iter().any(|n| n.ends_with(".png")) && in_memory.iter().any(|n| n.ends_with(".csv")));
    for (name, bytes) in &sink.files {
        assert!(std::fs::read(dir.join(name)).unwrap() == *bytes, "{name} differs from the command line's");
    }
}
