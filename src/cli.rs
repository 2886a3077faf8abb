//! Command-line arguments (clap) and their conversion into [`app`] options.
//! Nothing past this module sees clap's types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::app::{Charts, RunOptions, SweepOptions};
use backlog_risk::metric::Metric;
use backlog_risk::model::Sampling;
use backlog_risk::writers::charts::ChartSize;

/// Monte Carlo simulator of revenue-backlog concentration risk.
///
/// Reads scenario files (TOML) that describe cloud providers, their
/// customers, shifts of new spend between providers and renegotiation
/// events; samples many paths in parallel; writes the distribution of
/// backlog, revenue, customer shares and losses against plan as CSV and as
/// PNG charts.
#[derive(Debug, Parser)]
#[command(name = "backlog-risk", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Simulate scenarios and write their distributions to the output folder.
    Run(RunArgs),
    /// Check scenario files for errors without running them.
    Validate(ValidateArgs),
    /// Print a scenario with its `extends` chain merged in, as TOML.
    Show(ShowArgs),
    /// Evaluate a portfolio on every simulated path of each scenario, at the
    /// portfolio's horizon.
    ///
    /// Writes OUT/NAME/portfolio-PORTFOLIO/: pnl.csv (the P&L distribution),
    /// risk.csv (expected P&L; VaR and ES at 95% and 99% as positive losses;
    /// P(loss > 10%); the diversification benefit), contributions.csv (each
    /// holding's expected P&L, own VaR99 and ES99, contribution and share of
    /// the portfolio's ES99), tail.csv (the metrics on the worst 1% of
    /// paths), pnl.png and contributions.png; and OUT/portfolio-PORTFOLIO.csv
    /// and .png across scenarios, with paired differences under --paired.
    ///
    /// A scenario that lacks a metric the portfolio needs, or has fewer
    /// quarters than its horizon, is skipped with one line. Exits 0 when at
    /// least one scenario ran and none failed, 1 otherwise.
    Stress(StressArgs),
    /// Run one scenario over a grid of one or two parameters, every point
    /// with the same seed (common random numbers).
    ///
    /// Writes OUT/NAME/sweep-SLUG.csv (SLUG names the varied parameters,
    /// e.g. sweep-renegotiation-0-hazard.csv, so that sweeps of other
    /// parameters never overwrite it): one row per grid point with the
    /// varied values, then mean, se, p5, p50 and p95 of every metric (and
    /// VaR and ES of loss metrics), and last the standard error of the
    /// charted statistic; and OUT/NAME/sweep-SLUG.png: a line with 95%
    /// Monte Carlo intervals for one parameter, a heatmap with a colour bar
    /// for two. A parameter that is a distribution in the file is replaced
    /// by each point's fixed value (a note says so).
    Sweep(SweepArgs),
    /// What drives the risk: for every uncertain parameter (and the
    /// quarterly noise as one group), Sobol' first- and total-order indices
    /// of a metric with standard errors, its rank correlation with the
    /// metric and the swing (the metric's mean with the parameter in its
    /// bottom and top 10%), and the attribution of each path's value
    /// against plan to the drivers of the risk (parameters, demand shocks,
    /// shifts, renegotiation) by the Shapley value. Writes
    /// OUT/NAME/attribution.csv and .png, sensitivity.csv, tornado.png and
    /// explain.html. With --given, the reverse stress test: how likely a
    /// condition on the metrics is and what the paths that meet it look
    /// like (given.csv, given-paths.csv, given.png and each listed path's
    /// story in path-N/).
    Explain(ExplainArgs),
    /// Replay one path of a run (reverse stress tests: the story of a path
    /// that `explain --given` listed): every quarter's backlog, revenue,
    /// bookings, allocation and renegotiation events (path-N.csv), its
    /// parameters and metrics against the plan (path-N-values.csv) and its
    /// backlog against the plan and the fan (path-N.png), in
    /// OUT/NAME/path-N/. The figures are the run's for that path.
    Path(PathArgs),
    /// Merge the shard files of a run split with `run --shard K/N` (or of a
    /// sweep or a stress test split with `--shard`) into the
    /// outputs one run of all the paths would have written, bit for bit.
    Merge(MergeArgs),
    /// Explore scenarios in the browser: a local web page where every
    /// assumption is a control; each change re-runs the scenario with the
    /// file's seed, first on few paths, then on more up to the page's
    /// budget, and shows the focus provider's expected loss, VaR99 and ES99
    /// with their 95% intervals beside the paired difference against the
    /// file (the same paths) with its standard error. "Save as variant"
    /// downloads a scenario file that `run` turns into the page's figures.
    /// Listens on 127.0.0.1 only unless --host is given; prints the URL.
    Serve(ServeArgs),
    /// Print shell completions for bash, zsh, fish, elvish or powershell,
    /// e.g. `backlog-risk completions bash > ~/.local/share/bash-completion/completions/backlog-risk`.
    Completions(CompletionsArgs),
    /// Write man pages (troff) for the tool and each subcommand into a
    /// folder, e.g. `backlog-risk man --out man/` then `man -l man/backlog-risk.1`.
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Folder that receives backlog-risk.1 and backlog-risk-COMMAND.1.
    #[arg(long, value_name = "DIR", default_value = "man")]
    pub out: PathBuf,
}

