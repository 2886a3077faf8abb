//! Scenario files: TOML in, validated [`Scenario`] out.
//!
//! Parsing happens in two steps, as in rand_distr's constructors: serde reads
//! the raw form ([`raw`]), rejecting unknown keys and wrong TOML types; then
//! [`validate`] resolves names and checks every rule of MODEL.md. Every
//! error is a [`ScenarioError`] naming the file, the field path
//! (`customers.openai.shift[0].target`), the line where TOML gives one, and
//! what to change.

pub mod assumptions;
mod correlation;
pub mod raw;
mod whole;

pub use whole::{Whole, parse_count};

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::dist::Dist;
use crate::error::{Cx, Error};
use crate::model::{Customer, Demand, Provider, Quarter, Rule, Sampling, Scenario, Shift};
use raw::{RawDist, RawFile, RawParam, S};

/// The distribution families a parameter may be drawn from.
pub const FAMILIES: [&str; 8] = ["fixed", "uniform", "triangular", "pert", "normal", "lognormal", "beta", "discrete"];

/// Tolerance for shares and weights that must sum to 1.
pub const SUM_TOLERANCE: f64 = 1e-9;

/// A scenario file that cannot be used, and why (the location shared with
/// portfolio files).
pub use crate::error::InputError as ScenarioError;

/// Read and validate a scenario file, resolving `extends` chains.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    load_resolved(path).map(|(sc, _)| sc)
}

/// [`load`], also returning the resolved text (what was run, for hashing).
pub fn load_resolved(path: &Path) -> Result<(Scenario, Resolved), ScenarioError> {
    let r = resolve(path)?;
    Ok((parse_resolved(&r, path)?, r))
}

/// Validate a resolved scenario; for a merged variant, messages name the
/// chain instead of a line (lines would refer to no single file).
pub fn parse_resolved(r: &Resolved, path: &Path) -> Result<Scenario, ScenarioError> {
    parse(&r.text, path).map_err(|mut e| {
        if r.chain.len() > 1 {
            e.line = None;
            e.message.push_str(&format!(
                " (in the scenario resolved from {}; `backlog-risk show {}` prints it)",
                chain_text(&r.chain),
                path.display()
            ));
        }
        e
    })
}

/// A scenario file with its `extends` chain merged in.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// TOML text: the file as written when it extends nothing.
    pub text: String,
    /// The file, then its base, its base's base, ...
    pub chain: Vec<PathBuf>,
}

fn chain_text(chain: &[PathBuf]) -> String {
    chain.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" -> ")
}

/// Read a scenario file and merge the files it `extends`: tables merge key
/// by key, anything else (numbers, strings, arrays such as `renegotiation`)
/// in the extending file replaces the base's value whole. The base path is
/// relative to the extending file.
pub fn resolve(path: &Path) -> Result<Resolved, ScenarioError> {
    let text = read(path, &[])?;
    if !text.lines().any(|l| l.trim_start().starts_with("extends")) {
        return Ok(Resolved { text, chain: vec![path.to_path_buf()] });
    }
    let mut chain = Vec::new();
    let table = resolve_table(path, &text, &mut chain, &mut HashSet::new())?;
    if chain.len() == 1 {
        return Ok(Resolved { text, chain });
    }
    let merged = toml::to_string(&table)
        .map_err(|e| ScenarioError::new(path, "", format!("cannot write the merged scenario: {e}")))?;
    Ok(Resolved { text: merged, chain })
}

fn read(path: &Path, chain: &[PathBuf]) -> Result<String, ScenarioError> {
    std::fs::read_to_string(path).map_err(|e| {
        let via = if chain.is_empty() { String::new() } else { format!(" (extended by {})", chain_text(chain)) };
        ScenarioError::new(path, "", format!("cannot read the file{via}: {e}"))
    })
}

