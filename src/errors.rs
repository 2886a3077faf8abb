//! How the command line shows the core's errors: an option of the API is
//! named by its flag (`metric` -> `--metric`), also where a message refers
//! to another option (``option `renormalise` `` -> `--renormalise`). Every
//! option name of the core's API is its flag's name here.

use backlog_risk::Error;

/// The text of a core error as a user of the command line reads it.
pub fn core_text(e: &Error) -> String {
    match e {
        Error::Option { option, message } => flags(&format!("--{} {message}", flag(option))),
        // The command line cancels only on Ctrl-C.
        Error::Cancelled => "interrupted by Ctrl-C before its results were written".to_string(),
        e => flags(&e.to_string()),
    }
}

/// The text of an error with its causes (`context: cause: cause`), each
/// error of the core as [`core_text`] shows it.
pub fn text(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        match cause.downcast_ref::<Error>() {
            Some(core) => {
                // A core error's text already holds its sources'.
                parts.push(core_text(core));
                break;
            }
            None => parts.push(cause.to_string()),
        }
    }
    parts.join(": ")
}

/// The message of a core error for a flag's value parser: clap names the
/// flag itself.
pub fn value_text(e: Error) -> String {
    match e {
        Error::Option { message, .. } => flags(&message),
        e => flags(&e.to_string()),
    }
}

fn flag(option: &str) -> String {
    option.replace('_', "-")
}

/// Every ``option `NAME` `` of a message (or a note) as `--NAME`.
pub fn flags(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("option `") {
        let after = &rest[at + "option `".len()..];
        match after.find('`') {
            Some(end) if after[..end].chars().all(|c| c.is_ascii_lowercase() || c == '_') && end > 0 => {
                out.push_str(&rest[..at]);
                out.push_str("--");
                out.push_str(&flag(&after[..end]));
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str(&rest[..at + "option `".len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_shown_as_flags() {
        let e = Error::option("vary", "x: give option `renormalise` to rescale; see option `chart_size`");
        assert_eq!(core_text(&e), "--vary x: give --renormalise to rescale; see --chart-size");
        assert_eq!(value_text(e), "x: give --renormalise to rescale; see --chart-size");
        // Not an option reference: kept as written.
        assert_eq!(flags("the option `Not An Option` and option `"), "the option `Not An Option` and option `");
        let wrapped = anyhow::Error::new(Error::option("metric", "loss.b: no such metric")).context("a.toml");
        assert_eq!(text(&wrapped), "a.toml: --metric loss.b: no such metric");
    }
}
