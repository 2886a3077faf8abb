//! The Python front-end of backlog-risk: the core's API as the extension
//! module `backlog_risk._native`. The package `backlog_risk` (in `python/`)
//! wraps it in the public names (`Scenario`, `run`, `run_paired`, the result
//! classes, the exceptions) and turns its tables into pandas DataFrames.
//!
//! Everything a result holds comes from the core's writers, so a figure in
//! Python is the CLI's figure bit for bit, and `write` puts the CLI's files
//! through the same exporter lists and folder writer (`crates/files`).
//!
//! Simulations run on a worker thread with the GIL released; the calling
//! thread waits in slices of 50 ms, and between them (with the GIL) checks
//! for signals (Ctrl-C in a notebook raises `KeyboardInterrupt`) and calls
//! the progress callback. Either stopping cancels the run's token, which
//! the engine reads before every chunk of 2,048 paths, and the call returns
//! only when the worker has stopped: no thread keeps running.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString};

use backlog_risk::api::{self, Observer, Options};
use backlog_risk::engine::Engine;
use backlog_risk::model::{Sampling, Scenario as Model};
use backlog_risk::report::PairedRow;
use backlog_risk::writers::charts::{self, ChartSize};
use backlog_risk::writers::export::{self, Charts, MemorySink};
use backlog_risk::writers::output::{self, RunInfo};
use backlog_risk::{Cancel, Error, scenario};

/// The package's exception classes (defined in Python, `_errors.py`).
mod exc {
    pyo3::import_exception!(backlog_risk._errors, Error);
    pyo3::import_exception!(backlog_risk._errors, ScenarioError);
    pyo3::import_exception!(backlog_risk._errors, PortfolioError);
    pyo3::import_exception!(backlog_risk._errors, OptionError);
    pyo3::import_exception!(backlog_risk._errors, Cancelled);
    pyo3::import_exception!(backlog_risk._errors, SimulationError);
}
use exc::{Cancelled, OptionError, PortfolioError, ScenarioError, SimulationError};

/// A core error as the package's exception: scenario and portfolio errors
/// carry `file`, `line` and `field`; an option names the keyword argument.
fn to_py(e: Error) -> PyErr {
    Python::attach(|py| match e {
        Error::Scenario(i) => input_error(py, &i, false),
        Error::Portfolio(i) => input_error(py, &i, true),
        Error::Option { option, message } => OptionError::new_err(format!("`{option}=` {}", keyword(&message))),
        Error::Cancelled => Cancelled::new_err("the run was cancelled"),
        Error::Overflow(m) => SimulationError::new_err(m),
        e => exc::Error::new_err(keyword(&e.to_string())),
    })
}

/// `ScenarioError` or `PortfolioError` with the location as attributes.
fn input_error(py: Python<'_>, i: &backlog_risk::error::InputError, portfolio: bool) -> PyErr {
    let message = keyword(&i.to_string());
    let err = if portfolio { PortfolioError::new_err(message) } else { ScenarioError::new_err(message) };
    let value = err.value(py);
    let field = if i.field.is_empty() { None } else { Some(i.field.clone()) };
    let _ = value.setattr("file", i.file.display().to_string());
    let _ = value.setattr("line", i.line);
    let _ = value.setattr("field", field);
    err
}

