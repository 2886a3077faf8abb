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
    let name = format!("{}-variant", e.name);
    let body = backlog_risk::scenario::variant_text(changed, &e.file_name, &name, Some(paths), fields)?;
    let fields = fields.join(", ");
    Ok(format!(
        "# A variant of {file} saved from `backlog-risk serve`: it changes {fields}.\n\
         # Save it in the folder of {file}; `backlog-risk run` on it gives the page's\n\
         # figures (seed {seed}, {paths} paths, the same draws path by path).\n\n{body}",
        file = e.file_name,
        seed = e.scenario.seed,
    ))
}
