//! `report.html` and `index.html` open in headless Chromium without a
//! console message and without one request leaving the file; a screenshot
//! is taken. Chromium is installed by `scripts/install-chromium.sh` when
//! missing; where it cannot be, the browser part is skipped with a message
//! (the content checks still run).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::cmd;

/// A Chromium on the PATH, installing Debian's package when none is there
/// (unless `BACKLOG_RISK_NO_INSTALL` is set).
fn chromium() -> Option<PathBuf> {
    let find = || {
        ["chromium", "chromium-browser", "google-chrome"].iter().find_map(|name| {
            let out = Command::new("sh").arg("-c").arg(format!("command -v {name}")).output().ok()?;
            let path = String::from_utf8(out.stdout).ok()?.trim().to_string();
            (out.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
        })
    };
    if let Some(p) = find() {
        return Some(p);
    }
    if std::env::var_os("BACKLOG_RISK_NO_INSTALL").is_none() {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/install-chromium.sh");
        let _ = Command::new(script).status();
    }
    find()
}

/// What Chromium reported on opening `page`: console messages, and the
/// requests the page made for anything but the file itself and `data:`.
struct Visit {
    console: Vec<String>,
    requests: Vec<String>,
    screenshot_bytes: u64,
    chart_width: usize,
}

fn visit(browser: &Path, page: &Path, work: &Path) -> Visit {
    visit_at(browser, page, work, 1000)
}

/// The widest horizontal run of the charts' border colour (#e1e6eb) in a
/// screenshot: the width at which a chart is shown, in pixels.
fn chart_width_shown(shot: &Path) -> usize {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples();
    let (w, h) = (info.width as usize, info.height as usize);
    let mut widest = 0;
    for y in 0..h {
        let mut run = 0;
        for x in 0..w {
            let p = &buf[(y * w + x) * px..(y * w + x) * px + 3];
            run = if p == [225, 230, 235] { run + 1 } else { 0 };
            widest = widest.max(run);
        }
    }
    widest
}

fn visit_at(browser: &Path, page: &Path, work: &Path, window: u32) -> Visit {
    let netlog = work.join("netlog.json");
    let shot = work.join("shot.png");
    let _ = std::fs::remove_file(&shot);
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--enable-logging=stderr",
            "--v=0",
            "--hide-scrollbars",
        ])
        .arg(format!("--window-size={window},2400"))
        .arg(format!("--user-data-dir={}", work.join("profile").display()))
        .arg(format!("--log-net-log={}", netlog.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed on {}: {stderr}", page.display());
    let console = stderr.lines().filter(|l| l.contains(":CONSOLE")).map(str::to_string).collect();
    // Requests the page made (its network isolation key is the file's
    // origin), not the browser's own background traffic.
    let log: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&netlog).unwrap()).unwrap();
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].as_u64().unwrap();
    let requests = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"].as_u64() == Some(start_job))
        .filter(|e| e["params"]["network_isolation_key"].as_str().is_some_and(|k| k.contains("file://")))
        .filter_map(|e| e["params"]["url"].as_str())
        .filter(|u| !u.starts_with("file:") && !u.starts_with("data:"))
        .map(str::to_string)
        .collect();
    let screenshot_bytes = std::fs::metadata(&shot).map_or(0, |m| m.len());
    let chart_width = if screenshot_bytes > 0 { chart_width_shown(&shot) } else { 0 };
    Visit { console, requests, screenshot_bytes, chart_width }
}

#[test]
fn reports_are_self_contained_and_open_cleanly_in_chromium() {
    let out = tempfile::tempdir().unwrap();
    cmd()
        .args([
            "run",
            "scenarios/openai-shift.toml",
            "scenarios/coreweave-concentration.toml",
            "--paths",
            "2000",
            "--chart-size",
            "800x500",
            "--quiet",
            "--out",
        ])
        .arg(out.path())
        .assert()
        .success();
    let report = out.path().join("openai-shift/report.html");
    let index = out.path().join("index.html");
    let html = std::fs::read_to_string(&report).unwrap();

    // Content: the headline, the assumptions with their file comments, the
    // charts embedded, the tables; nothing fetched from elsewhere.
    for part in [
        "Content-Security-Policy",
        "openai-shift: Microsoft Azure (openai 44% of its starting backlog)",
        "customers.openai.shift[0].target",
        "pert 0.1 / 0.2 / 0.4",
        "ASSUMPTION: 2% to 10% a year",
        "data:image/png;base64,",
        "<code>loss.azure</code>",
        "About this scenario",
    ] {
        assert!(html.contains(part), "report.html lacks {part:?}");
    }
    assert_eq!(html.matches("<img ").count(), 4, "the four key charts");
    for attr in ["src=\"http", "href=\"http", "src=\"//", "href=\"//", "<script"] {
        assert!(!html.contains(attr), "report.html has {attr:?}");
    }
    let index_html = std::fs::read_to_string(&index).unwrap();
    assert!(index_html.contains("<a href=\"openai-shift/report.html\">openai-shift</a>"));
    assert!(index_html.contains("<a href=\"coreweave-concentration/report.html\">"));

    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED the Chromium part of the report test: no chromium on the PATH and scripts/install-chromium.sh could not install it"
        );
        return;
    };
    let work = tempfile::tempdir().unwrap();
    for page in [&report, &index] {
        let v = visit(&browser, page, work.path());
        assert!(v.console.is_empty(), "console messages on {}: {:#?}", page.display(), v.console);
        assert!(v.requests.is_empty(), "{} made requests: {:?}", page.display(), v.requests);
        assert!(v.screenshot_bytes > 20_000, "a screenshot of {} with something on it", page.display());
    }

    // In a 1280 px window the charts are shown wide enough that their
    // smallest text (16 px in 1,600) is at least 11 px: 1,100 px or more.
    for page in [&report, &index] {
        let v = visit_at(&browser, page, work.path(), 1280);
        assert!(v.chart_width >= 1100, "{}: charts shown {} px wide at 1280 px", page.display(), v.chart_width);
    }

    // The checks can fail: a page that loads an image from the network is
    // caught by its console (our policy blocks it) or by the network log.
    let bad = work.path().join("bad.html");
    let with_policy = html.replacen("<body>", "<body><img src=\"http://example.invalid/x.png\">", 1);
    std::fs::write(&bad, with_policy).unwrap();
    let v = visit(&browser, &bad, work.path());
    assert!(v.console.iter().any(|l| l.contains("Content Security Policy")), "{:?}", v.console);
    let no_policy = "<!DOCTYPE html><html><body><img src=\"http://example.invalid/x.png\"></body></html>";
    std::fs::write(&bad, no_policy).unwrap();
    let v = visit(&browser, &bad, work.path());
    assert_eq!(v.requests, ["http://example.invalid/x.png"]);
}