/// Messages refer to other options as ``option `name` ``: in Python they
/// are keyword arguments, `name=`. The command line's choice of analyses
/// (``option `analysis` attribution``, ``given``) is two flags here.
fn keyword(message: &str) -> String {
    let message = message
        .replace("option `analysis` attribution", "`sensitivity=False`")
        .replace("option `analysis` given", "`attribution=False, sensitivity=False`");
    let mut out = String::with_capacity(message.len());
    let mut rest = message.as_str();
    while let Some(i) = rest.find("option `") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "option `".len()..];
        match after.find('`') {
            Some(j) => {
                out.push_str(&format!("`{}=`", &after[..j]));
                rest = &after[j + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Run `work` on a worker thread with the GIL released, reporting progress
/// to `progress(done, total)` and stopping on a signal or when `progress`
/// raises or returns `False` (see the module header).
fn simulate<T: Send>(
    py: Python<'_>,
    progress: Option<&Bound<'_, PyAny>>,
    total: u64,
    work: impl FnOnce(&Observer) -> backlog_risk::Result<T> + Send,
) -> PyResult<T> {
    let token = Cancel::new();
    let done = AtomicU64::new(0);
    let advance = |n: u64| {
        done.fetch_add(n, Ordering::Relaxed);
    };
    let report = || -> PyResult<()> {
        let Some(f) = progress else { return Ok(()) };
        let answer = f.call1((done.load(Ordering::Relaxed).min(total), total))?;
        if answer.is_instance_of::<PyBool>() && !answer.extract::<bool>()? {
            return Err(Cancelled::new_err("the run was cancelled: the progress callback returned False"));
        }
        Ok(())
    };
    std::thread::scope(|s| {
        let (tx, mut rx) = mpsc::channel::<()>();
        let (token, advance) = (&token, &advance);
        let worker = s.spawn(move || {
            let obs = Observer::new().with_progress(advance).with_cancel(token);
            let r = work(&obs);
            let _ = tx.send(());
            r
        });
        let mut stopped: Option<PyErr> = None;
        loop {
            let waiting = &mut rx;
            let finished = py.detach(move || match waiting.recv_timeout(Duration::from_millis(50)) {
                Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => true,
                Err(mpsc::RecvTimeoutError::Timeout) => false,
            });
            if finished {
                break;
            }
            if stopped.is_none()
                && let Err(e) = py.check_signals().and_then(|()| report())
            {
                token.cancel();
                stopped = Some(e);
            }
        }
        let result = py.detach(|| worker.join());
        if let Some(e) = stopped {
            return Err(e);
        }
        let result = result.map_err(|_| exc::Error::new_err("internal error: the simulation thread panicked"))?;
        let value = result.map_err(to_py)?;
        report()?;
        Ok(value)
    })
}

/// [`simulate`] a call on `sc` under `opts`, timed: its result and the
/// seconds it took.
fn timed<T: Send>(
    py: Python<'_>,
    progress: Option<&Bound<'_, PyAny>>,
    opts: &Options,
    sc: &Model,
    work: impl FnOnce(&Observer) -> backlog_risk::Result<T> + Send,
) -> PyResult<(T, f64)> {
    let total = opts.apply(sc).map_err(to_py)?.paths;
    let started = Instant::now();
    let value = simulate(py, progress, total, work)?;
    Ok((value, started.elapsed().as_secs_f64()))
}

/// A validated scenario: what a file (and the files it extends) says, or
/// TOML text, or a dict; immutable (``with_values`` returns a new one).
#[pyclass(module = "backlog_risk._native", frozen)]
#[derive(Clone)]
struct Scenario {
    model: Model,
    /// The scenario as TOML, with `extends` merged in (what `run.json`
    /// hashes).
    text: String,
    /// The file as given, or `<string>` / `<dict>`.
    file: String,
    /// The file and the files it extends (empty for text).
    chain: Vec<PathBuf>,
}

fn parse_text(text: &str, file: &str) -> PyResult<Model> {
    scenario::parse(text, Path::new(file)).map_err(|e| to_py(Error::Scenario(e)))
}

#[pymethods]
impl Scenario {
    /// Read and validate a scenario file, with the files it `extends`.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Scenario> {
        let (model, r) = scenario::load_resolved(&path).map_err(|e| to_py(Error::Scenario(e)))?;
        Ok(Scenario { model, text: r.text, file: path.display().to_string(), chain: r.chain })
    }

    /// Validate scenario TOML text (`name` stands for the file in messages).
    #[staticmethod]
    #[pyo3(signature = (text, name = "<string>"))]
    fn from_toml(text: &str, name: &str) -> PyResult<Scenario> {
        let model = parse_text(text, name)?;
        Ok(Scenario { model, text: text.to_string(), file: name.to_string(), chain: Vec::new() })
    }

    /// Validate a scenario given as a dict of the file's tables.
    #[staticmethod]
    fn from_dict(d: &Bound<'_, PyDict>) -> PyResult<Scenario> {
        let toml::Value::Table(table) = to_toml(d.as_any(), "")? else {
            return Err(PyTypeError::new_err("from_dict takes a dict of the scenario file's tables"));
        };
        let text =
            toml::to_string(&table).map_err(|e| exc::Error::new_err(format!("cannot write the scenario: {e}")))?;
        let model = scenario::parse(&text, Path::new("<dict>")).map_err(|mut e| {
            // A line of the generated text would mean nothing to the caller.
            e.line = None;
            to_py(Error::Scenario(e))
        })?;
        Ok(Scenario { model, text, file: "<dict>".to_string(), chain: Vec::new() })
    }

    /// A new scenario with the values at these field paths
    /// (`customers.openai.shift[0].target`, `renegotiation[0].hazard`) set:
    /// numbers, or dicts for distributions; validated as a file is.
    fn with_values(&self, values: &Bound<'_, PyDict>) -> PyResult<Scenario> {
        let mut text = self.text.clone();
        for (k, v) in values.iter() {
            let path: String =
                k.extract().map_err(|_| PyTypeError::new_err("with_values: keys are field paths (str)"))?;
            let value = to_toml(&v, &path)?;
            text = scenario::set_value(&text, &path, value).map_err(|e| {
                let message = match e {
                    Error::Invalid(m) => m,
                    e => e.to_string(),
                };
                to_py(Error::Scenario(backlog_risk::error::InputError {
                    file: PathBuf::from(&self.file),
                    field: path.clone(),
                    line: None,
                    message,
                }))
            })?;
        }
        // Lines would refer to the rewritten text, not the file: the field
        // path locates the problem.
        let model = scenario::parse(&text, Path::new(&self.file)).map_err(|mut e| {
            e.line = None;
            e.message.push_str(" (in the scenario as with_values set it)");
            to_py(Error::Scenario(e))
        })?;
        Ok(Scenario { model, text, file: self.file.clone(), chain: self.chain.clone() })
    }

    /// The scenario's name (`scenario.name`).
    #[getter]
    fn name(&self) -> &str {
        &self.model.name
    }

    /// The file it was loaded from, or `<string>` / `<dict>`.
    #[getter]
    fn file(&self) -> &str {
        &self.file
    }

    /// Paths of a run unless `paths=` is given.
    #[getter]
    fn paths(&self) -> u64 {
        self.model.paths
    }

    /// Seed of a run unless `seed=` is given.
    #[getter]
    fn seed(&self) -> u64 {
        self.model.seed
    }

    /// Provider names, in file order.
    #[getter]
    fn providers(&self) -> Vec<String> {
        self.model.providers.iter().map(|p| p.name.clone()).collect()
    }

    /// Every metric a run records (`loss.azure`, `share.openai.azure`...).
    #[getter]
    fn metrics(&self) -> Vec<String> {
        self.model.metric_names()
    }

    /// The scenario as TOML (with `extends` merged in).
    fn to_toml(&self) -> &str {
        &self.text
    }

    /// Rows (group, field, distribution, mean, uncertain, comment) of every
    /// parameter, as the report's assumptions list them.
    fn _parameters(&self) -> Vec<(String, String, String, f64, bool, Option<String>)> {
        let a = scenario::assumptions::assumptions(&self.model, &self.chain);
        a.groups
            .into_iter()
            .flat_map(|g| {
                let title = g.title;
                g.rows.into_iter().map(move |r| (title.clone(), r.field, r.dist, r.mean, r.uncertain, r.source))
            })
            .collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "<Scenario {} ({}): {} providers, {} customers, {} quarters from {}, {} paths, seed {}>",
            self.model.name,
            self.file,
            self.model.providers.len(),
            self.model.customers.len(),
            self.model.quarters,
            self.model.start,
            self.model.paths,
            self.model.seed
        )
    }
}

/// A Python value as TOML: numbers, strings, booleans, lists and dicts.
fn to_toml(v: &Bound<'_, PyAny>, at: &str) -> PyResult<toml::Value> {
    let here = |what: &str| {
        PyTypeError::new_err(format!(
            "{}{what}: give numbers, strings, booleans, lists or dicts",
            if at.is_empty() { String::new() } else { format!("`{at}`: ") }
        ))
    };
    if v.is_instance_of::<PyBool>() {
        Ok(toml::Value::Boolean(v.extract()?))
    } else if v.is_instance_of::<PyInt>() {
        Ok(toml::Value::Integer(v.extract().map_err(|_| here("an integer out of range"))?))
    } else if v.is_instance_of::<PyFloat>() {
        Ok(toml::Value::Float(v.extract()?))
    } else if v.is_instance_of::<PyString>() {
        Ok(toml::Value::String(v.extract()?))
    } else if let Ok(d) = v.cast::<PyDict>() {
        let mut t = toml::Table::new();
        for (k, x) in d.iter() {
            let k: String = k.extract().map_err(|_| here("a key that is not a string"))?;
            let path = if at.is_empty() { k.clone() } else { format!("{at}.{k}") };
            t.insert(k, to_toml(&x, &path)?);
        }
        Ok(toml::Value::Table(t))
    } else if let Ok(l) = v.cast::<PyList>() {
        let items: PyResult<Vec<toml::Value>> =
            l.iter().enumerate().map(|(i, x)| to_toml(&x, &format!("{at}[{i}]"))).collect();
        Ok(toml::Value::Array(items?))
    } else if let Ok(x) = v.extract::<f64>() {
        // numpy scalars and other numbers.
        Ok(toml::Value::Float(x))
    } else {
        Err(here(&format!("a value of type {}", v.get_type().name()?)))
    }
}

/// The options of a call, checked.
fn options(paths: Option<u64>, seed: Option<u64>, threads: Option<usize>, sampling: Option<&str>) -> PyResult<Options> {
    let sampling = match sampling {
        None => None,
        Some(s) => Some(Sampling::parse(s).ok_or_else(|| {
            OptionError::new_err(format!("sampling={s:?}: not a sampling design; give \"mc\", \"lhs\" or \"sobol\""))
        })?),
    };
    if paths == Some(0) {
        return Err(OptionError::new_err("paths=0: give at least 1 path"));
    }
    if threads == Some(0) {
        return Err(OptionError::new_err("threads=0: give at least 1 thread, or None for one per logical CPU"));
    }
    Ok(Options { paths, seed, sampling, threads })
}

fn threads_of(opts: &Options) -> usize {
    opts.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// A finished run: the scenario as run, its summary (and, for a paired
/// run, the base and the paired rows); every table as the bytes of the
/// CLI's file.
#[pyclass(module = "backlog_risk._native", frozen)]
struct RunResult {
    run: api::Run,
    source: Scenario,
    paired: Option<(Model, Vec<PairedRow>, Vec<String>)>,
    threads: usize,
    wall: f64,
}

impl RunResult {
    fn info(&self) -> RunInfo {
        let sc = &self.run.scenario;
        RunInfo::new(sc, &self.source.file, &self.source.text, &self.source.chain, self.threads, self.wall)
    }
}

fn bytes<'py>(py: Python<'py>, b: backlog_risk::Result<Vec<u8>>) -> PyResult<Bound<'py, PyBytes>> {
    Ok(PyBytes::new(py, &b.map_err(to_py)?))
}

