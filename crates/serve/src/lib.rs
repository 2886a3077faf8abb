//! `backlog-risk serve`: a local web explorer over the core's API.
//!
//! The page moves an assumption; the server re-runs the scenario with the
//! file's seed on the paths the page asks for, paired path by path against
//! the file (common random numbers: the same draws, keyed by name), and
//! answers with the figures, their 95% intervals and each paired difference
//! with its standard error. The page asks again with more paths (rounds, as
//! `--precision` does) until its budget; a newer change from the same tab
//! cancels the run in flight.
//!
//! What crosses the wire is a scenario's name and field paths from its own
//! list of controls, never a path on disk: only the files given at start are
//! read. Every value goes through the same validation as a file
//! (`scenario::parse`), and a bad one is a 400 with a message naming the
//! field. Request bodies, path budgets and the number of changes are capped.
//!
//! The HTTP side is `tiny_http` (a small synchronous server: worker threads
//! pull requests; the simulation runs on the rayon pool); the handlers
//! ([`Explorer::handle`]) are plain functions of (method, path, body),
//! tested without a socket.
//!
//! Under load, first answers come first: at most one simulation per core
//! runs at a time, and a small run (a page's first round, at most
//! [`FIRST_ROUND`] paths) goes before every refinement waiting ([`Gate`]);
//! a run superseded while it waits never starts. First answers and
//! refinements run on two rayon pools of their own (in a shared pool, a
//! job from outside waits until the workers have no refinement chunk left),
//! the refinements' threads at a lower scheduling priority, so that a
//! refinement in flight takes the cores only while no first answer runs.

mod page;
mod variant;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use backlog_risk::api::{self, Observer, Options};
use backlog_risk::model::Scenario;
use backlog_risk::scenario::{self, Resolved, assumptions::Assumptions};
use backlog_risk::{Cancel, Error};
use serde::Deserialize;
use serde_json::{Value, json};

pub use variant::variant_toml;

/// What the server accepts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest request body, in bytes.
    pub max_body: usize,
    /// The most paths one request may ask for.
    pub max_paths: u64,
    /// The most fields one request may change.
    pub max_changes: usize,
    /// Tabs whose latest run is remembered (for cancelling a stale one).
    pub max_clients: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_body: 64 * 1024, max_paths: 2_000_000, max_changes: 200, max_clients: 256 }
    }
}

/// The most paths of a run that counts as a first answer (the page's
/// first round is 2,000): such runs go before refinements.
pub const FIRST_ROUND: u64 = 4_096;

/// The worker threads that take requests: enough for every tab of a busy
/// session to be read at once (a request waiting at the [`Gate`] holds a
/// thread, not memory).
pub const WORKERS: usize = 32;

/// Admits simulations: at most `slots` at a time, and a first answer
/// before any refinement that waits.
struct Gate {
    slots: usize,
    state: Mutex<GateState>,
    freed: Condvar,
}

#[derive(Default)]
struct GateState {
    running: usize,
    /// Refinements among `running`.
    refining: usize,
    /// Tickets of the first answers and of the refinements waiting, in
    /// order of arrival: each queue is served first come, first served.
    firsts: VecDeque<u64>,
    refinements: VecDeque<u64>,
    next_ticket: u64,
}

/// A slot held while a simulation runs (a refinement's when `.1`).
struct Slot<'a>(&'a Gate, bool);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut s = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
        s.running -= 1;
        s.refining -= usize::from(self.1);
        drop(s);
        self.0.freed.notify_all();
    }
}

impl Gate {
    fn new(slots: usize) -> Self {
        Gate { slots: slots.max(1), state: Mutex::default(), freed: Condvar::new() }
    }