/// Print completions of the whole command line for `shell` to `out`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut cmd, "backlog-risk", out);
}

/// Write `backlog-risk.1` and one page per subcommand into `dir`; returns
/// the files written.
pub fn man_pages(dir: &std::path::Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut written = Vec::new();
    let mut page = |name: String, c: clap::Command| -> std::io::Result<()> {
        let mut bytes = Vec::new();
        clap_mangen::Man::new(c.name(name.clone())).render(&mut bytes)?;
        let path = dir.join(format!("{name}.1"));
        crate::files::write_atomic(&path, &bytes).map_err(std::io::Error::other)?;
        written.push(path);
        Ok(())
    };
    for sub in cmd.get_subcommands() {
        page(format!("backlog-risk-{}", sub.get_name()), sub.clone())?;
    }
    page("backlog-risk".to_string(), cmd)?;
    Ok(written)
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard files (`shard-K-of-N.bin`), or the folder that holds them
    /// (normally `OUT/NAME/`).
    #[arg(value_name = "SHARDS", required = true)]
    pub inputs: Vec<PathBuf>,

    /// Folder that receives the merged results (in OUT/NAME/, as `run`
    /// writes them). By default the folder the shards were written into:
    /// shards in OUT/NAME/ (or OUT/NAME/portfolio-P/) merge into OUT.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Number of worker threads. Defaults to the number of logical CPUs.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = count(1, 1024))]
    pub threads: Option<u64>,

    /// The provider the headline and loss.png of a merged run are about,
    /// overriding `scenario.focus`.
    #[arg(long, value_name = "PROVIDER")]
    pub focus: Option<String>,

    /// Print nothing but errors: no result lines.
    #[arg(long, short)]
    pub quiet: bool,

    #[command(flatten)]
    pub charts: ChartArgs,
}

impl MergeArgs {
    /// The merge's settings (its seed, paths and sampling come from the
    /// shards) and `--out` when given.
    pub fn into_options(self) -> (RunOptions, Option<PathBuf>) {
        let common = CommonArgs {
            paths: None,
            seed: None,
            sampling: None,
            threads: self.threads,
            out: self.out.clone().unwrap_or_default(),
            focus: self.focus,
            quiet: self.quiet,
            allow_huge: false,
            charts: self.charts,
        };
        (common.into_options(Vec::new(), None), self.out)
    }
}

#[derive(Debug, Args)]
pub struct StressArgs {
    /// The portfolio file (TOML: [portfolio] name, value, optional horizon
    /// in quarters and unit; [[holding]] name, weight, volatility,
    /// exposure).
    #[arg(long, value_name = "FILE")]
    pub portfolio: PathBuf,

    /// Scenario files, folders or glob patterns. With none given, every
    /// scenario in `scenarios/`.
    #[arg(value_name = "SCENARIOS")]
    pub inputs: Vec<PathBuf>,

    /// Compare every scenario with this base scenario path by path (common
    /// random numbers: the same seed, the same draws): adds the differences
    /// of expected P&L (with its standard error), VaR99 and ES99 to
    /// portfolio-PORTFOLIO.csv and to OUT/NAME/portfolio-PORTFOLIO/paired-BASE.csv.
    /// Simulates the base once more per scenario.
    #[arg(long, value_name = "BASE")]
    pub paired: Option<PathBuf>,