/// Parse `text` (the file `path`) and merge the files it extends into it.
/// `chain` holds the files read so far, `seen` their canonical paths (a
/// set, so that a long chain costs linear time).
fn resolve_table(
    path: &Path,
    text: &str,
    chain: &mut Vec<PathBuf>,
    seen: &mut HashSet<PathBuf>,
) -> Result<toml::Table, ScenarioError> {
    let cx = Cx::new(path, text);
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| cx.toml_error("", &e))?;
    if !seen.insert(path.canonicalize().unwrap_or_else(|_| path.to_path_buf())) {
        let mut cycle = chain.clone();
        cycle.push(path.to_path_buf());
        return Err(cx.err(
            "extends",
            None,
            format!("the chain of `extends` comes back to this file: {}; remove one link", chain_text(&cycle)),
        ));
    }
    chain.push(path.to_path_buf());
    let Some(ext) = table.remove("extends") else { return Ok(table) };
    if chain.len() >= MAX_EXTENDS {
        return Err(cx.err(
            "extends",
            None,
            format!(
                "the chain of `extends` is deeper than {MAX_EXTENDS} files ({} ...); merge some of the bases into one file",
                chain_text(&chain[..3])
            ),
        ));
    }
    let toml::Value::String(base) = ext else {
        return Err(cx.err(
            "extends",
            None,
            "must be a path in quotes, relative to this file, e.g. extends = \"base.toml\"",
        ));
    };
    let base_path = path.parent().unwrap_or(Path::new("")).join(&base);
    if base_path.is_dir() {
        return Err(cx.err(
            "extends",
            None,
            format!(
                "the base `{base}` ({}) is a folder; name the scenario file (*.toml) to extend, relative to this file",
                base_path.display()
            ),
        ));
    }
    if base_path.exists() && !base_path.is_file() {
        return Err(cx.err(
            "extends",
            None,
            format!(
                "the base `{base}` ({}) is not a regular file (a FIFO, socket or device); name a scenario file (*.toml)",
                base_path.display()
            ),
        ));
    }
    if !base_path.is_file() {
        return Err(cx.err(
            "extends",
            None,
            format!(
                "the base `{base}` ({}) does not exist (chain: {}); correct the path, which is relative to this file",
                base_path.display(),
                chain_text(chain)
            ),
        ));
    }
    let base_text = read(&base_path, chain)?;
    let mut merged = resolve_table(&base_path, &base_text, chain, seen)?;
    merge(&mut merged, table);
    Ok(merged)
}

/// The table that holds the field at `path` (such as
/// `customers.openai.shift[0].target` or `renegotiation[1].hazard`) in
/// `table`, and the field's key in it.
fn parent_of<'a>(table: &'a mut toml::Table, path: &str) -> Result<(&'a mut toml::Table, String), String> {
    let segments: Vec<&str> = path.split('.').collect();
    let mut cur: &mut toml::Table = table;
    for (i, seg) in segments.iter().enumerate() {
        let (name, index) = match seg.split_once('[') {
            Some((n, rest)) => {
                let idx: usize = rest
                    .strip_suffix(']')
                    .and_then(|r| r.parse().ok())
                    .ok_or_else(|| format!("`{seg}` in `{path}`: write an index as name[0]"))?;
                (n, Some(idx))
            }
            None => (*seg, None),
        };
        let last = i + 1 == segments.len();
        let here = segments[..=i].join(".");
        if last && index.is_none() {
            return Ok((cur, name.to_string()));
        }
        let next = cur.get_mut(name).ok_or_else(|| format!("`{here}` does not exist in the scenario"))?;
        let next = match (next, index) {
            (toml::Value::Array(a), Some(k)) => {
                let n = a.len();
                a.get_mut(k).ok_or_else(|| format!("`{here}`: index {k} but there are {n} entries"))?
            }
            (v, None) => v,
            (_, Some(_)) => return Err(format!("`{here}` is not a list")),
        };
        match next {
            toml::Value::Table(t) if !last => cur = t,
            _ => return Err(format!("`{here}` is not a table, so `{path}` cannot be set")),
        }
    }
    Err(format!("`{path}` names a table, not a parameter"))
}

/// Set the number at a field path such as `customers.openai.shift[0].target`
/// or `renegotiation[1].hazard` in scenario text, replacing whatever was
/// there (a number or a distribution). Returns the new text.
pub fn set_number(text: &str, path: &str, value: f64) -> crate::Result<String> {
    set_value(text, path, toml::Value::Float(value))
}

/// Set the value at a field path in scenario text (a number, a string, or a
/// table such as `{ dist = "uniform", min = 0.1, max = 0.3 }`), replacing
/// whatever was there. Returns the new text, not yet validated.
///
/// ```
/// let text = "[scenario]\nname = \"a\"\n[[renegotiation]]\nhazard = 0.2\n";
/// let uniform: toml::Table = "dist = \"uniform\"\nmin = 0.1\nmax = 0.3".parse().unwrap();
/// let out = backlog_risk::scenario::set_value(text, "renegotiation[0].hazard", uniform.into()).unwrap();
/// let v = backlog_risk::scenario::get_value(&out, "renegotiation[0].hazard").unwrap().unwrap();
/// assert_eq!(v["max"].as_float(), Some(0.3));
/// ```
pub fn set_value(text: &str, path: &str, value: toml::Value) -> crate::Result<String> {
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| Error::invalid(e.message()))?;
    let (parent, key) = parent_of(&mut table, path).map_err(Error::Invalid)?;
    parent.insert(key, value);
    toml::to_string(&table).map_err(|e| Error::invalid(e.to_string()))
}