    /// Wait for a slot; `None` when `cancel` is cancelled first (a newer
    /// change replaced this run while it waited). First answers are served
    /// in order of arrival; refinements too, only while no first answer
    /// waits, and never in every slot (one is kept for first answers when
    /// there are two or more).
    fn enter(&self, first: bool, cancel: &Cancel) -> Option<Slot<'_>> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let ticket = s.next_ticket;
        s.next_ticket += 1;
        fn queue(s: &mut GateState, first: bool) -> &mut VecDeque<u64> {
            if first { &mut s.firsts } else { &mut s.refinements }
        }
        queue(&mut s, first).push_back(ticket);
        let refine_slots = (self.slots - 1).max(1);
        loop {
            if cancel.is_cancelled() {
                queue(&mut s, first).retain(|t| *t != ticket);
                drop(s);
                self.freed.notify_all();
                return None;
            }
            let free = if first {
                s.running < self.slots
            } else {
                s.running < self.slots && s.refining < refine_slots && s.firsts.is_empty()
            };
            if free && queue(&mut s, first).front() == Some(&ticket) {
                queue(&mut s, first).pop_front();
                s.running += 1;
                s.refining += usize::from(!first);
                drop(s);
                // The next in line may fit in another free slot.
                self.freed.notify_all();
                return Some(Slot(self, !first));
            }
            // Woken when a slot frees or the line moves; the timeout reads
            // `cancel` again.
            s = self.freed.wait_timeout(s, Duration::from_millis(20)).unwrap_or_else(|p| p.into_inner()).0;
        }
    }
}

/// Lower the calling thread's scheduling priority (nice 10: about a tenth
/// of the CPU of a normal thread when both want it); nothing where the
/// system has no per-thread priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority with PRIO_PROCESS and who = 0 changes the calling
    // thread's nice value on Linux; it reads no memory of ours.
    unsafe {
        let _ = libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

/// One scenario the server was started with.
pub struct Entry {
    pub name: String,
    /// The file's name (not its folder: that stays on the server).
    pub file_name: String,
    /// The scenario file as given at start.
    pub file: PathBuf,
    /// Its text with the `extends` chain merged in.
    resolved: Resolved,
    scenario: Scenario,
    assumptions: Assumptions,
    /// The field paths a request may change: the assumptions listed.
    fields: HashSet<String>,
    /// Each parameter's valid range, by field path: its slider's bounds.
    ranges: HashMap<String, (f64, f64)>,
    /// The file's metrics on the paths of the latest first answer, path by
    /// path: a paired first answer simulates only the changed scenario.
    recorded: Mutex<Option<Arc<api::RecordedBase>>>,
}

impl Entry {
    /// The file recorded on `paths` paths (with its own seed), from the
    /// memo or simulated now (and kept for the next first answers).
    fn recorded(&self, paths: u64) -> Result<Arc<api::RecordedBase>, Error> {
        let mut memo = self.recorded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = memo.as_ref().filter(|r| r.paths() == paths) {
            return Ok(Arc::clone(r));
        }
        let opts = Options { paths: Some(paths), ..Options::default() };
        let r = Arc::new(api::record_base(&self.scenario, &opts, &Observer::new())?);
        *memo = Some(Arc::clone(&r));
        Ok(r)
    }
}

/// The explorer's state: the scenarios, the limits, the tabs' runs.
pub struct Explorer {
    entries: Vec<Entry>,
    pub limits: Limits,
    clients: Mutex<Clients>,
    gate: Gate,
    /// Where first answers run (one thread per slot of the gate).
    first_pool: rayon::ThreadPool,
    /// Where refinements run, at a lower priority.
    refine_pool: rayon::ThreadPool,
}

/// The latest run of each tab: its generation and its cancel token.
#[derive(Default)]
struct Clients {
    runs: HashMap<String, (u64, Cancel)>,
    order: VecDeque<String>,
}

/// An answer: status, content type, body, and a file name for a download.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub download: Option<String>,
}

impl Reply {
    fn json(status: u16, v: &Value) -> Reply {
        Reply { status, content_type: "application/json", body: v.to_string().into_bytes(), download: None }
    }

    /// A refusal: `{"error": message}`.
    pub fn error(status: u16, message: impl Into<String>) -> Reply {
        Reply::json(status, &json!({ "error": message.into() }))
    }

    fn page(html: String) -> Reply {
        Reply { status: 200, content_type: "text/html; charset=utf-8", body: html.into_bytes(), download: None }
    }
}