    /// With --shard: writes OUT/NAME/portfolio-PORTFOLIO/shard-K-of-N.bin
    /// for each scenario; `backlog-risk merge OUT/NAME/portfolio-PORTFOLIO/`
    /// writes that scenario's stress results.
    #[command(flatten)]
    pub split: ShardArgs,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Scenario files, folders or glob patterns (quote them), as for `run`;
    /// with none given, every scenario in `scenarios/`. Only these files
    /// are read: the page names scenarios, never paths.
    #[arg(value_name = "FILES_OR_DIRS")]
    pub inputs: Vec<PathBuf>,

    /// The port (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,

    /// The address to listen on. The default serves this machine only; an
    /// address such as 0.0.0.0 opens the explorer to the network.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// The most paths one request may run (the page's path budget).
    #[arg(long, value_name = "N", default_value_t = 2_000_000, value_parser = clap::value_parser!(u64).range(1_000..=100_000_000))]
    pub max_paths: u64,

    /// Print nothing but the URL and errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The scenario file.
    pub file: PathBuf,

    /// Accepted as by every command; `show` prints only the scenario (its
    /// result) and errors either way.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Scenario files, folders or glob patterns, as for `run`.
    #[arg(value_name = "FILES_OR_DIRS")]
    pub inputs: Vec<PathBuf>,

    /// The metric to explain, e.g. `loss.azure`. Defaults to the loss of
    /// the focus provider (see --focus).
    #[arg(long)]
    pub metric: Option<Metric>,

    /// Attribution drivers: `driver` (parameters, demand shocks, shifts,
    /// renegotiation) or `rule` (each shift and each renegotiation rule on
    /// its own; at most 6 drivers in all).
    #[arg(long, value_name = "BY", default_value = "driver", value_parser = ["driver", "rule"])]
    pub by: String,

    /// Which analyses to run: `all`, `attribution` (attribution.csv and
    /// .png), `sensitivity` (sensitivity.csv and tornado.png) or `given`
    /// (only the reverse stress test of --given). --given runs beside any.
    #[arg(long, value_name = "WHICH", default_value = "all", value_parser = ["all", "attribution", "sensitivity", "given"])]
    pub analysis: String,

    /// Reverse stress test: the paths whose metrics meet a condition, as
    /// METRIC>=VALUE or METRIC<=VALUE, several joined by `,` ("and"), e.g.
    /// `loss.azure>=400`. Writes given.csv (P of the condition with its
    /// standard error; every parameter and metric given the condition
    /// against all paths) and given-paths.csv (the most plausible paths that
    /// meet it).
    #[arg(long, value_name = "CONDITION", value_parser = given_conditions, required_if_eq("analysis", "given"))]
    pub given: Option<Conditions>,

    /// With --given: how many of the paths that meet the condition to list,
    /// those with the highest prior density of their parameters first.
    #[arg(long, value_name = "K", default_value_t = 5, requires = "given", value_parser = count(1, 1000))]
    pub top: u64,

    /// With --given: run in rounds of the scenario's paths until N paths
    /// met the condition (or --max-paths are done, and it says so).
    #[arg(long, value_name = "N", requires = "given", allow_negative_numbers = true, value_parser = count(1, u64::MAX))]
    pub min_hits: Option<u64>,

    /// With --given: also write, for each listed path, path-N-variant.toml
    /// (as `path --variant`): a scenario that extends the file and fixes
    /// every uncertain parameter at the path's value.
    #[arg(long, requires = "given")]
    pub variant: bool,