fn chart_size(size: (u32, u32)) -> PyResult<ChartSize> {
    let (width, height) = size;
    ChartSize::new(width, height).map_err(|e| OptionError::new_err(format!("chart_size=({width}, {height}): {e}")))
}

/// Samples as the package takes them: column names, path indices, values.
type Samples<'py> = (Vec<String>, Bound<'py, PyArray1<u64>>, Bound<'py, PyArray2<f64>>);

#[pymethods]
impl RunResult {
    /// The bytes of one of the run's tables, as the CLI writes it:
    /// `summary.csv`, `errors.csv`, `fan.csv`, `revenue.csv`,
    /// `summary.json`, `run.json`, or `paired.csv` for a paired run.
    fn file<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyBytes>> {
        let s = &self.run.summary;
        match name {
            "summary.csv" => bytes(py, output::summary_csv(s)),
            "errors.csv" => bytes(py, output::errors_csv(s)),
            "fan.csv" => bytes(py, output::fan_csv(s)),
            "revenue.csv" => bytes(py, output::revenue_csv(s)),
            "summary.json" => bytes(py, output::summary_json(s)),
            "run.json" => bytes(py, output::run_json(&self.info())),
            "paired.csv" => match &self.paired {
                Some((_, rows, _)) => bytes(py, output::rows_csv(rows)),
                None => Err(OptionError::new_err("name=\"paired.csv\": this run is not paired; use run_paired")),
            },
            other => Err(OptionError::new_err(format!(
                "name={other:?}: not a table of a run; give summary.csv, errors.csv, fan.csv, revenue.csv, summary.json, run.json or paired.csv"
            ))),
        }
    }