/// The value at a field path in scenario text, as written (a number, or a
/// table for a distribution); `None` when the field is absent (a default).
pub fn get_value(text: &str, path: &str) -> crate::Result<Option<toml::Value>> {
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| Error::invalid(e.message()))?;
    let (parent, key) = parent_of(&mut table, path).map_err(Error::Invalid)?;
    Ok(parent.get(&key).cloned())
}

/// The body of a scenario file that `extends` another (`extends` as it
/// will be written) under a new `name` (and `paths`, if given) and sets
/// each of `fields` as it is in `changed` (the base's resolved text with
/// the changes made). A field inside an array
/// (`customers.openai.shift[0].target`) carries the whole array, since an
/// `extends` file replaces arrays whole; any other field is set alone,
/// tables merging key by key.
///
/// ```
/// let base = "[scenario]\nname = \"a\"\n[[renegotiation]]\nhazard = 0.2\nseverity = 0.1\n[providers.x]\nrecognition = 0.1\n";
/// let changed = backlog_risk::scenario::set_number(base, "renegotiation[0].hazard", 0.3).unwrap();
/// let changed = backlog_risk::scenario::set_number(&changed, "providers.x.recognition", 0.2).unwrap();
/// let fields = ["renegotiation[0].hazard", "providers.x.recognition"];
/// let v = backlog_risk::scenario::variant_text(&changed, "a.toml", "a-v", Some(10), &fields).unwrap();
/// let t: toml::Table = v.parse().unwrap();
/// assert_eq!(t["extends"].as_str(), Some("a.toml"));
/// assert_eq!(t["scenario"]["paths"].as_integer(), Some(10));
/// assert_eq!(t["renegotiation"][0]["severity"].as_float(), Some(0.1), "the whole array");
/// assert_eq!(t["providers"]["x"]["recognition"].as_float(), Some(0.2));
/// ```
pub fn variant_text(
    changed: &str,
    extends: &str,
    name: &str,
    paths: Option<u64>,
    fields: &[&str],
) -> crate::Result<String> {
    let new: toml::Table = changed.parse().map_err(|e: toml::de::Error| Error::invalid(e.message()))?;
    let mut out = toml::Table::new();
    out.insert("extends".into(), toml::Value::String(extends.to_string()));
    let mut head = toml::Table::new();
    head.insert("name".into(), toml::Value::String(name.to_string()));
    if let Some(paths) = paths {
        head.insert("paths".into(), toml::Value::Integer(i64::try_from(paths).unwrap_or(i64::MAX)));
    }
    out.insert("scenario".into(), toml::Value::Table(head));
    for field in fields {
        copy_field(&new, &mut out, field)?;
    }
    toml::to_string(&out).map_err(|e| Error::invalid(e.to_string()))
}

/// Copy `field` of `new` into `out` at the same place: the whole array
/// when the path goes through one, the value alone otherwise.
fn copy_field(new: &toml::Table, out: &mut toml::Table, field: &str) -> crate::Result<()> {
    let missing = || Error::invalid(format!("{field}: not in the scenario"));
    let segments: Vec<&str> = field.split('.').collect();
    let (mut src, mut dst) = (new, out);
    for (i, seg) in segments.iter().enumerate() {
        let (key, indexed) = match seg.split_once('[') {
            Some((k, _)) => (k, true),
            None => (*seg, false),
        };
        if indexed || i + 1 == segments.len() {
            let v = src.get(key).ok_or_else(missing)?.clone();
            dst.insert(key.to_string(), v);
            return Ok(());
        }
        src = src.get(key).and_then(toml::Value::as_table).ok_or_else(missing)?;
        dst = dst
            .entry(key.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(missing)?;
    }
    Err(missing())
}

/// A plain number of a TOML value (a float or an integer).
fn number(v: &toml::Value) -> Option<f64> {
    v.as_float().or_else(|| v.as_integer().map(|i| i as f64))
}

/// Set an allocation share (`customers.C.allocation.P`) to `value` and
/// rescale the customer's other shares so that all sum to 1.
pub fn set_share_renormalised(text: &str, path: &str, value: f64) -> crate::Result<String> {
    if !(0.0..=1.0).contains(&value) {
        return Err(Error::invalid(format!("{value} is not a share: use values between 0 and 1")));
    }
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| Error::invalid(e.message()))?;
    let (parent, key) = parent_of(&mut table, path).map_err(Error::Invalid)?;
    let others: f64 = parent.iter().filter(|(k, _)| **k != key).filter_map(|(_, v)| number(v)).sum();
    if others <= 0.0 && value < 1.0 {
        return Err(Error::invalid(format!(
            "the other shares of `{path}` are all 0, so there is nothing to rescale to make the shares sum to 1"
        )));
    }
    for (k, v) in parent.iter_mut() {
        if *k != key
            && let Some(x) = number(v)
        {
            *v = toml::Value::Float(x * (1.0 - value) / others);
        }
    }
    parent.insert(key, toml::Value::Float(value));
    toml::to_string(&table).map_err(|e| Error::invalid(e.to_string()))
}

