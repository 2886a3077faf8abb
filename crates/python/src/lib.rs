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
use backlog_risk::writers::export::{self, Charts};
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
        e => exc::Error::new_err(e.to_string()),
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
/// are keyword arguments, `name=`.
fn keyword(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
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
    let report = |py: Python<'_>| -> PyResult<()> {
        let Some(f) = progress else { return Ok(()) };
        let answer = f.call1((done.load(Ordering::Relaxed).min(total), total))?;
        if answer.is_instance_of::<PyBool>() && !answer.extract::<bool>()? {
            return Err(Cancelled::new_err("the run was cancelled: the progress callback returned False"));
        }
        let _ = py;
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
                && let Err(e) = py.check_signals().and_then(|()| report(py))
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
        report(py)?;
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
    if width < 640 || height < 400 || width > 8000 || height > 8000 {
        return Err(OptionError::new_err(format!(
            "chart_size=({width}, {height}): give a width of 640 to 8000 and a height of 400 to 8000 pixels"
        )));
    }
    Ok(ChartSize { width, height })
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
    #[pyo3(signature = (out, charts = "key", chart_size = (1600, 1000), samples = None))]
    fn write(
        &self,
        py: Python<'_>,
        out: PathBuf,
        charts: &str,
        chart_size: (u32, u32),
        samples: Option<u64>,
    ) -> PyResult<String> {
        let charts = match charts {
            "key" => Charts::Key,
            "all" => Charts::All,
            "none" => Charts::None,
            other => {
                return Err(OptionError::new_err(format!(
                    "charts={other:?}: give \"key\" (the default), \"all\" or \"none\""
                )));
            }
        };
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

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Scenario>()?;
    m.add_class::<RunResult>()?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(run_paired, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