    /// A chart as PNG bytes: `loss` (the focus provider), `loss-PROVIDER`,
    /// `fan`, `exceedance` or `concentration`.
    #[pyo3(signature = (name, size = (1600, 1000)))]
    fn chart<'py>(&self, py: Python<'py>, name: &str, size: (u32, u32)) -> PyResult<Bound<'py, PyBytes>> {
        let s = &self.run.summary;
        let size = chart_size(size)?;
        let name = name.strip_suffix(".png").unwrap_or(name);
        let provider = |p: &str| s.providers.iter().position(|x| x == p);
        let png = match name {
            "loss" => py.detach(|| charts::loss_png(s, s.focus, size)),
            "fan" => py.detach(|| charts::fan_png(s, size)),
            "exceedance" => py.detach(|| charts::exceedance_png(s, size)),
            "concentration" => py.detach(|| charts::concentration_png(s, size)),
            other => match other.strip_prefix("loss-").and_then(provider) {
                Some(p) => py.detach(|| charts::loss_png(s, p, size)),
                None => {
                    let losses: Vec<String> = s.providers.iter().map(|p| format!("loss-{p}")).collect();
                    return Err(OptionError::new_err(format!(
                        "name={other:?}: not a chart of this run; give loss, fan, exceedance, concentration or one of {}",
                        losses.join(", ")
                    )));
                }
            },
        };
        bytes(py, png)
    }

    /// The first `n` paths' parameters and metrics: (column names, path
    /// indices, a paths x columns float64 array), as `samples.csv` holds them.
    fn _samples<'py>(&self, py: Python<'py>, n: u64) -> PyResult<Samples<'py>> {
        let sc = &self.run.scenario;
        if n > sc.paths {
            return Err(OptionError::new_err(format!(
                "n={n}: more paths than the {} of this run; give {} or fewer",
                sc.paths, sc.paths
            )));
        }
        let (header, index, values, cols) = py.detach(|| {
            let engine = Engine::new(sc);
            let rows = engine.sample_rows(engine.keys(sc.seed, sc.paths), sc.paths, n);
            let header = rows.header();
            let cols = header.len() - 1;
            let mut index = Vec::with_capacity(n as usize);
            let mut values = Vec::with_capacity(n as usize * cols);
            for (i, row) in rows {
                index.push(i);
                values.extend_from_slice(&row);
            }
            (header, index, values, cols)
        });
        let rows = index.len();
        let index = PyArray1::from_vec(py, index);
        let values = PyArray1::from_vec(py, values).reshape([rows, cols])?;
        Ok((header[1..].to_vec(), index, values))
    }

    /// Write the CLI's files of this run into `out/NAME/` (as `backlog-risk
    /// run --out OUT` does, through the same exporters and folder writer);
    /// returns the folder.
    #[pyo3(signature = (out, charts = "key", chart_size = (1600, 1000), samples = None, workbook = true))]
    fn write(
        &self,
        py: Python<'_>,
        out: PathBuf,
        charts: &str,
        chart_size: (u32, u32),
        samples: Option<u64>,
        workbook: bool,
    ) -> PyResult<String> {
        let charts = charts_of(charts)?;
        let size = self::chart_size(chart_size)?;
        let sc = &self.run.scenario;
        if let Some(n) = samples
            && n > sc.paths
        {
            return Err(OptionError::new_err(format!(
                "samples={n}: more paths than the {} of this run; give {} or fewer",
                sc.paths, sc.paths
            )));
        }
        let info = self.info();
        let line = output_headline(&self.run);
        let target = out.join(&sc.name);
        let res = py.detach(|| -> anyhow::Result<()> {
            let _lock = backlog_risk_files::outdir::OutLock::acquire(&out)?;
            let cx = export::RunContext {
                scenario: sc,
                chain: &self.source.chain,
                summary: &self.run.summary,
                info: &info,
                headline: &line,
                charts,
                chart_size: size,
                paired: self.paired.as_ref().map(|(b, rows, _)| (b, rows.as_slice())),
                samples: samples.map(|n| (n, sc.paths)),
                workbook,
            };
            let what = format!("the results of {}", sc.name);
            backlog_risk_files::write_folder(&target, export::run_owns, &what, |sink| export::export_run(&cx, sink))
        });
        res.map_err(|e| exc::Error::new_err(format!("{e:#}")))?;
        Ok(target.display().to_string())
    }

    /// The console line of the run (the focus provider's headline).
    #[getter]
    fn headline(&self) -> String {
        output_headline(&self.run)
    }

    /// The scenario as run (options applied).
    #[getter]
    fn name(&self) -> &str {
        &self.run.scenario.name
    }

    #[getter]
    fn paths(&self) -> u64 {
        self.run.scenario.paths
    }

    #[getter]
    fn seed(&self) -> u64 {
        self.run.scenario.seed
    }

    #[getter]
    fn sampling(&self) -> &'static str {
        self.run.scenario.sampling.name()
    }

    #[getter]
    fn threads(&self) -> usize {
        self.threads
    }

    /// Seconds the simulation took.
    #[getter]
    fn wall_seconds(&self) -> f64 {
        self.wall
    }

    /// The focus provider (`scenario.focus` or the first).
    #[getter]
    fn focus(&self) -> String {
        self.run.summary.providers[self.run.summary.focus].clone()
    }

    /// The base scenario's name of a paired run.
    #[getter]
    fn base(&self) -> Option<String> {
        self.paired.as_ref().map(|(b, _, _)| b.name.clone())
    }

    /// Notes of a paired run (providers or customers in one scenario only).
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.paired.as_ref().map_or_else(Vec::new, |(_, _, n)| n.clone())
    }
}

fn output_headline(run: &api::Run) -> String {
    backlog_risk::writers::text::headline(&run.summary)
}