/// Merge `over` into `base`: tables key by key, anything else replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Validate scenario text; `file` is used in messages only.
pub fn parse(text: &str, file: &Path) -> Result<Scenario, ScenarioError> {
    let cx = Cx::new(file, text);
    validate(&cx, cx.deserialize()?)
}

/// The valid range `(lo, hi)` of each parameter of valid scenario text,
/// by field path (`customers.openai.shift[0].target`): what validation
/// accepts for the parameter's value or a distribution's reach. A bound
/// may be infinite (a half-life has no upper one); some depend on the
/// rest of the file (a shift's target on the share it may take).
pub fn valid_ranges(text: &str, file: &Path) -> Result<Vec<(String, f64, f64)>, ScenarioError> {
    let cx = Cx { ranges: Some(Default::default()), ..Cx::new(file, text) };
    validate(&cx, cx.deserialize()?)?;
    Ok(cx.ranges.map(|r| r.into_inner()).unwrap_or_default())
}

type Res<T> = Result<T, ScenarioError>;

/// The valid range of a parameter, for support checks.
#[derive(Debug, Clone, Copy)]
struct Valid<'a> {
    lo: f64,
    hi: f64,
    lo_open: bool,
    /// What the parameter is, e.g. "a share".
    what: &'a str,
}

// The ranges below admit every realistic input and keep every path of up
// to 400 quarters finite: demand indices stay below e^(2 * 100 + 3 * 10 *
// 6.8), backlogs below 1e6 * that, far from f64's 1.8e308 (README,
// "Validation ranges").
const SHARE: Valid = Valid { lo: 0.0, hi: 1.0, lo_open: false, what: "a share" };
/// Backlogs and bookings, $bn: up to $1,000 trillion.
pub const MAX_AMOUNT: f64 = 1e6;
const AMOUNT: Valid = Valid { lo: 0.0, hi: MAX_AMOUNT, lo_open: false, what: "an amount in $bn" };
/// Annual volatility of a demand index.
pub const MAX_VOLATILITY: f64 = 3.0;
const VOLATILITY: Valid = Valid { lo: 0.0, hi: MAX_VOLATILITY, lo_open: false, what: "an annual volatility" };
/// Renegotiation events per year.
pub const MAX_HAZARD: f64 = 100.0;
const HAZARD: Valid = Valid { lo: 0.0, hi: MAX_HAZARD, lo_open: false, what: "a hazard in events per year" };
const LOADING: Valid = Valid { lo: -1.0, hi: 1.0, lo_open: false, what: "a factor loading" };
/// Annual growth of a demand index, either way.
pub const MAX_GROWTH: f64 = 2.0;
const GROWTH: Valid = Valid { lo: -MAX_GROWTH, hi: MAX_GROWTH, lo_open: false, what: "an annual growth rate" };
const POSITIVE: Valid = Valid { lo: 0.0, hi: f64::INFINITY, lo_open: true, what: "a half-life" };

/// The deepest `extends` chain: a scenario and at most 15 bases.
pub const MAX_EXTENDS: usize = 16;

/// The longest scenario, provider or customer name: names become folder,
/// file and metric names (`share.CUSTOMER.PROVIDER`, `loss-PROVIDER.png`),
/// which file systems cap at 255 bytes.
pub const MAX_NAME: usize = 64;

/// Why `name` cannot be used, if it cannot.
pub(crate) fn name_problem(name: &str, what_for: &str) -> Option<String> {
    if name.len() > MAX_NAME {
        Some(format!(
            "`{}...` is too long ({} characters): use at most {MAX_NAME} ({what_for})",
            &name[..name.char_indices().nth(20).map_or(name.len(), |(i, _)| i)],
            name.chars().count()
        ))
    } else if !valid_name(name, "_-") {
        Some(format!("`{name}` is not a valid name: use only a-z, 0-9, `_` and `-` ({what_for})"))
    } else {
        None
    }
}

fn valid_name(s: &str, extra: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(c))
}