    /// With --min-hits: the most paths to run.
    #[arg(long, value_name = "N", default_value_t = 10_000_000, requires = "min_hits", allow_negative_numbers = true, value_parser = count(1, u64::MAX))]
    pub max_paths: u64,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct PathArgs {
    /// The scenario file.
    pub file: PathBuf,

    /// The path to replay: its index in the run, 0 to paths - 1.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = count(0, u64::MAX))]
    pub path: u64,

    /// Also write path-N-variant.toml: a scenario that extends the file and
    /// fixes every uncertain parameter at the path's value, for `run`,
    /// `sweep` or `serve`.
    #[arg(long)]
    pub variant: bool,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The scenario file to vary.
    pub file: PathBuf,

    /// A parameter and its values, as PATH=SPEC. PATH is a field path such
    /// as `renegotiation[0].hazard` or `customers.openai.shift[0].target`;
    /// SPEC is a list (`0.1,0.2,0.3`) or a range with a number of points
    /// (`0.05..0.5:10`, both ends included). Give it once for a line chart or
    /// twice for a heatmap over the grid of both.
    #[arg(long = "vary", value_name = "PATH=SPEC", required = true, value_parser = vary)]
    pub vary: Vec<(String, Vec<f64>)>,

    /// The statistic to chart: mean, sd, se, min, p1 ... p99, max, and for
    /// loss metrics var95, es95, var99, es99.
    #[arg(long, default_value = "es99")]
    pub stat: String,

    /// The metric to chart, e.g. `loss.azure`. Defaults to the loss of the
    /// focus provider (see --focus).
    #[arg(long)]
    pub metric: Option<Metric>,

    /// With a varied allocation share (`customers.NAME.allocation.PROVIDER`):
    /// rescale the customer's other shares at each point so that all sum
    /// to 1. Without it such a sweep is refused (every point would be
    /// invalid).
    #[arg(long)]
    pub renormalise: bool,

    #[command(flatten)]
    pub split: ShardArgs,

    #[command(flatten)]
    pub run: CommonArgs,
}

/// Options shared by `run` and `sweep`.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Number of paths to simulate for each scenario (or sweep point),
    /// overriding the `paths` value in the files. More paths shrink the
    /// standard errors reported in summary.csv by the square root of the
    /// factor.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = count(1, u64::MAX))]
    pub paths: Option<u64>,

    /// Random seed, overriding the `seed` value in the files. The same seed
    /// gives the same numbers, bit for bit, whatever the number of threads.
    #[arg(long, value_name = "SEED", allow_negative_numbers = true, value_parser = count(0, u64::MAX))]
    pub seed: Option<u64>,

    /// How the per-path parameters are sampled, overriding
    /// `scenario.sampling`: `mc` (plain Monte Carlo, the default), `lhs`
    /// (Latin hypercube over the paths of the run) or `sobol`
    /// (Owen-scrambled Sobol' points). The quarterly shocks and events are plain
    /// Monte Carlo in every design; `[[correlation]]` blocks apply on top.
    #[arg(long, value_name = "DESIGN", value_parser = ["mc", "lhs", "sobol"])]
    pub sampling: Option<String>,

    /// Number of worker threads. Defaults to the number of logical CPUs.
    /// Results do not depend on it, only the speed does.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = count(1, 1024))]
    pub threads: Option<u64>,

    /// Folder that receives one subfolder per scenario (named after the
    /// scenario's `name`), holding summary.csv, fan.csv, run.json and the
    /// charts; a run also writes batch.csv there, and a run of several
    /// scenarios comparison.csv and comparison.png.
    #[arg(long, value_name = "DIR", default_value = "output", env = "BACKLOG_RISK_OUT")]
    pub out: PathBuf,

    /// The provider the headline, loss.png, the comparison and the sweep's
    /// default metric are about, overriding `scenario.focus` (which
    /// defaults to the first provider in the file).
    #[arg(long, value_name = "PROVIDER")]
    pub focus: Option<String>,

    /// Print nothing but errors: no progress bar, no result lines.
    #[arg(long, short)]
    pub quiet: bool,

    /// Allow more than 10^10 paths in one process (hours of work; a run
    /// that large is better split with --shard).
    #[arg(long)]
    pub allow_huge: bool,

    #[command(flatten)]
    pub charts: ChartArgs,
}

/// Which charts a command draws, and their size.
#[derive(Debug, Args)]
pub struct ChartArgs {
    /// Skip drawing the PNG charts (the CSV and JSON files are still
    /// written).
    #[arg(long, conflicts_with = "charts")]
    pub no_charts: bool,

    /// Which charts to draw: `key` draws loss.png for the focus provider
    /// (see --focus), plus fan.png, exceedance.png and concentration.png;
    /// `all` adds loss-PROVIDER.png for every provider, and a comparison
    /// chart per provider to a run of several scenarios.
    #[arg(long, value_name = "WHICH", default_value = "key", value_parser = ["key", "all"])]
    pub charts: String,