impl Explorer {
    /// Load the scenario files (the same inputs as `run`, expanded by the
    /// front-end); two files of one scenario name are refused.
    pub fn load(files: &[PathBuf], limits: Limits) -> Result<Explorer, Error> {
        let mut entries: Vec<Entry> = Vec::new();
        for file in files {
            let (sc, resolved) = scenario::load_resolved(file).map_err(Error::Scenario)?;
            if let Some(other) = entries.iter().find(|e| e.name == sc.name) {
                return Err(Error::Invalid(format!(
                    "{} and {} both hold scenario `{}`: give one of them (names identify scenarios on the page)",
                    other.file.display(),
                    file.display(),
                    sc.name
                )));
            }
            let assumptions = scenario::assumptions::assumptions(&sc, &resolved.chain);
            let fields = assumptions.groups.iter().flat_map(|g| g.rows.iter().map(|r| r.field.clone())).collect();
            let file_name = file.file_name().map_or_else(|| sc.name.clone(), |n| n.to_string_lossy().into_owned());
            let ranges = scenario::valid_ranges(&resolved.text, file)
                .map_err(Error::Scenario)?
                .into_iter()
                .map(|(field, lo, hi)| (field, (lo, hi)))
                .collect();
            entries.push(Entry {
                name: sc.name.clone(),
                file_name,
                file: file.clone(),
                resolved,
                scenario: sc,
                assumptions,
                fields,
                ranges,
                recorded: Mutex::new(None),
            });
        }
        if entries.is_empty() {
            return Err(Error::Invalid("no scenario to serve: give scenario files or folders".into()));
        }
        let gate = Gate::new(rayon::current_num_threads());
        let pool = |name: &'static str, start: fn()| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(gate.slots)
                .thread_name(move |i| format!("{name}-{i}"))
                .start_handler(move |_| start())
                .build()
                .map_err(|e| Error::Invalid(format!("cannot start the {name} threads: {e}")))
        };
        let first_pool = pool("first-answer", || {})?;
        let refine_pool = pool("refinement", lower_priority)?;
        Ok(Explorer { entries, limits, clients: Mutex::new(Clients::default()), gate, first_pool, refine_pool })
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// Answer one request. `path` is the request's path (a query is
    /// ignored); `body` has been read up to [`Limits::max_body`] + 1 bytes.
    pub fn handle(&self, method: &str, path: &str, body: &[u8]) -> Reply {
        let path = path.split('?').next().unwrap_or("");
        match (method, path) {
            ("GET", "/") => Reply::page(page::index(self)),
            ("GET", "/explorer.js") => Reply {
                status: 200,
                content_type: "text/javascript; charset=utf-8",
                body: page::SCRIPT.as_bytes().to_vec(),
                download: None,
            },
            ("GET", p) if p.starts_with("/s/") => match self.entry(&p[3..]) {
                Some(e) => Reply::page(page::scenario(e)),
                None => Reply::error(404, format!("no scenario `{}` here; the start page lists them", &p[3..])),
            },
            ("GET", "/api/scenarios") => Reply::json(200, &self.list()),
            ("GET", p) if p.starts_with("/api/scenario/") => match self.entry(&p[14..]) {
                Some(e) => Reply::json(200, &self.controls(e)),
                None => Reply::error(404, format!("no scenario `{}` here", &p[14..])),
            },
            ("POST", "/api/run") => self.post(body, |e, req| self.run(e, req)),
            ("POST", "/api/variant") => self.post(body, |e, req| self.variant(e, req)),
            (_, "/" | "/explorer.js" | "/api/scenarios" | "/api/run" | "/api/variant") => {
                Reply::error(405, format!("{method} is not allowed on {path}"))
            }
            _ => Reply::error(404, format!("nothing at {path}")),
        }
    }

    fn list(&self) -> Value {
        let list: Vec<Value> = self
            .entries
            .iter()
            .map(|e| json!({ "name": e.name, "file": e.file_name, "about": e.assumptions.about }))
            .collect();
        json!({ "scenarios": list })
    }