fn validate(cx: &Cx, raw: RawFile) -> Res<Scenario> {
    let meta = &raw.scenario;
    let name = meta.name.get_ref().clone();
    if let Some(problem) = name_problem(&name, "it names the output folder") {
        return Err(cx.err("scenario.name", Some(&meta.name.span()), problem));
    }
    let start = Quarter::parse(meta.start.get_ref()).ok_or_else(|| {
        cx.err(
            "scenario.start",
            Some(&meta.start.span()),
            format!("`{}` is not a quarter: write it as YYYYQn, e.g. \"2026Q1\"", meta.start.get_ref()),
        )
    })?;
    let quarters = int_in(cx, "scenario.quarters", &meta.quarters, 1, 400)? as u32;
    let paths = match &meta.paths {
        Some(p) => int_in(cx, "scenario.paths", p, 1, i64::MAX)? as u64,
        None => 100_000,
    };
    let seed = match &meta.seed {
        Some(s) => int_in(cx, "scenario.seed", s, 0, i64::MAX)? as u64,
        None => 0,
    };

    if raw.providers.is_empty() {
        return Err(cx.err("providers", None, "no providers: add at least one [providers.NAME] table"));
    }
    let pnames: Vec<String> = raw.providers.keys().cloned().collect();
    let mut providers = Vec::new();
    for (pname, rp) in &raw.providers {
        let f = format!("providers.{pname}");
        check_entity_name(cx, &f, pname)?;
        let o = &rp.other;
        let of = |k: &str| format!("{f}.other.{k}");
        let display = match &rp.display {
            Some(d)
                if d.get_ref().trim().is_empty()
                    || d.get_ref().chars().count() > 40
                    || d.get_ref().chars().any(char::is_control) =>
            {
                return Err(cx.err(
                    &format!("{f}.display"),
                    Some(&d.span()),
                    "must be 1 to 40 characters, printable (no newline, tab or other control character), e.g. display = \"Oracle (OCI)\"",
                ));
            }
            Some(d) => d.get_ref().trim().to_string(),
            None => pname.clone(),
        };
        providers.push(Provider {
            name: pname.clone(),
            display,
            recognition: param(cx, &format!("{f}.recognition"), &rp.recognition, SHARE)?,
            other_backlog: opt_param(cx, &of("backlog"), &o.backlog, AMOUNT)?,
            other: Demand {
                bookings: opt_param(cx, &of("bookings"), &o.bookings, AMOUNT)?,
                growth: opt_param(cx, &of("growth"), &o.growth, GROWTH)?,
                volatility: opt_param(cx, &of("volatility"), &o.volatility, VOLATILITY)?,
                beta: opt_param(cx, &of("beta"), &o.beta, LOADING)?,
            },
        });
    }

    let mut customers = Vec::new();
    for (cname, rc) in &raw.customers {
        let f = format!("customers.{cname}");
        check_entity_name(cx, &f, cname)?;
        customers.push(customer(cx, &f, cname, rc, &pnames)?);
    }
    let cnames: Vec<String> = raw.customers.keys().cloned().collect();

    let mut rules: Vec<Rule> = Vec::new();
    for (i, rr) in raw.renegotiation.iter().enumerate() {
        let f = format!("renegotiation[{i}]");
        let r = rr.get_ref();
        let c = lookup(cx, &format!("{f}.customer"), &r.customer, &cnames, "customer", "customers")?;
        let p = lookup(cx, &format!("{f}.provider"), &r.provider, &pnames, "provider", "providers")?;
        if let Some(j) = rules.iter().position(|o| o.customer == c && o.provider == p) {
            return Err(cx.err(
                &f,
                Some(&rr.span()),
                format!("a second rule for customer `{}` at provider `{}` (renegotiation[{j}] is the first): merge them, at most one rule per pair", cnames[c], pnames[p]),
            ));
        }
        let migrate = opt_param(cx, &format!("{f}.migrate"), &r.migrate, SHARE)?;
        let to = match &r.to {
            Some(to) => weights(cx, &format!("{f}.to"), to, &pnames, Some(p))?,
            None if migrate.support().1 > 0.0 => {
                return Err(cx.err(&format!("{f}.to"), Some(&rr.span()), "missing: `migrate` can be above 0, so say where the migrated backlog goes, e.g. to = { aws = 1.0 }"));
            }
            None => vec![0.0; pnames.len()],
        };
        let max_events = match &r.max_events {
            Some(m) => int_in(cx, &format!("{f}.max_events"), m, 0, 10_000)? as u32,
            None => 1,
        };
        rules.push(Rule {
            customer: c,
            provider: p,
            hazard: param(cx, &format!("{f}.hazard"), &r.hazard, HAZARD)?,
            severity: param(cx, &format!("{f}.severity"), &r.severity, SHARE)?,
            migrate,
            to,
            max_events,
        });
    }

    let focus = match &meta.focus {
        Some(f) => lookup(cx, "scenario.focus", f, &pnames, "provider", "providers")?,
        None => 0,
    };
    let mut sc = Scenario {
        name,
        start,
        quarters,
        paths,
        seed,
        providers,
        customers,
        rules,
        focus,
        sampling: Sampling::Mc,
        correlations: vec![],
    };
    if let Some(v) = &meta.sampling {
        sc.sampling = Sampling::parse(v.get_ref()).ok_or_else(|| {
            cx.err(
                "scenario.sampling",
                Some(&v.span()),
                format!("`{}` is not a sampling design: use \"mc\", \"lhs\" or \"sobol\"", v.get_ref()),
            )
        })?;
    }
    sc.correlations = correlation::validate(cx, &raw.correlation, &sc)?;
    // Within the ranges above this always holds; it is checked all the same,
    // so that no scenario reaches the engine with a plan that overflows.
    let engine = crate::engine::Engine::new(&sc);
    let plan = engine.plan();
    if let Some(k) = plan.metrics.iter().chain(&plan.backlog_path).position(|x| !x.is_finite()) {
        let what = sc.metric_names().get(k).cloned().unwrap_or_else(|| "the backlog".to_string());
        return Err(cx.err(
            "scenario",
            None,
            format!(
                "the plan path overflows ({what} is not a finite number): lower the growth rates, bookings or backlogs"
            ),
        ));
    }
    Ok(sc)
}