/// Simulate a scenario (see `backlog_risk.run`).
#[pyfunction]
#[pyo3(signature = (scenario, paths = None, seed = None, threads = None, sampling = None, progress = None))]
fn run(
    py: Python<'_>,
    scenario: &Scenario,
    paths: Option<u64>,
    seed: Option<u64>,
    threads: Option<usize>,
    sampling: Option<&str>,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<RunResult> {
    let opts = options(paths, seed, threads, sampling)?;
    let (run, wall) = timed(py, progress, &opts, &scenario.model, |obs| api::run(&scenario.model, &opts, obs))?;
    Ok(RunResult { run, source: scenario.clone(), paired: None, threads: threads_of(&opts), wall })
}

/// Simulate a scenario and its base on the same paths (see
/// `backlog_risk.run_paired`).
#[pyfunction]
#[pyo3(signature = (scenario, base, paths = None, seed = None, threads = None, sampling = None, progress = None))]
#[allow(clippy::too_many_arguments)]
fn run_paired(
    py: Python<'_>,
    scenario: &Scenario,
    base: &Scenario,
    paths: Option<u64>,
    seed: Option<u64>,
    threads: Option<usize>,
    sampling: Option<&str>,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<RunResult> {
    if scenario.text == base.text {
        return Err(OptionError::new_err(format!(
            "base=: `{}` is the scenario itself: a scenario compared with itself differs by exactly 0; give a variant (e.g. from with_values) and its base",
            base.model.name
        )));
    }
    let opts = options(paths, seed, threads, sampling)?;
    let (p, wall) =
        timed(py, progress, &opts, &scenario.model, |obs| api::run_paired(&scenario.model, &base.model, &opts, obs))?;
    Ok(RunResult {
        run: p.run,
        source: scenario.clone(),
        paired: Some((p.base, p.rows, p.notes)),
        threads: threads_of(&opts),
        wall,
    })
}

/// The files of an exporter list in memory, as (name, bytes).
fn files_of<'py>(
    py: Python<'py>,
    export: impl FnOnce(&mut MemorySink) -> backlog_risk::Result<()> + Send,
) -> PyResult<Vec<(String, Bound<'py, PyBytes>)>> {
    let mut sink = MemorySink::default();
    py.detach(|| export(&mut sink)).map_err(to_py)?;
    Ok(sink.files.into_iter().map(|(n, b)| (n, PyBytes::new(py, &b))).collect())
}

/// `charts=` of a call: "key", "all" or "none".
fn charts_of(charts: &str) -> PyResult<Charts> {
    match charts {
        "key" => Ok(Charts::Key),
        "all" => Ok(Charts::All),
        "none" => Ok(Charts::None),
        other => {
            Err(OptionError::new_err(format!("charts={other:?}: give \"key\" (the default), \"all\" or \"none\"")))
        }
    }
}

/// An error of writing files, as the package's exception.
fn write_error(e: anyhow::Error) -> PyErr {
    exc::Error::new_err(format!("{e:#}"))
}

/// A validated portfolio (holdings with exposures to scenario metrics).
#[pyclass(module = "backlog_risk._native", frozen)]
#[derive(Clone)]
struct Portfolio {
    model: backlog_risk::portfolio::Portfolio,
    file: String,
}

#[pymethods]
impl Portfolio {
    /// Read and validate a portfolio file.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Portfolio> {
        let model = backlog_risk::portfolio::load(&path).map_err(to_py)?;
        Ok(Portfolio { model, file: path.display().to_string() })
    }

    /// Validate portfolio TOML text (`name` stands for the file in messages).
    #[staticmethod]
    #[pyo3(signature = (text, name = "<string>"))]
    fn from_toml(text: &str, name: &str) -> PyResult<Portfolio> {
        let model = backlog_risk::portfolio::parse(text, Path::new(name)).map_err(to_py)?;
        Ok(Portfolio { model, file: name.to_string() })
    }

    #[getter]
    fn name(&self) -> &str {
        &self.model.name
    }

    #[getter]
    fn file(&self) -> &str {
        &self.file
    }

    #[getter]
    fn value(&self) -> f64 {
        self.model.value
    }

    #[getter]
    fn unit(&self) -> &str {
        &self.model.unit
    }

    #[getter]
    fn holdings(&self) -> Vec<String> {
        self.model.holdings.iter().map(|h| h.name.clone()).collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "<Portfolio {} ({}): {} holdings, value {} {}>",
            self.model.name,
            self.file,
            self.model.holdings.len(),
            self.model.value,
            self.model.unit
        )
    }
}

/// A file of one scenario's stress test (scenario, name, bytes), or across
/// scenarios (scenario `None`).
type ScenarioFile<'py> = (Option<String>, String, Bound<'py, PyBytes>);

/// A portfolio stress-tested on one or more scenarios.
#[pyclass(module = "backlog_risk._native", frozen)]
struct StressResult {
    portfolio: backlog_risk::portfolio::Portfolio,
    results: Vec<backlog_risk::portfolio::StressResult>,
    rows: Vec<backlog_risk::portfolio::ScenarioRisk>,
    skipped: Vec<(String, String)>,
}

#[pymethods]
impl StressResult {
    /// Each scenario's files (`pnl.csv`, `risk.csv`, `contributions.csv`,
    /// `tail.csv`, `paired-BASE.csv`; charts as `charts` says) as
    /// (scenario, name, bytes), then the files across scenarios
    /// (`portfolio-P.csv`) with scenario `None`.
    #[pyo3(signature = (charts = "none", chart_size = (1600, 1000)))]
    fn _files<'py>(&self, py: Python<'py>, charts: &str, chart_size: (u32, u32)) -> PyResult<Vec<ScenarioFile<'py>>> {
        let (charts, size) = (charts_of(charts)?, self::chart_size(chart_size)?);
        let mut out = Vec::new();
        for (r, row) in self.results.iter().zip(&self.rows) {
            let cx = export::StressContext { result: r, row: Some(row), charts, chart_size: size, workbook: false };
            for (n, b) in files_of(py, |sink| export::export_stress(&cx, sink))? {
                out.push((Some(r.scenario.clone()), n, b));
            }
        }
        let cx = export::AcrossContext {
            portfolio: &self.portfolio,
            results: &self.results,
            rows: &self.rows,
            charts,
            chart_size: size,
        };
        for (n, b) in files_of(py, |sink| export::export_across(&cx, sink))? {
            out.push((None, n, b));
        }
        Ok(out)
    }

    /// Write the command line's files: `out/NAME/portfolio-P/` per
    /// scenario and `out/portfolio-P.csv` / `.png`; returns `out`.
    #[pyo3(signature = (out, charts = "key", chart_size = (1600, 1000), workbook = true))]
    fn write(
        &self,
        py: Python<'_>,
        out: PathBuf,
        charts: &str,
        chart_size: (u32, u32),
        workbook: bool,
    ) -> PyResult<String> {
        let (charts, size) = (charts_of(charts)?, self::chart_size(chart_size)?);
        py.detach(|| -> anyhow::Result<()> {
            let _lock = backlog_risk_files::outdir::OutLock::acquire(&out)?;
            for (r, row) in self.results.iter().zip(&self.rows) {
                let target = out.join(&r.scenario).join(format!("portfolio-{}", r.portfolio));
                let cx = export::StressContext { result: r, row: Some(row), charts, chart_size: size, workbook };
                backlog_risk_files::write_folder(&target, export::stress_owns, "the stress test", |sink| {
                    export::export_stress(&cx, sink)
                })?;
            }
            let cx = export::AcrossContext {
                portfolio: &self.portfolio,
                results: &self.results,
                rows: &self.rows,
                charts,
                chart_size: size,
            };
            export::export_across(&cx, &mut backlog_risk_files::DirSink::new(&out))?;
            Ok(())
        })
        .map_err(write_error)?;
        Ok(out.display().to_string())
    }

    #[getter]
    fn portfolio(&self) -> &str {
        &self.portfolio.name
    }

    /// The scenarios that ran, in the order given.
    #[getter]
    fn scenarios(&self) -> Vec<String> {
        self.results.iter().map(|r| r.scenario.clone()).collect()
    }

    /// The scenarios the portfolio does not fit, and why.
    #[getter]
    fn skipped(&self) -> Vec<(String, String)> {
        self.skipped.clone()
    }

    /// The console line of each scenario that ran.
    #[getter]
    fn lines(&self) -> Vec<String> {
        self.results
            .iter()
            .zip(&self.rows)
            .map(|(r, row)| backlog_risk::writers::text::stress_line(r, Some(row)))
            .collect()
    }
}