    /// The controls of a scenario: every listed parameter with its value
    /// as the file writes it, grouped as in the file, with its comment.
    fn controls(&self, e: &Entry) -> Value {
        let sc = &e.scenario;
        let groups: Vec<Value> = e
            .assumptions
            .groups
            .iter()
            .map(|g| {
                let rows: Vec<Value> = g
                    .rows
                    .iter()
                    .map(|r| {
                        let value = scenario::get_value(&e.resolved.text, &r.field)
                            .ok()
                            .flatten()
                            .map_or(Value::Null, |v| toml_json(&v));
                        // Infinite bounds go as null.
                        let (lo, hi) = e.ranges.get(&r.field).copied().unwrap_or((f64::NAN, f64::NAN));
                        json!({
                            "field": r.field, "value": value, "dist": r.dist, "mean": r.mean,
                            "uncertain": r.uncertain, "comment": r.source,
                            "lo": lo.is_finite().then_some(lo), "hi": hi.is_finite().then_some(hi),
                        })
                    })
                    .collect();
                json!({ "title": g.title, "note": g.note, "rows": rows })
            })
            .collect();
        let providers: Vec<Value> =
            sc.providers.iter().map(|p| json!({ "key": p.name, "display": p.display })).collect();
        json!({
            "name": e.name, "file": e.file_name, "seed": sc.seed, "paths": sc.paths,
            "focus": sc.focus, "providers": providers, "about": e.assumptions.about,
            "groups": groups, "max_paths": self.limits.max_paths,
        })
    }

    /// Parse a POST body and find its scenario; a refusal names what is
    /// wrong.
    fn post(&self, body: &[u8], f: impl FnOnce(&Entry, Request) -> Reply) -> Reply {
        if body.len() > self.limits.max_body {
            return Reply::error(
                413,
                format!("the request is over {} bytes; send only the changed fields", self.limits.max_body),
            );
        }
        let req: Request = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => return Reply::error(400, format!("the request is not the JSON this page sends: {e}")),
        };
        let Some(e) = self.entry(&req.scenario) else {
            return Reply::error(404, format!("no scenario `{}` here; the start page lists them", req.scenario));
        };
        f(e, req)
    }

    /// The scenario with the request's changes, validated as a file is,
    /// and its merged text.
    fn changed(&self, e: &Entry, req: &Request) -> Result<(String, Scenario), Reply> {
        let text = changed_text(e, &req.changes, &self.limits)?;
        let mut sc = scenario::parse(&text, Path::new(&e.file_name)).map_err(|err| {
            let field = if err.field.is_empty() { String::new() } else { format!("{}: ", err.field) };
            Reply::error(400, format!("{field}{}", err.message))
        })?;
        sc.focus = e.scenario.focus;
        Ok((text, sc))
    }

    fn run(&self, e: &Entry, req: Request) -> Reply {
        let paths = match req.paths {
            None => e.scenario.paths.min(self.limits.max_paths),
            Some(p) if (1_000..=self.limits.max_paths).contains(&p) => p,
            Some(p) => {
                return Reply::error(
                    400,
                    format!(
                        "paths: {p} is outside 1,000 to {} (the server's budget per request)",
                        self.limits.max_paths
                    ),
                );
            }
        };
        let sc = match self.changed(e, &req) {
            Ok((_, sc)) => sc,
            Err(r) => return r,
        };
        let cancel = self.start(req.client.as_deref(), req.generation);
        let Some(cancel) = cancel else {
            return Reply::error(409, "a newer change from this tab is running: this answer is stale");
        };
        let started = std::time::Instant::now();
        let first = paths <= FIRST_ROUND;
        let Some(_slot) = self.gate.enter(first, &cancel) else {
            return Reply::error(409, "a newer change from this tab replaced this run");
        };
        let opts = Options { paths: Some(paths), ..Options::default() };
        let obs = Observer::new().with_cancel(&cancel);
        let simulate = || {
            if req.changes.is_empty() {
                api::run(&sc, &opts, &obs).map(|r| (r, None))
            } else if first {
                // The same figures as `run_paired`, bit for bit.
                let base = e.recorded(paths)?;
                api::run_paired_against(&sc, &base, &opts, &obs).map(|p| (p.run, Some(p.rows)))
            } else {
                api::run_paired(&sc, &e.scenario, &opts, &obs).map(|p| (p.run, Some(p.rows)))
            }
        };
        let answer = if first { &self.first_pool } else { &self.refine_pool }.install(simulate);
        match answer {
            Ok((run, paired)) => {
                let mut v = results(&run.summary, paired.as_deref());
                v["elapsed_ms"] = json!(started.elapsed().as_secs_f64() * 1e3);
                v["generation"] = json!(req.generation);
                Reply::json(200, &v)
            }
            Err(Error::Cancelled) => Reply::error(409, "a newer change from this tab replaced this run"),
            Err(err) => Reply::error(400, err.to_string()),
        }
    }

    fn variant(&self, e: &Entry, req: Request) -> Reply {
        let text = match self.changed(e, &req) {
            Ok((text, _)) => text,
            Err(r) => return r,
        };
        let fields: Vec<&str> = req.changes.keys().map(String::as_str).collect();
        let paths = req.paths.unwrap_or(e.scenario.paths);
        match variant_toml(e, &text, &fields, paths) {
            Ok(text) => Reply {
                status: 200,
                content_type: "application/toml; charset=utf-8",
                body: text.into_bytes(),
                download: Some(format!("{}-variant.toml", e.name)),
            },
            Err(err) => Reply::error(400, err.to_string()),
        }
    }

    /// Register a tab's run of generation `generation`, cancelling its
    /// older run; `None` when a newer one is registered already. A request
    /// without a tab runs uncancellable by others.
    fn start(&self, client: Option<&str>, generation: u64) -> Option<Cancel> {
        let token = Cancel::new();
        let Some(client) = client else { return Some(token) };
        let mut c = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((g, old)) = c.runs.get(client) {
            if *g > generation {
                return None;
            }
            old.cancel();
        } else {
            c.order.push_back(client.to_string());
            while c.order.len() > self.limits.max_clients {
                if let Some(gone) = c.order.pop_front() {
                    c.runs.remove(&gone);
                }
            }
        }
        c.runs.insert(client.to_string(), (generation, token.clone()));
        Some(token)
    }
}

