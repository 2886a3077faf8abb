//! The explorer's pages: the start page (the scenarios) and a scenario's
//! page (its controls and charts, drawn by `static/explorer.js` from the
//! numbers the server sends). Everything is served by this process: no
//! script, style or font from any other host, so the page works offline.

use backlog_risk::writers::html::esc;

use crate::{Entry, Explorer};

/// The page's script.
pub const SCRIPT: &str = include_str!("../static/explorer.js");

const STYLE: &str = include_str!("../static/explorer.css");

fn shell(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"icon\" href=\"data:,\"><title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>\n",
        esc(title)
    )
}

/// The start page: every scenario, linked to its page.
pub fn index(x: &Explorer) -> String {
    let items: String = x
        .entries()
        .iter()
        .map(|e| {
            let about = e.assumptions.about.as_deref().map(|a| format!("<p>{}</p>", esc(a))).unwrap_or_default();
            format!(
                "<li><a href=\"/s/{n}\">{n}</a> <span class=\"file\">{f}</span>{about}</li>",
                n = esc(&e.name),
                f = esc(&e.file_name)
            )
        })
        .collect();
    shell(
        "backlog-risk explorer",
        &format!(
            "<header><h1>backlog-risk explorer</h1><p>Move an assumption and see the risk move, paired path by path against the file.</p></header>\
             <main><ul class=\"scenarios\">{items}</ul></main>"
        ),
    )
}

/// A scenario's page; the script fills it from `/api/scenario/NAME`.
pub fn scenario(e: &Entry) -> String {
    shell(
        &format!("{} - backlog-risk explorer", e.name),
        &format!(
            "<header><a href=\"/\">scenarios</a> <h1>{n}</h1> <span class=\"file\">{f}</span></header>\
             <main id=\"app\" data-scenario=\"{n}\"><p id=\"status\">loading...</p></main>\
             <script src=\"/explorer.js\"></script>",
            n = esc(&e.name),
            f = esc(&e.file_name)
        ),
    )
}