    /// Size of every chart in pixels, as WIDTHxHEIGHT.
    #[arg(long, value_name = "WxH", default_value = "1600x1000", value_parser = chart_size)]
    pub chart_size: ChartSize,

    /// Skip the Excel workbooks (report.xlsx, portfolio.xlsx,
    /// comparison.xlsx, explain.xlsx); every CSV file is still written.
    #[arg(long)]
    pub no_xlsx: bool,
}

impl ChartArgs {
    fn which(&self) -> Charts {
        match (self.no_charts, self.charts.as_str()) {
            (true, _) => Charts::None,
            (false, "all") => Charts::All,
            _ => Charts::Key,
        }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files, folders or glob patterns (quote them) to run. A
    /// folder stands for every `*.toml` file directly inside it. With none
    /// given, every scenario in `scenarios/` is run.
    #[arg(value_name = "FILES_OR_DIRS")]
    pub inputs: Vec<PathBuf>,

    /// A base scenario file: for every scenario run, also simulate the base
    /// path by path with the same seed (common random numbers) and write
    /// OUT/NAME/paired-BASE.csv with each metric's difference from the base
    /// and its standard error from the paired paths.
    #[arg(long, value_name = "BASE")]
    pub paired: Option<PathBuf>,

    /// Run in rounds of paths until the 95% confidence half-width of one
    /// statistic is within a target, as STAT:METRIC<=VALUE: relative to
    /// the estimate with `%` ('es99:loss.azure<=1%'), else absolute in the
    /// metric's unit ('mean:loss.azure<=2.5'). STAT is one of mean, p5,
    /// p50, p95, var95, es95, var99, es99. Stops at the first round that
    /// meets it, or at --max-paths; says which, and records it in run.json.
    #[arg(long, value_name = "TARGET", value_parser = precision_target, conflicts_with = "paths")]
    pub precision: Option<backlog_risk::precision::Target>,

    /// With --precision: the most paths to run before giving up on the
    /// target, a hard maximum (whole rounds: the largest multiple of
    /// --round-paths not above it). A target not met within it is said on
    /// stderr (with --quiet too) and the exit status is 3.
    #[arg(long, value_name = "N", default_value_t = 10_000_000, requires = "precision", allow_negative_numbers = true, value_parser = count(1, u64::MAX))]
    pub max_paths: u64,

    /// With --precision: paths per round, a multiple of 2048. The result
    /// after k rounds is bit for bit that of `--paths k*ROUND` (under
    /// `--sampling lhs`, each round is its own Latin hypercube).
    #[arg(long, value_name = "ROUND", default_value_t = backlog_risk::precision::DEFAULT_ROUND, requires = "precision", allow_negative_numbers = true, value_parser = parse_round)]
    pub round_paths: u64,

    /// Also write OUT/NAME/samples.csv: the first N paths, one row each,
    /// with every uncertain parameter's sampled value (by its dotted path)
    /// and every recorded metric, for a look at the raw draws in pandas
    /// or R.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = count(1, u64::MAX))]
    pub samples: Option<u64>,

    #[command(flatten)]
    pub split: ShardArgs,

    #[command(flatten)]
    pub common: CommonArgs,
}

/// Which shard of a run to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shard {
    /// Shard K of N.
    Fixed(u64, u64),
    /// From the scheduler's environment variables.
    Auto,
}

/// Splitting a run (or a sweep) into shards.
#[derive(Debug, Args)]
pub struct ShardArgs {
    /// Simulate only shard K of N (0 <= K < N, counted from 0 like Slurm
    /// array and Kubernetes completion indices): a fixed share of the paths,
    /// each with the random numbers it has in a whole run. Writes
    /// OUT/NAME/shard-K-of-N.bin instead of the results; `backlog-risk
    /// merge OUT/NAME/` then writes the results of the whole run. `auto`
    /// reads K and N from a Slurm job array (SLURM_ARRAY_TASK_ID, with
    /// SLURM_ARRAY_TASK_COUNT or _MIN/_MAX) or a Kubernetes Indexed Job
    /// (JOB_COMPLETION_INDEX, with N from --shards).
    #[arg(long, value_name = "K/N|auto", value_parser = parse_shard)]
    pub shard: Option<Shard>,