fn customer(cx: &Cx, f: &str, cname: &str, rc: &raw::RawCustomer, pnames: &[String]) -> Res<Customer> {
    let np = pnames.len();
    let bookings = opt_param(cx, &format!("{f}.bookings"), &rc.bookings, AMOUNT)?;
    let mut backlog = vec![Dist::Fixed(0.0); np];
    for (pn, v) in &rc.backlog {
        let field = format!("{f}.backlog.{pn}");
        let p = index_of(cx, &field, v.span(), pn, pnames, "provider", "providers")?;
        backlog[p] = param(cx, &field, v, AMOUNT)?;
    }
    let allocation = match &rc.allocation {
        Some(a) => {
            let field = format!("{f}.allocation");
            let shares = shares(cx, &field, a, pnames)?;
            let sum: f64 = shares.iter().sum();
            if !((sum - 1.0).abs() <= SUM_TOLERANCE) {
                return Err(cx.err(
                    &field,
                    Some(&a.span()),
                    format!("the shares sum to {sum}, not 1: adjust them so they add up to 1"),
                ));
            }
            shares
        }
        None if bookings.support().1 > 0.0 => {
            return Err(cx.err(&format!("{f}.allocation"), None, format!("missing: customer `{cname}` books new commitments, so give their split across providers, e.g. allocation = {{ {} = 1.0 }}", pnames[0])));
        }
        None => vec![0.0; np],
    };
    let mut shifts: Vec<Shift> = Vec::new();
    for (i, rs) in rc.shift.iter().enumerate() {
        let sf = format!("{f}.shift[{i}]");
        let s = rs.get_ref();
        let from = lookup(cx, &format!("{sf}.from"), &s.from, pnames, "provider", "providers")?;
        if let Some(j) = shifts.iter().position(|o| o.from == from) {
            return Err(cx.err(&sf, Some(&rs.span()), format!("a second shift away from `{}` ({f}.shift[{j}] is the first): merge them, at most one shift per `from` provider", pnames[from])));
        }
        let cap = allocation[from];
        let what = format!("a target share (at most the starting allocation to {}, {cap})", pnames[from]);
        let target =
            param(cx, &format!("{sf}.target"), &s.target, Valid { lo: 0.0, hi: cap, lo_open: false, what: &what })?;
        shifts.push(Shift {
            from,
            target,
            half_life: param(cx, &format!("{sf}.half_life"), &s.half_life, POSITIVE)?,
            to: weights(cx, &format!("{sf}.to"), &s.to, pnames, Some(from))?,
        });
    }
    Ok(Customer {
        name: cname.to_string(),
        demand: Demand {
            bookings,
            growth: opt_param(cx, &format!("{f}.growth"), &rc.growth, GROWTH)?,
            volatility: opt_param(cx, &format!("{f}.volatility"), &rc.volatility, VOLATILITY)?,
            beta: opt_param(cx, &format!("{f}.beta"), &rc.beta, LOADING)?,
        },
        backlog,
        allocation,
        shifts,
    })
}