/// A run or variant request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    scenario: String,
    /// Field path -> new value (a number, or a distribution's table).
    #[serde(default)]
    changes: serde_json::Map<String, Value>,
    paths: Option<u64>,
    /// The tab, and its change counter: a newer change cancels an older run.
    client: Option<String>,
    #[serde(default)]
    generation: u64,
}

/// The entry's merged text with `changes` applied; a refusal names the
/// field. Only the fields the page lists may change, each to a finite
/// number or a table of a distribution's finite parameters.
fn changed_text(e: &Entry, changes: &serde_json::Map<String, Value>, limits: &Limits) -> Result<String, Reply> {
    if changes.len() > limits.max_changes {
        return Err(Reply::error(
            400,
            format!("{} changes in one request; at most {}", changes.len(), limits.max_changes),
        ));
    }
    let mut text = e.resolved.text.clone();
    for (field, v) in changes {
        if !e.fields.contains(field) {
            return Err(Reply::error(400, format!("{field}: not a parameter of scenario `{}`", e.name)));
        }
        let value = json_toml(v).map_err(|m| Reply::error(400, format!("{field}: {m}")))?;
        text = scenario::set_value(&text, field, value).map_err(|err| Reply::error(400, format!("{field}: {err}")))?;
    }
    Ok(text)
}

/// A value from a request as TOML: a finite number, or a table of a
/// distribution (`dist` a string, every other key a finite number).
fn json_toml(v: &Value) -> Result<toml::Value, String> {
    let number = |v: &Value| -> Result<f64, String> {
        match v.as_f64() {
            Some(x) if x.is_finite() => Ok(x),
            _ => Err(format!("{v} is not a finite number")),
        }
    };
    match v {
        Value::Number(_) => Ok(toml::Value::Float(number(v)?)),
        Value::Object(m) => {
            let mut t = toml::Table::new();
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("dist", Value::String(s)) if s.len() <= 32 => {
                        t.insert(k.clone(), toml::Value::String(s.clone()));
                    }
                    _ => {
                        t.insert(k.clone(), toml::Value::Float(number(x).map_err(|m| format!("{k}: {m}"))?));
                    }
                }
            }
            if !t.contains_key("dist") {
                return Err("a distribution needs its `dist`".into());
            }
            Ok(toml::Value::Table(t))
        }
        _ => Err(format!("{v} is neither a number nor a distribution")),
    }
}