/// Stress-test a portfolio on scenarios (see `backlog_risk.stress`).
#[pyfunction]
#[pyo3(signature = (portfolio, scenarios, base = None, paths = None, seed = None, threads = None, sampling = None, progress = None))]
#[allow(clippy::too_many_arguments)]
fn stress(
    py: Python<'_>,
    portfolio: &Portfolio,
    scenarios: Vec<PyRef<'_, Scenario>>,
    base: Option<&Scenario>,
    paths: Option<u64>,
    seed: Option<u64>,
    threads: Option<usize>,
    sampling: Option<&str>,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<StressResult> {
    if scenarios.is_empty() {
        return Err(OptionError::new_err("scenarios=[]: give at least one scenario"));
    }
    let opts = options(paths, seed, threads, sampling)?;
    let models: Vec<Model> = scenarios.iter().map(|s| s.model.clone()).collect();
    let given: Vec<&Model> = models.iter().collect();
    if let Some(e) = portfolio.model.unrecorded(Path::new(&portfolio.file), &given) {
        return Err(to_py(e));
    }
    if let Some(b) = base
        && scenarios.iter().all(|s| s.text == b.text)
    {
        return Err(OptionError::new_err(format!(
            "base=: `{}` is the scenario itself: a stress test compared with itself differs by exactly 0; give another scenario to compare with the base",
            b.model.name
        )));
    }
    let factor = if base.is_some() { 2 } else { 1 };
    let mut total = 0;
    for m in &models {
        total += factor * opts.apply(m).map_err(to_py)?.paths;
    }
    let base_model = base.map(|b| b.model.clone());
    let p = &portfolio.model;
    let outcomes = simulate(py, progress, total, |obs| {
        models
            .iter()
            .map(|m| api::stress(p, m, base_model.as_ref(), &opts, obs))
            .collect::<backlog_risk::Result<Vec<_>>>()
    })?;
    let (mut results, mut rows, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    for (m, o) in models.iter().zip(outcomes) {
        match o {
            api::Stressed::Ran(r, row) => {
                results.push(*r);
                rows.push(row);
            }
            api::Stressed::Skipped(why) => skipped.push((m.name.clone(), why)),
        }
    }
    if results.is_empty() {
        let why: Vec<String> = skipped.iter().map(|(n, w)| format!("{n}: {w}")).collect();
        return Err(PortfolioError::new_err(format!(
            "portfolio {} fits none of the {} scenarios given ({}): give a scenario with the metrics and the quarters it needs",
            p.name,
            skipped.len(),
            why.join("; ")
        )));
    }
    Ok(StressResult { portfolio: p.clone(), results, rows, skipped })
}

/// What drives a metric: attribution and sensitivity (see
/// `backlog_risk.explain`).
#[pyclass(module = "backlog_risk._native", frozen)]
struct ExplainResult {
    scenario: String,
    file: String,
    metric: String,
    paths: u64,
    seed: u64,
    plan: f64,
    mean: f64,
    attribution: Option<Vec<backlog_risk::analysis::attribution::AttributionRow>>,
    sensitivity: Option<Vec<backlog_risk::analysis::sensitivity::SensitivityRow>>,
    given: Option<backlog_risk::analysis::given::Given>,
    /// The stories of the paths `given` lists (`path-N/` beside the page).
    stories: Vec<api::PathStory>,
}

impl ExplainResult {
    fn context(&self, charts: Charts, chart_size: ChartSize, workbook: bool) -> export::ExplainContext<'_> {
        export::ExplainContext {
            scenario: &self.scenario,
            scenario_file: &self.file,
            metric: &self.metric,
            paths: self.paths,
            seed: self.seed,
            plan: self.plan,
            mean: self.mean,
            attribution: self.attribution.as_deref(),
            sensitivity: self.sensitivity.as_deref(),
            given: self.given.as_ref(),
            charts,
            chart_size,
            workbook,
        }
    }
}

#[pymethods]
impl ExplainResult {
    /// The files of `explain` (`attribution.csv`, `sensitivity.csv`,
    /// `explain.html`; charts as `charts` says) as (name, bytes).
    #[pyo3(signature = (charts = "none", chart_size = (1600, 1000)))]
    fn _files<'py>(
        &self,
        py: Python<'py>,
        charts: &str,
        chart_size: (u32, u32),
    ) -> PyResult<Vec<(String, Bound<'py, PyBytes>)>> {
        let cx = self.context(charts_of(charts)?, self::chart_size(chart_size)?, false);
        files_of(py, |sink| export::export_explain(&cx, sink))
    }

    /// Write the command line's files of `explain` into `out/NAME/`;
    /// returns the folder.
    #[pyo3(signature = (out, charts = "key", chart_size = (1600, 1000), workbook = true))]
    fn write(
        &self,
        py: Python<'_>,
        out: PathBuf,
        charts: &str,
        chart_size: (u32, u32),
        workbook: bool,
    ) -> PyResult<String> {
        let (charts, chart_size) = (charts_of(charts)?, self::chart_size(chart_size)?);
        let cx = self.context(charts, chart_size, workbook);
        let dir = out.join(&self.scenario);
        py.detach(|| -> anyhow::Result<()> {
            let _lock = backlog_risk_files::outdir::OutLock::acquire(&out)?;
            backlog_risk_files::write_folder(&dir, export::explain_owns, "the explanation", |sink| {
                export::export_explain(&cx, sink)
            })?;
            // The listed paths' stories, which explain.html links to.
            for story in &self.stories {
                write_story(&dir, story, charts, chart_size)?;
            }
            Ok(())
        })
        .map_err(write_error)?;
        Ok(dir.display().to_string())
    }

    #[getter]
    fn scenario(&self) -> &str {
        &self.scenario
    }

    #[getter]
    fn metric(&self) -> &str {
        &self.metric
    }

    #[getter]
    fn plan(&self) -> f64 {
        self.plan
    }

    #[getter]
    fn mean(&self) -> f64 {
        self.mean
    }

    #[getter]
    fn paths(&self) -> u64 {
        self.paths
    }

    #[getter]
    fn seed(&self) -> u64 {
        self.seed
    }
}