fn check_entity_name(cx: &Cx, field: &str, name: &str) -> Res<()> {
    match name_problem(name, "it is part of metric and file names such as loss.NAME") {
        None => Ok(()),
        Some(problem) => Err(cx.err(field, None, problem)),
    }
}

fn int_in(cx: &Cx, field: &str, v: &S<Whole>, lo: i64, hi: i64) -> Res<i64> {
    let range = format!("use a whole number between {lo} and {hi}");
    let x = v.get_ref().value().map_err(|m| cx.err(field, Some(&v.span()), format!("{m}: {range}")))?;
    if x < lo as i128 || x > hi as i128 {
        return Err(cx.err(field, Some(&v.span()), format!("{x} is out of range: {range}")));
    }
    Ok(x as i64)
}

fn index_of(
    cx: &Cx,
    field: &str,
    span: Range<usize>,
    name: &str,
    names: &[String],
    kind: &str,
    table: &str,
) -> Res<usize> {
    names.iter().position(|n| n == name).ok_or_else(|| {
        cx.err(
            field,
            Some(&span),
            format!("unknown {kind} `{name}`: define [{table}.{name}] or use one of: {}", names.join(", ")),
        )
    })
}

fn lookup(cx: &Cx, field: &str, v: &S<String>, names: &[String], kind: &str, table: &str) -> Res<usize> {
    index_of(cx, field, v.span(), v.get_ref(), names, kind, table)
}

/// Plain shares per provider, each in [0, 1].
fn shares(cx: &Cx, field: &str, m: &S<IndexMap<String, S<f64>>>, pnames: &[String]) -> Res<Vec<f64>> {
    let mut out = vec![0.0; pnames.len()];
    for (pn, v) in m.get_ref() {
        let kf = format!("{field}.{pn}");
        let p = index_of(cx, &kf, v.span(), pn, pnames, "provider", "providers")?;
        let x = *v.get_ref();
        if !(0.0..=1.0).contains(&x) {
            return Err(cx.err(&kf, Some(&v.span()), format!("{x} is not a share: use a number between 0 and 1")));
        }
        out[p] = x;
    }
    Ok(out)
}

/// Destination weights per provider, normalised to sum 1; `exclude` is the
/// provider the amount leaves, which cannot also receive it.
fn weights(
    cx: &Cx,
    field: &str,
    m: &S<IndexMap<String, S<f64>>>,
    pnames: &[String],
    exclude: Option<usize>,
) -> Res<Vec<f64>> {
    let mut out = vec![0.0; pnames.len()];
    for (pn, v) in m.get_ref() {
        let kf = format!("{field}.{pn}");
        let p = index_of(cx, &kf, v.span(), pn, pnames, "provider", "providers")?;
        if Some(p) == exclude {
            return Err(cx.err(
                &kf,
                Some(&v.span()),
                format!("`{pn}` is the provider the amount leaves: a destination must be another provider"),
            ));
        }
        let x = *v.get_ref();
        if !(x.is_finite() && x >= 0.0) {
            return Err(cx.err(&kf, Some(&v.span()), format!("weight {x} must be a finite number >= 0")));
        }
        out[p] = x;
    }
    let total: f64 = out.iter().sum();
    if !(total > 0.0) {
        return Err(cx.err(
            field,
            Some(&m.span()),
            "no destination has a weight above 0: name at least one provider, e.g. { aws = 1.0 }",
        ));
    }
    out.iter_mut().for_each(|w| *w /= total);
    Ok(out)
}

fn opt_param(cx: &Cx, field: &str, v: &Option<S<RawParam>>, valid: Valid) -> Res<Dist> {
    match v {
        Some(v) => param(cx, field, v, valid),
        None => Ok(Dist::Fixed(0.0)),
    }
}

/// `x` with at most 6 significant digits: `-0.24`, not `-0.24000000000000002`.
fn short(x: f64) -> String {
    let s = format!("{x:.6e}");
    s.parse::<f64>().map_or(s, |v| v.to_string())
}