/// A TOML value as JSON (numbers, strings, tables of them).
fn toml_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::Float(x) => json!(x),
        toml::Value::Integer(i) => json!(i),
        toml::Value::String(s) => json!(s),
        toml::Value::Boolean(b) => json!(b),
        toml::Value::Table(t) => Value::Object(t.iter().map(|(k, v)| (k.clone(), toml_json(v))).collect()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_json).collect()),
        toml::Value::Datetime(d) => json!(d.to_string()),
    }
}

/// The figures the page draws, per provider: the loss's expected value,
/// VaR99 and ES99 with their intervals, the paired differences, the fan
/// with the plan, the loss histogram and the exceedance curve.
pub fn results(s: &backlog_risk::report::ScenarioSummary, paired: Option<&[backlog_risk::report::PairedRow]>) -> Value {
    let np = s.providers.len();
    let providers: Vec<Value> = s
        .providers
        .iter()
        .enumerate()
        .map(|(p, key)| {
            let metric = format!("loss.{key}");
            let stat = |name: &str| {
                s.errors
                    .iter()
                    .find(|e| e.metric == metric && e.stat == name)
                    .map(|e| json!({ "estimate": e.estimate, "low": e.ci_low, "high": e.ci_high, "se": e.se }))
            };
            let pair = paired.and_then(|rows| rows.iter().find(|r| r.metric == metric)).map(|r| {
                json!({
                    "mean": { "diff": r.diff, "se": r.se_paired },
                    "var99": { "diff": r.d_var99, "se": r.d_var99_se },
                    "es99": { "diff": r.d_es99, "se": r.d_es99_se },
                })
            });
            let fan: Vec<Value> = s
                .fan
                .iter()
                .filter(|f| f.provider == *key)
                .map(|f| {
                    let plan = s.plan.backlog_path.get((f.quarter as usize).saturating_sub(1) * np + p);
                    json!([f.label, f.p5, f.p25, f.p50, f.p75, f.p95, plan])
                })
                .collect();
            let h = &s.loss_hist[p];
            json!({
                "key": key, "display": s.display[p], "plan_backlog": s.plan.backlog[p],
                "mean": stat("mean"), "var99": stat("var99"), "es99": stat("es99"), "paired": pair,
                "fan": fan,
                "hist": { "lo": h.lo, "hi": h.hi, "counts": h.counts, "below": h.below, "above": h.above },
                "exceedance": backlog_risk::report::thinned(&s.exceedance[p]),
            })
        })
        .collect();
    json!({ "paths": s.paths, "seed": s.seed, "focus": s.focus, "providers": providers })
}