/// Attribution and sensitivity of a metric (see `backlog_risk.explain`).
#[pyfunction]
#[pyo3(signature = (scenario, metric = None, by_rule = false, attribution = true, sensitivity = true, paths = None, seed = None, threads = None, sampling = None, progress = None, given = None, top = 5, min_hits = None, max_paths = 10_000_000))]
#[allow(clippy::too_many_arguments)]
fn explain(
    py: Python<'_>,
    scenario: &Scenario,
    metric: Option<&str>,
    by_rule: bool,
    attribution: bool,
    sensitivity: bool,
    paths: Option<u64>,
    seed: Option<u64>,
    threads: Option<usize>,
    sampling: Option<&str>,
    progress: Option<&Bound<'_, PyAny>>,
    given: Option<&str>,
    top: usize,
    min_hits: Option<u64>,
    max_paths: u64,
) -> PyResult<ExplainResult> {
    if !attribution && !sensitivity && given.is_none() {
        return Err(OptionError::new_err(
            "attribution=False, sensitivity=False and no given: there is nothing to explain; leave one of them True, or give a condition",
        ));
    }
    if top == 0 || top > 1000 {
        return Err(OptionError::new_err(format!("top={top}: list 1 to 1000 paths")));
    }
    if min_hits == Some(0) || max_paths == 0 {
        return Err(OptionError::new_err("min_hits and max_paths count paths: give 1 or more"));
    }
    let given = match given {
        None => None,
        Some(g) => Some(api::GivenWhat {
            conditions: backlog_risk::analysis::given::parse(g).map_err(|e| to_py(e.about("given", g)))?,
            top,
            min_hits: min_hits.map(|n| (n, max_paths)),
        }),
    };
    let metric = match metric {
        None => None,
        Some(m) => Some(m.parse::<backlog_risk::metric::Metric>().map_err(|e| to_py(e.about("metric", m)))?),
    };
    let what = api::ExplainWhat { metric, by_rule, attribution, sensitivity, given };
    let opts = options(paths, seed, threads, sampling)?;
    let sc = opts.apply(&scenario.model).map_err(to_py)?;
    let total = sc.paths * api::explain_simulations(&sc, &what);
    let e = simulate(py, progress, total, |obs| api::explain(&scenario.model, &what, &opts, obs))?;
    let mean = e.accumulator.metrics[e.metric_index].moments.mean();
    Ok(ExplainResult {
        scenario: e.scenario.name.clone(),
        file: scenario.file.clone(),
        metric: e.metric,
        paths: e.scenario.paths,
        seed: e.scenario.seed,
        plan: e.plan,
        mean,
        attribution: e.attribution.map(|a| a.rows),
        sensitivity: e.sensitivity,
        given: e.given,
        stories: e.stories,
    })
}

/// Write one path's story into its folder `dir/path-N/`, as the command line does.
fn write_story(dir: &Path, story: &api::PathStory, charts: Charts, chart_size: ChartSize) -> anyhow::Result<()> {
    let folder = dir.join(export::path_folder(story.path));
    let cx = export::PathContext { story, variant: None, charts, chart_size };
    backlog_risk_files::write_folder(&folder, export::path_owns, "the path", |sink| export::export_path(&cx, sink))
}

/// One path of a run, replayed (see `backlog_risk.path`).
#[pyclass(module = "backlog_risk._native", frozen)]
struct PathResult {
    story: api::PathStory,
}

#[pymethods]
impl PathResult {
    /// The files of the path (`path-N.csv`, `path-N-values.csv`; the chart
    /// as `charts` says) as (name, bytes).
    #[pyo3(signature = (charts = "none", chart_size = (1600, 1000)))]
    fn _files<'py>(
        &self,
        py: Python<'py>,
        charts: &str,
        chart_size: (u32, u32),
    ) -> PyResult<Vec<(String, Bound<'py, PyBytes>)>> {
        let cx = export::PathContext {
            story: &self.story,
            variant: None,
            charts: charts_of(charts)?,
            chart_size: self::chart_size(chart_size)?,
        };
        files_of(py, |sink| export::export_path(&cx, sink))
    }

    /// Write the path's files into `out/NAME/path-N/`; returns the folder.
    #[pyo3(signature = (out, charts = "key", chart_size = (1600, 1000)))]
    fn write(&self, py: Python<'_>, out: PathBuf, charts: &str, chart_size: (u32, u32)) -> PyResult<String> {
        let (charts, chart_size) = (charts_of(charts)?, self::chart_size(chart_size)?);
        let dir = out.join(&self.story.scenario.name);
        py.detach(|| -> anyhow::Result<()> {
            let _lock = backlog_risk_files::outdir::OutLock::acquire(&out)?;
            write_story(&dir, &self.story, charts, chart_size)
        })
        .map_err(write_error)?;
        Ok(dir.join(export::path_folder(self.story.path)).display().to_string())
    }

    #[getter]
    fn scenario(&self) -> &str {
        &self.story.scenario.name
    }

    #[getter]
    fn path(&self) -> u64 {
        self.story.path
    }

    #[getter]
    fn paths(&self) -> u64 {
        self.story.scenario.paths
    }

    #[getter]
    fn seed(&self) -> u64 {
        self.story.scenario.seed
    }
}

