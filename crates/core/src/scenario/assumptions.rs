//! The assumptions of a scenario as a report lists them: every parameter by
//! the field path a file writes it under, its distribution and mean, and the
//! comment the file gives it (the `# ...` lines just above the key, or the
//! comment at the end of its line; the nearest file of an `extends` chain
//! wins).

use std::collections::HashMap;
use std::path::PathBuf;

use toml_edit::{DocumentMut, Item, TableLike};

use crate::dist::Dist;
use crate::model::Scenario;

/// One parameter of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Assumption {
    /// Field path as in the file: `customers.openai.shift[0].target`.
    pub field: String,
    /// The distribution, as [`Dist`]'s `Display` writes it.
    pub dist: String,
    pub mean: f64,
    /// Whether it is drawn per path (not a plain number).
    pub uncertain: bool,
    /// The file's comment on it, if any.
    pub source: Option<String>,
}

/// A group of assumptions: one provider, customer, shift or rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// `provider azure (Microsoft Azure)`, `customer openai`, ...
    pub title: String,
    /// The comment above the group's table header in the file, if any.
    pub note: Option<String>,
    pub rows: Vec<Assumption>,
}

/// Every assumption of a scenario, grouped, and the comment at the top of
/// its file (what the scenario is about).
#[derive(Debug, Clone, PartialEq)]
pub struct Assumptions {
    pub about: Option<String>,
    pub groups: Vec<Group>,
    /// Parameters left at their default 0 and not listed.
    pub omitted: usize,
}

/// The assumptions of `sc`, with comments read from the files of its
/// `extends` chain (`chain`, the scenario's own file first). A file that
/// cannot be read again, or does not parse, gives no comments.
pub fn assumptions(sc: &Scenario, chain: &[PathBuf]) -> Assumptions {
    let mut notes: HashMap<String, String> = HashMap::new();
    let mut about = None;
    for file in chain.iter().rev() {
        let Some(doc) = std::fs::read_to_string(file).ok().and_then(|t| t.parse::<DocumentMut>().ok()) else {
            continue;
        };
        // Nearer files come later and override.
        collect(doc.as_table(), "", &mut notes);
        // The file's opening comment: above `[scenario]`, or above an
        // `extends` line that comes first.
        let top = doc.as_table();
        let opening = top
            .get_key_value("extends")
            .and_then(|(k, _)| lines(k.leaf_decor().prefix()))
            .or_else(|| doc.get("scenario").and_then(Item::as_table).and_then(|t| lines(t.decor().prefix())));
        if opening.is_some() {
            about = opening;
        }
    }
    let mut omitted = 0;
    let mut groups = Vec::new();
    // Inline tables whose comment was shown on an earlier row.
    let mut shown: Vec<String> = Vec::new();
    let mut group = |title: String, table: &str, params: Vec<(String, &Dist)>| {
        let rows: Vec<Assumption> = params
            .into_iter()
            .filter(|(_, d)| {
                let zero = matches!(d, Dist::Fixed(v) if *v == 0.0);
                omitted += usize::from(zero);
                !zero
            })
            .map(|(field, d)| Assumption {
                source: match lookup(&notes, &field) {
                    Some((_, Some(table))) if shown.contains(&table) => Some("as above".to_string()),
                    Some((note, table)) => {
                        shown.extend(table);
                        Some(note)
                    }
                    None => None,
                },
                dist: d.to_string(),
                mean: d.mean(),
                uncertain: !d.is_fixed(),
                field,
            })
            .collect();
        if !rows.is_empty() {
            groups.push(Group { title, note: notes.get(table).cloned(), rows });
        }
    };
    for p in &sc.providers {
        let at = format!("providers.{}", p.name);
        let f = |k: &str| format!("{at}.{k}");
        let title = if p.display == p.name {
            format!("provider {}", p.name)
        } else {
            format!("provider {} ({})", p.name, p.display)
        };
        group(
            title,
            &at,
            vec![
                (f("recognition"), &p.recognition),
                (f("other.backlog"), &p.other_backlog),
                (f("other.bookings"), &p.other.bookings),
                (f("other.growth"), &p.other.growth),
                (f("other.volatility"), &p.other.volatility),
                (f("other.beta"), &p.other.beta),
            ],
        );
    }
    for c in &sc.customers {
        let at = format!("customers.{}", c.name);
        let f = |k: &str| format!("{at}.{k}");
        let mut params = vec![
            (f("bookings"), &c.demand.bookings),
            (f("growth"), &c.demand.growth),
            (f("volatility"), &c.demand.volatility),
            (f("beta"), &c.demand.beta),
        ];
        params.extend(sc.providers.iter().zip(&c.backlog).map(|(p, d)| (f(&format!("backlog.{}", p.name)), d)));
        group(format!("customer {}", c.name), &at, params);
        for (i, s) in c.shifts.iter().enumerate() {
            let at = format!("{at}.shift[{i}]");
            let title = format!("shift of customer {} off {}", c.name, sc.providers[s.from].name);
            group(title, &at, vec![(format!("{at}.target"), &s.target), (format!("{at}.half_life"), &s.half_life)]);
        }
    }
    for (i, r) in sc.rules.iter().enumerate() {
        let at = format!("renegotiation[{i}]");
        let title =
            format!("renegotiation of customer {} at {}", sc.customers[r.customer].name, sc.providers[r.provider].name);
        group(
            title,
            &at,
            vec![
                (format!("{at}.hazard"), &r.hazard),
                (format!("{at}.severity"), &r.severity),
                (format!("{at}.migrate"), &r.migrate),
            ],
        );
    }
    let params = sc.parameters();
    for (i, c) in sc.correlations.iter().enumerate() {
        let at = format!("correlation[{i}]");
        let mut rows = Vec::new();
        for (a, &pa) in c.params.iter().enumerate() {
            for (b, &pb) in c.params.iter().enumerate().skip(a + 1) {
                rows.push(Assumption {
                    field: format!("{} ~ {}", params[pa].path, params[pb].path),
                    dist: format!("rank correlation {}", c.rank[a][b]),
                    mean: f64::NAN,
                    uncertain: false,
                    source: None,
                });
            }
        }
        let title = format!("rank correlations ({at}, Gaussian copula)");
        groups.push(Group { title, note: notes.get(&at).cloned(), rows });
    }
    Assumptions { about, groups, omitted }
}