    /// The number of shards N for `--shard auto` where the scheduler does
    /// not say it (Kubernetes: the Job's `completions`).
    #[arg(long, value_name = "N", requires = "shard", allow_negative_numbers = true, value_parser = count(1, MAX_SHARDS))]
    pub shards: Option<u64>,
}

impl ShardArgs {
    /// `(K, N)` when `--shard` was given, read from the environment for
    /// `auto`.
    pub fn resolve(&self) -> Result<Option<(u64, u64)>, String> {
        self.shard.map(|s| s.resolve(self.shards, |v| std::env::var(v).ok())).transpose()
    }
}

/// `K/N` with `0 <= K < N`, or `auto`.
/// `--chart-size`, with the core's message.
fn chart_size(s: &str) -> Result<ChartSize, String> {
    ChartSize::parse(s).map_err(crate::errors::value_text)
}

/// `--vary`, with the core's message.
fn vary(s: &str) -> Result<(String, Vec<f64>), String> {
    backlog_risk::api::parse_vary(s).map_err(crate::errors::value_text)
}

/// `--given`, with the core's message.
fn given_conditions(s: &str) -> Result<Conditions, String> {
    backlog_risk::analysis::given::parse(s).map(Conditions).map_err(crate::errors::value_text)
}

/// The conditions of `--given` (one flag, several joined by `,`).
#[derive(Debug, Clone)]
pub struct Conditions(pub Vec<backlog_risk::analysis::given::Condition>);

/// `--precision`, with the core's message.
fn precision_target(s: &str) -> Result<backlog_risk::precision::Target, String> {
    backlog_risk::precision::Target::parse(s).map_err(crate::errors::value_text)
}

use backlog_risk::writers::shard::MAX_SHARDS;

fn parse_shard(s: &str) -> Result<Shard, String> {
    if s == "auto" {
        return Ok(Shard::Auto);
    }
    let bad = || format!("`{s}`: give the shard as K/N, e.g. 0/8, with 0 <= K < N <= {MAX_SHARDS}, or `auto`");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let whole = |t: &str| backlog_risk::scenario::parse_count(t, 0, u64::MAX).map_err(|_| bad());
    let (k, n) = (whole(k)?, whole(n)?);
    if k < n && n <= MAX_SHARDS { Ok(Shard::Fixed(k, n)) } else { Err(bad()) }
}

impl Shard {
    /// `(K, N)`: as given, or read with `var` from a Slurm job array or a
    /// Kubernetes Indexed Job; `shards` is `--shards`.
    pub fn resolve(self, shards: Option<u64>, var: impl Fn(&str) -> Option<String>) -> Result<(u64, u64), String> {
        let num = |name: &str| -> Result<Option<u64>, String> {
            var(name)
                .map(|v| v.trim().parse::<u64>().map_err(|_| format!("{name} = `{v}` is not a whole number")))
                .transpose()
        };
        let (k, n, from) = match self {
            Shard::Fixed(k, n) => return Ok((k, n)),
            Shard::Auto => {
                if let Some(k) = num("JOB_COMPLETION_INDEX")? {
                    let n = shards.ok_or("--shard auto: JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) gives the index but not the count; add --shards N, N the Job's completions")?;
                    (k, n, "JOB_COMPLETION_INDEX")
                } else if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
                    let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
                    let from_max = num("SLURM_ARRAY_TASK_MAX")?.map(|max| max.saturating_sub(min) + 1);
                    let n = shards.or(num("SLURM_ARRAY_TASK_COUNT")?).or(from_max).ok_or(
                        "--shard auto: SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX; add --shards N",
                    )?;
                    (
                        id.checked_sub(min).ok_or("SLURM_ARRAY_TASK_ID is below SLURM_ARRAY_TASK_MIN")?,
                        n,
                        "SLURM_ARRAY_TASK_ID",
                    )
                } else {
                    return Err("--shard auto reads SLURM_ARRAY_TASK_ID (a Slurm job array, sbatch --array=0-63) or JOB_COMPLETION_INDEX (a Kubernetes Indexed Job), and neither is set; give --shard K/N".into());
                }
            }
        };
        if n > MAX_SHARDS {
            Err(format!("--shard auto: {n} shards is more than {MAX_SHARDS}; run fewer, larger shards"))
        } else if k < n {
            Ok((k, n))
        } else {
            Err(format!("--shard auto: {from} gives shard {k}, not below the shard count {n}"))
        }
    }
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario files, folders or glob patterns to check (a folder stands
    /// for every `*.toml` file directly inside it). With none given, every
    /// scenario in `scenarios/`, as `run` does.
    #[arg(value_name = "FILES_OR_DIRS")]
    pub inputs: Vec<PathBuf>,

    /// Print nothing but errors (no `ok` line per valid file); the exit
    /// status says whether every file is valid.
    #[arg(long, short)]
    pub quiet: bool,
}