/// Build a parameter's distribution and check its support against `valid`.
fn param(cx: &Cx, field: &str, v: &S<RawParam>, valid: Valid) -> Res<Dist> {
    if let Some(ranges) = &cx.ranges {
        ranges.borrow_mut().push((field.to_string(), valid.lo, valid.hi));
    }
    let span = v.span();
    let fail = |m: String| cx.err(field, Some(&span), m);
    let d = match v.get_ref() {
        RawParam::Number(x) => Dist::fixed(*x).map_err(|e| fail(e.0))?,
        RawParam::Dist(rd) => dist(rd).map_err(fail)?,
    };
    // What the draws can reach (a normal without truncation stops at 6.8 sd).
    let (lo, hi) = d.reach();
    let is_dist = !d.is_fixed();
    let noun = if is_dist { "the distribution can take values" } else { "the value is" };
    let below =
        if valid.lo_open { !(lo > valid.lo || (lo == valid.lo && d.lower_bound_open())) } else { !(lo >= valid.lo) };
    if below {
        let fix = if let Dist::Normal { .. } = d {
            "add `min` truncation".to_string()
        } else if is_dist {
            "raise its lower end".to_string()
        } else {
            "raise it".to_string()
        };
        let rel = if valid.lo_open { "must be above" } else { "must be at least" };
        let shown = if d.support().0.is_infinite() {
            format!("without a lower bound (its draws reach {})", short(lo))
        } else {
            format!("down to {}", short(lo))
        };
        let shown = if is_dist { format!("{noun} {shown}") } else { format!("{noun} {lo}") };
        return Err(fail(format!("{shown}, but {} {rel} {}: {fix}", valid.what, valid.lo)));
    }
    if !(hi <= valid.hi) {
        let fix = if let Dist::Normal { .. } = d {
            "add `max` truncation".to_string()
        } else if is_dist {
            "lower its upper end".to_string()
        } else {
            "lower it".to_string()
        };
        let shown = if d.support().1.is_infinite() {
            format!("without an upper bound (its draws reach {})", short(hi))
        } else {
            format!("up to {}", short(hi))
        };
        let shown = if is_dist { format!("{noun} {shown}") } else { format!("{noun} {hi}") };
        return Err(fail(format!("{shown}, but {} must be at most {}: {fix}", valid.what, valid.hi)));
    }
    Ok(d)
}

/// Turn a distribution table into a [`Dist`], naming missing or foreign fields.
fn dist(r: &RawDist) -> Result<Dist, String> {
    let fam = r.dist.as_str();
    let (needs, optional): (&[&str], &[&str]) = match fam {
        "fixed" => (&["mean"], &[]),
        "uniform" => (&["min", "max"], &[]),
        "triangular" => (&["min", "mode", "max"], &[]),
        "pert" => (&["min", "mode", "max"], &["lambda"]),
        "normal" => (&["mean", "sd"], &["min", "max"]),
        "lognormal" => (&["mean", "sd"], &[]),
        "beta" => (&["alpha", "beta"], &["min", "max"]),
        "discrete" => (&["values", "weights"], &[]),
        other => {
            return Err(format!("unknown distribution `{other}`: use one of {}", FAMILIES.join(", ")));
        }
    };
    let present = [
        ("min", r.min.is_some()),
        ("max", r.max.is_some()),
        ("mode", r.mode.is_some()),
        ("lambda", r.lambda.is_some()),
        ("mean", r.mean.is_some()),
        ("sd", r.sd.is_some()),
        ("alpha", r.alpha.is_some()),
        ("beta", r.beta.is_some()),
        ("values", r.values.is_some()),
        ("weights", r.weights.is_some()),
    ];
    let takes = needs.iter().chain(optional).copied().collect::<Vec<_>>().join(", ");
    for (k, here) in present {
        if here && !needs.contains(&k) && !optional.contains(&k) {
            return Err(format!("`{k}` is not a field of {fam} (it takes {takes}): remove it"));
        }
        if !here && needs.contains(&k) {
            return Err(format!("{fam} needs `{k}` (it takes {takes})"));
        }
    }
    let g = |o: Option<f64>| o.unwrap_or(f64::NAN);
    let res = match fam {
        "fixed" => Dist::fixed(g(r.mean)),
        "uniform" => Dist::uniform(g(r.min), g(r.max)),
        "triangular" => Dist::triangular(g(r.min), g(r.mode), g(r.max)),
        "pert" => Dist::pert(g(r.min), g(r.mode), g(r.max), r.lambda.unwrap_or(4.0)),
        "normal" => {
            Dist::normal(g(r.mean), g(r.sd), r.min.unwrap_or(f64::NEG_INFINITY), r.max.unwrap_or(f64::INFINITY))
        }
        "lognormal" => Dist::lognormal(g(r.mean), g(r.sd)),
        "beta" => Dist::beta(g(r.alpha), g(r.beta), r.min.unwrap_or(0.0), r.max.unwrap_or(1.0)),
        _ => Dist::discrete(r.values.clone().unwrap_or_default(), r.weights.clone().unwrap_or_default()),
    };
    res.map_err(|e| e.0)
}
