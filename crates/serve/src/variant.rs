//! "Save as variant": a scenario file that `extends` the page's file and
//! sets only the changed fields, so that `backlog-risk run` on it gives the
//! page's figures (the same seed, the same paths, the same draws).

use backlog_risk::Error;

use crate::Entry;

/// The variant of `e` whose merged text with the changes applied is
/// `changed`, the changed fields being `fields`, run on `paths` paths. A
/// field inside an array (`customers.openai.shift[0].target`) carries the
/// whole array, since an `extends` file replaces arrays whole; any other
/// field is set alone, tables merging key by key.
pub fn variant_toml(e: &Entry, changed: &str, fields: &[&str], paths: u64) -> Result<String, Error> {
    let new: toml::Table = changed.parse().map_err(|e: toml::de::Error| Error::Invalid(e.message().to_string()))?;
    let mut out = toml::Table::new();
    out.insert("extends".into(), toml::Value::String(e.file_name.clone()));
    let mut head = toml::Table::new();
    head.insert("name".into(), toml::Value::String(format!("{}-variant", e.name)));
    head.insert("paths".into(), toml::Value::Integer(i64::try_from(paths).unwrap_or(i64::MAX)));
    out.insert("scenario".into(), toml::Value::Table(head));
    for field in fields {
        copy_field(&new, &mut out, field)?;
    }
    let body = toml::to_string(&out).map_err(|e| Error::Invalid(e.to_string()))?;
    let fields = fields.join(", ");
    Ok(format!(
        "# A variant of {file} saved from `backlog-risk serve`: it changes {fields}.\n\
         # Save it in the folder of {file}; `backlog-risk run` on it gives the page's\n\
         # figures (seed {seed}, {paths} paths, the same draws path by path).\n\n{body}",
        file = e.file_name,
        seed = e.scenario.seed,
    ))
}

/// Copy `field` of `new` into `out` at the same place: the whole array
/// when the path goes through one, the value alone otherwise.
fn copy_field(new: &toml::Table, out: &mut toml::Table, field: &str) -> Result<(), Error> {
    let missing = || Error::Invalid(format!("{field}: not in the scenario"));
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