impl CommonArgs {
    pub fn into_options(self, inputs: Vec<PathBuf>, paired: Option<PathBuf>) -> RunOptions {
        let threads = self
            .threads
            .map(|t| t as usize)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        RunOptions {
            inputs: if inputs.is_empty() { vec![PathBuf::from("scenarios")] } else { inputs },
            paths: self.paths,
            seed: self.seed,
            threads,
            out: self.out,
            quiet: self.quiet,
            charts: self.charts.which(),
            chart_size: self.charts.chart_size,
            workbooks: !self.charts.no_xlsx,
            paired,
            allow_huge: self.allow_huge,
            focus: self.focus,
            sampling: self.sampling.as_deref().and_then(Sampling::parse),
            samples: None,
            precision: None,
        }
    }
}

impl RunArgs {
    pub fn into_options(self) -> RunOptions {
        let samples = self.samples;
        let precision = self.precision.map(|t| (t, self.round_paths, self.max_paths));
        RunOptions { samples, precision, ..self.common.into_options(self.inputs, self.paired) }
    }
}

impl SweepArgs {
    pub fn into_options(self) -> SweepOptions {
        SweepOptions {
            run: self.run.into_options(vec![self.file.clone()], None),
            file: self.file,
            vary: self.vary,
            stat: self.stat,
            metric: self.metric,
            shard: None,
            renormalise: self.renormalise,
        }
    }
}

/// A count flag between `lo` and `hi`, written as `1000000`, `1_000_000`
/// or `1e6`, with the core's message.
fn count(lo: u64, hi: u64) -> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync + 'static {
    move |s| backlog_risk::scenario::parse_count(s, lo, hi)
}

/// A round of `--round-paths`: a whole number of chunks.
fn parse_round(s: &str) -> Result<u64, String> {
    let chunk = backlog_risk::engine::CHUNK;
    match backlog_risk::scenario::parse_count(s, 1, u64::MAX)? {
        n if n.is_multiple_of(chunk) => Ok(n),
        n => Err(format!("{n} is not a multiple of {chunk}: use e.g. {}", n.div_ceil(chunk) * chunk)),
    }
}

#[cfg(test)]
mod shard_tests {
    use super::Shard;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn auto_reads_slurm_and_kubernetes() {
        let slurm = [("SLURM_ARRAY_TASK_ID", "5"), ("SLURM_ARRAY_TASK_COUNT", "8")];
        assert_eq!(Shard::Auto.resolve(None, env(&slurm)), Ok((5, 8)));
        // An array 1-8: indices counted from its minimum.
        let from_one = [("SLURM_ARRAY_TASK_ID", "8"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_MAX", "8")];
        assert_eq!(Shard::Auto.resolve(None, env(&from_one)), Ok((7, 8)));
        let k8s = [("JOB_COMPLETION_INDEX", "3")];
        assert_eq!(Shard::Auto.resolve(Some(4), env(&k8s)), Ok((3, 4)));
        assert!(Shard::Auto.resolve(None, env(&k8s)).unwrap_err().to_string().contains("--shards N"));
        assert!(
            Shard::Auto.resolve(Some(3), env(&k8s)).unwrap_err().to_string().contains("not below the shard count 3")
        );
        assert!(Shard::Auto.resolve(None, env(&[])).unwrap_err().to_string().contains("neither is set"));
        let bad = [("SLURM_ARRAY_TASK_ID", "x")];
        assert!(Shard::Auto.resolve(None, env(&bad)).unwrap_err().to_string().contains("not a whole number"));
        assert_eq!(Shard::Fixed(1, 2).resolve(None, env(&slurm)), Ok((1, 2)));
    }
}