/// Serve `explorer` on `addr` with `workers` threads until `stop` is
/// cancelled; `ready` is called with the address bound (port 0 picks one).
pub fn serve(
    explorer: Arc<Explorer>,
    addr: &str,
    workers: usize,
    stop: &Cancel,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), Error> {
    let server = tiny_http::Server::http(addr).map_err(|e| Error::Invalid(format!("cannot listen on {addr}: {e}")))?;
    let bound =
        server.server_addr().to_ip().ok_or_else(|| Error::Invalid(format!("{addr} is not an IP address and port")))?;
    ready(bound);
    let server = Arc::new(server);
    let workers = workers.max(1);
    let watcher = {
        let (server, stop) = (Arc::clone(&server), stop.clone());
        std::thread::spawn(move || {
            while !stop.is_cancelled() {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            for _ in 0..workers {
                server.unblock();
            }
        })
    };
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let (server, explorer) = (Arc::clone(&server), Arc::clone(&explorer));
            std::thread::spawn(move || {
                while let Ok(request) = server.recv() {
                    respond(&explorer, request);
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let _ = watcher.join();
    Ok(())
}

/// Read one request (its body up to the limit), answer it.
fn respond(explorer: &Explorer, mut request: tiny_http::Request) {
    use std::io::Read;
    let limit = explorer.limits.max_body;
    let too_big = request.body_length().is_some_and(|n| n > limit);
    let mut body = Vec::new();
    let reply = if too_big {
        Reply::error(413, format!("the request is over {limit} bytes; send only the changed fields"))
    } else {
        match request.as_reader().take(limit as u64 + 1).read_to_end(&mut body) {
            Ok(_) => explorer.handle(request.method().as_str(), request.url(), &body),
            Err(e) => Reply::error(400, format!("cannot read the request: {e}")),
        }
    };
    let mut headers = vec![
        header("Content-Type", reply.content_type),
        header("Cache-Control", "no-store"),
        header("X-Content-Type-Options", "nosniff"),
        // The page loads nothing from any other host.
        header(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'",
        ),
    ];
    if let Some(name) = &reply.download {
        headers.push(header("Content-Disposition", &format!("attachment; filename=\"{name}\"")));
    }
    let mut response = tiny_http::Response::from_data(reply.body).with_status_code(reply.status);
    for h in headers.into_iter().flatten() {
        response.add_header(h);
    }
    let _ = request.respond(response);
}

fn header(name: &str, value: &str) -> Option<tiny_http::Header> {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Wait for a slot on another thread; the receiver hears which one
    /// got in (and the thread keeps its slot until `release` says so).
    fn waiter<'s>(
        s: &'s std::thread::Scope<'s, '_>,
        gate: &'static Gate,
        first: bool,
        name: &'static str,
        cancel: Cancel,
        got: mpsc::Sender<(&'static str, bool)>,
        release: mpsc::Receiver<()>,
    ) {
        s.spawn(move || {
            let slot = gate.enter(first, &cancel);
            got.send((name, slot.is_some())).unwrap();
            let _ = release.recv_timeout(Duration::from_secs(10));
            drop(slot);
        });
    }

    #[test]
    fn first_answers_go_before_refinements_and_a_superseded_run_never_starts() {
        let gate: &'static Gate = Box::leak(Box::new(Gate::new(2)));
        let never = Cancel::new();
        let (a, b) = (gate.enter(true, &never).unwrap(), gate.enter(true, &never).unwrap());
        let (got, heard) = mpsc::channel();
        let quiet = |heard: &mpsc::Receiver<(&str, bool)>| heard.recv_timeout(Duration::from_millis(150)).is_err();
        std::thread::scope(|s| {
            let (release_r, r1) = mpsc::channel();
            waiter(s, gate, false, "refinement", never.clone(), got.clone(), r1);
            std::thread::sleep(Duration::from_millis(50));
            let (release_f, r2) = mpsc::channel();
            waiter(s, gate, true, "first", never.clone(), got.clone(), r2);
            let stale = Cancel::new();
            let (_release_s, r3) = mpsc::channel();
            waiter(s, gate, true, "stale", stale.clone(), got.clone(), r3);
            assert!(quiet(&heard), "both slots are held: nobody gets in");
            stale.cancel();
            assert_eq!(heard.recv_timeout(Duration::from_secs(5)).unwrap(), ("stale", false));
            drop(a);
            // The first answer came after the refinement but goes first.
            assert_eq!(heard.recv_timeout(Duration::from_secs(5)).unwrap(), ("first", true));
            assert!(quiet(&heard), "no slot free for the refinement");
            drop(b);
            assert_eq!(heard.recv_timeout(Duration::from_secs(5)).unwrap(), ("refinement", true));
            // A second refinement waits while one runs (a slot is kept for
            // first answers), though a slot is free once the first ends.
            release_f.send(()).unwrap();
            let (release_2, r4) = mpsc::channel();
            waiter(s, gate, false, "second refinement", never.clone(), got.clone(), r4);
            assert!(quiet(&heard), "one refinement at a time on two slots");
            release_r.send(()).unwrap();
            assert_eq!(heard.recv_timeout(Duration::from_secs(5)).unwrap(), ("second refinement", true));
            release_2.send(()).unwrap();
        });
        let s = gate.state.lock().unwrap();
        assert_eq!((s.running, s.refining, s.firsts.len(), s.refinements.len()), (0, 0, 0, 0));
    }
}