/// Replay one path of a run (see `backlog_risk.path`).
#[pyfunction]
#[pyo3(signature = (scenario, path, paths = None, seed = None, threads = None, sampling = None, progress = None))]
#[allow(clippy::too_many_arguments)]
fn path(
    py: Python<'_>,
    scenario: &Scenario,
    path: u64,
    paths: Option<u64>,
    seed: Option<u64>,
    threads: Option<usize>,
    sampling: Option<&str>,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<PathResult> {
    let opts = options(paths, seed, threads, sampling)?;
    let sc = opts.apply(&scenario.model).map_err(to_py)?;
    let story = simulate(py, progress, sc.paths, |obs| api::path(&scenario.model, path, &opts, obs))?;
    Ok(PathResult { story })
}

/// A scenario over a grid of one or two parameters (see
/// `backlog_risk.sweep`).
#[pyclass(module = "backlog_risk._native", frozen)]
struct SweepResult {
    swept: api::Swept,
}

impl SweepResult {
    fn context(&self, charts: Charts, chart_size: ChartSize) -> export::SweepContext<'_> {
        let plan = &self.swept.plan;
        export::SweepContext {
            scenario: &plan.base.name,
            vary: &plan.vary,
            grid: &plan.grid,
            points: &self.swept.points,
            metric: &plan.metric,
            stat: &plan.stat,
            paths: plan.points[0].paths,
            seed: plan.points[0].seed,
            charts,
            chart_size,
        }
    }
}

#[pymethods]
impl SweepResult {
    /// The files of the sweep (`sweep-SLUG.csv`; the chart as `charts`
    /// says) as (name, bytes).
    #[pyo3(signature = (charts = "none", chart_size = (1600, 1000)))]
    fn _files<'py>(
        &self,
        py: Python<'py>,
        charts: &str,
        chart_size: (u32, u32),
    ) -> PyResult<Vec<(String, Bound<'py, PyBytes>)>> {
        let cx = self.context(charts_of(charts)?, self::chart_size(chart_size)?);
        files_of(py, |sink| export::export_sweep(&cx, sink))
    }

    /// Write `sweep-SLUG.csv` and `.png` into `out/NAME/`; returns the folder.
    #[pyo3(signature = (out, charts = "key", chart_size = (1600, 1000)))]
    fn write(&self, py: Python<'_>, out: PathBuf, charts: &str, chart_size: (u32, u32)) -> PyResult<String> {
        let cx = self.context(charts_of(charts)?, self::chart_size(chart_size)?);
        let dir = out.join(&self.swept.plan.base.name);
        py.detach(|| -> anyhow::Result<()> {
            let _lock = backlog_risk_files::outdir::OutLock::acquire(&out)?;
            export::export_sweep(&cx, &mut backlog_risk_files::DirSink::new(&dir))?;
            Ok(())
        })
        .map_err(write_error)?;
        Ok(dir.display().to_string())
    }

    #[getter]
    fn scenario(&self) -> &str {
        &self.swept.plan.base.name
    }

    #[getter]
    fn metric(&self) -> &str {
        &self.swept.plan.metric
    }

    #[getter]
    fn stat(&self) -> &str {
        &self.swept.plan.stat
    }

    /// The varied field paths and their values.
    #[getter]
    fn vary(&self) -> Vec<(String, Vec<f64>)> {
        self.swept.plan.vary.clone()
    }

    /// Notes of the plan (e.g. shares rescaled).
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.swept.plan.notes.iter().map(|n| keyword(n)).collect()
    }
}

/// Run a scenario over a grid (see `backlog_risk.sweep`). `vary` holds one
/// or two (field path, values or a spec such as `0.05..0.5:10`).
#[pyfunction]
#[pyo3(signature = (scenario, vary, stat = "es99", metric = None, renormalise = false, paths = None, seed = None, threads = None, sampling = None, progress = None))]
#[allow(clippy::too_many_arguments)]
fn sweep(
    py: Python<'_>,
    scenario: &Scenario,
    vary: Vec<(String, Bound<'_, PyAny>)>,
    stat: &str,
    metric: Option<&str>,
    renormalise: bool,
    paths: Option<u64>,
    seed: Option<u64>,
    threads: Option<usize>,
    sampling: Option<&str>,
    progress: Option<&Bound<'_, PyAny>>,
) -> PyResult<SweepResult> {
    let mut axes = Vec::new();
    for (path, values) in vary {
        let axis = match values.extract::<String>() {
            Ok(spec) => api::parse_vary(&format!("{path}={spec}")).map_err(|e| to_py(e.about("vary", &path)))?,
            Err(_) => {
                let v: Vec<f64> = values.extract().map_err(|_| {
                    OptionError::new_err(format!(
                        "vary[{path:?}]: give a list of numbers or a spec such as \"0.05..0.5:10\""
                    ))
                })?;
                (path, v)
            }
        };
        axes.push(axis);
    }
    let metric = match metric {
        None => None,
        Some(m) => Some(m.parse::<backlog_risk::metric::Metric>().map_err(|e| to_py(e.about("metric", m)))?),
    };
    let spec = api::SweepSpec { vary: axes, stat: stat.to_string(), metric, renormalise };
    let opts = options(paths, seed, threads, sampling)?;
    let file = PathBuf::from(&scenario.file);
    let plan = api::plan_sweep(scenario.model.clone(), &scenario.text, &file, &spec, &opts).map_err(to_py)?;
    let total = plan.points.iter().map(|p| p.paths).sum();
    let swept = simulate(py, progress, total, |obs| {
        let points = api::sweep_points(&plan, 0..plan.points.len(), &file, &opts, obs, &|| {})?;
        Ok(api::Swept { plan: plan.clone(), points })
    })?;
    Ok(SweepResult { swept })
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Scenario>()?;
    m.add_class::<RunResult>()?;
    m.add_class::<Portfolio>()?;
    m.add_class::<StressResult>()?;
    m.add_class::<ExplainResult>()?;
    m.add_class::<SweepResult>()?;
    m.add_class::<PathResult>()?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(run_paired, m)?)?;
    m.add_function(wrap_pyfunction!(stress, m)?)?;
    m.add_function(wrap_pyfunction!(explain, m)?)?;
    m.add_function(wrap_pyfunction!(path, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