/// The comment on `field`, or on the inline table that holds it
/// (`other = { ... }` with a comment above applies to each of its keys),
/// with that table's path.
fn lookup(notes: &HashMap<String, String>, field: &str) -> Option<(String, Option<String>)> {
    notes.get(field).map(|n| (n.clone(), None)).or_else(|| {
        let (parent, _) = field.rsplit_once('.')?;
        let leaf = parent.rsplit('.').next()?;
        let note = notes.get(parent).filter(|_| leaf == "other")?;
        Some((note.clone(), Some(parent.to_string())))
    })
}

/// Record the comments of every key and table under `table`, whose path is
/// `path`, into `out`.
fn collect(table: &dyn TableLike, path: &str, out: &mut HashMap<String, String>) {
    for (name, item) in table.iter() {
        let full = if path.is_empty() { name.to_string() } else { format!("{path}.{name}") };
        let key_note = table.get_key_value(name).and_then(|(k, _)| comment(k.leaf_decor().prefix()));
        match item {
            Item::Table(t) => {
                if let Some(n) = comment(t.decor().prefix()) {
                    out.insert(full.clone(), n);
                }
                collect(t, &full, out);
            }
            Item::ArrayOfTables(a) => {
                for (i, t) in a.iter().enumerate() {
                    let at = format!("{full}[{i}]");
                    if let Some(n) = comment(t.decor().prefix()) {
                        out.insert(at.clone(), n);
                    }
                    collect(t, &at, out);
                }
            }
            Item::Value(v) => {
                let trailing = comment(v.decor().suffix());
                if let Some(n) = [key_note, trailing].into_iter().flatten().reduce(|a, b| format!("{a} {b}")) {
                    out.insert(full.clone(), n);
                }
                if let Some(t) = v.as_inline_table() {
                    collect(t, &full, out);
                }
            }
            Item::None => {}
        }
    }
}

/// Every `#` comment line of a decor, with line breaks kept (a blank
/// comment line `#` marks a paragraph).
fn lines(raw: Option<&toml_edit::RawString>) -> Option<String> {
    let text = raw?.as_str()?;
    let kept: Vec<&str> =
        text.lines().filter_map(|l| l.trim().strip_prefix('#')).map(|c| c.strip_prefix(' ').unwrap_or(c)).collect();
    let joined = kept.join("\n").trim().to_string();
    (!joined.is_empty()).then_some(joined)
}

/// The last block of `#` comment lines of a decor (those right above the
/// item, after any blank line), joined into one line; `None` when there is
/// none.
fn comment(raw: Option<&toml_edit::RawString>) -> Option<String> {
    let text = raw?.as_str()?;
    let mut block: Vec<&str> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(c) = line.strip_prefix('#') {
            block.push(c.trim());
        } else if line.is_empty() {
            block.clear();
        }
    }
    // A trailing comment (`= 0.2  # source`) has no newline after it.
    let joined = block.into_iter().filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
    (!joined.is_empty()).then_some(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_read_from_keys_tables_and_line_ends() {
        let text = r#"# What this is about.
# Second line.

[scenario]
name = "t"
start = "2026Q1"
quarters = 4

# The hyperscaler.
[providers.azure]
recognition = 0.069   # 10-K, 2025
# ASSUMPTION: other demand.
other = { backlog = 100.0, growth = { dist = "uniform", min = 0.0, max = 0.2 } }

[customers.openai]
backlog = { azure = 50.0 }

[[renegotiation]]
customer = "openai"
provider = "azure"

# Per year.
hazard = 0.1
severity = 0.2
"#;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(&file, text).unwrap();
        let sc = crate::scenario::load(&file).unwrap();
        let a = assumptions(&sc, &[file]);
        assert_eq!(a.about.as_deref(), Some("What this is about.\nSecond line."));
        let azure = &a.groups[0];
        assert_eq!(azure.title, "provider azure");
        assert_eq!(azure.note.as_deref(), Some("The hyperscaler."));
        let row = |g: &Group, f: &str| g.rows.iter().find(|r| r.field == f).cloned().unwrap();
        assert_eq!(row(azure, "providers.azure.recognition").source.as_deref(), Some("10-K, 2025"));
        let growth = row(azure, "providers.azure.other.growth");
        assert_eq!((growth.dist.as_str(), growth.mean, growth.uncertain), ("uniform 0 .. 0.2", 0.1, true));
        assert_eq!(row(azure, "providers.azure.other.backlog").source.as_deref(), Some("ASSUMPTION: other demand."));
        assert_eq!(growth.source.as_deref(), Some("as above"), "an inline table's comment is shown once");
        let rule = a.groups.iter().find(|g| g.title.starts_with("renegotiation")).unwrap();
        assert_eq!(row(rule, "renegotiation[0].hazard").source.as_deref(), Some("Per year."));
        assert_eq!(row(rule, "renegotiation[0].severity").source, None, "no comment of its own");
        assert!(a.omitted > 0, "the zero defaults are counted, not listed");
        assert!(!azure.rows.iter().any(|r| r.field.ends_with("other.beta")));
    }
}
