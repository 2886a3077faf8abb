//! `backlog-risk serve`: the page's figures are `run`'s on the saved variant,
//! bit for bit; paired differences are `run --paired`'s; hostile requests
//! are refused with a message and the server goes on serving; a newer
//! change cancels an older run.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use backlog_risk_serve::{Explorer, Limits};
use serde_json::{Value, json};

use crate::common::cmd;

const TARGET: &str = "customers.openai.shift[0].target";

fn explorer(files: &[&str]) -> Explorer {
    let files: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
    Explorer::load(&files, Limits::default()).unwrap()
}

fn post(x: &Explorer, path: &str, body: &Value) -> (u16, Vec<u8>) {
    let r = x.handle("POST", path, body.to_string().as_bytes());
    (r.status, r.body)
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// The rows of a CSV file keyed by its first two columns.
fn csv_rows(file: &Path) -> Vec<csv::StringRecord> {
    csv::Reader::from_path(file).unwrap().records().map(|r| r.unwrap()).collect()
}

fn num(s: &str) -> f64 {
    s.parse().unwrap()
}

#[test]
fn the_page_figures_are_run_on_the_saved_variant_bit_for_bit() {
    let x = explorer(&["scenarios/openai-shift.toml"]);
    let change = json!({ "scenario": "openai-shift", "changes": { TARGET: 0.1 }, "paths": 20_000 });
    let (status, body) = post(&x, "/api/run", &change);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let page = json_of(&body);
    let (status, variant) = post(&x, "/api/variant", &change);
    assert_eq!(status, 200);
    let variant = String::from_utf8(variant).unwrap();
    assert!(variant.contains("extends = \"openai-shift.toml\""), "{variant}");

    // Saved beside its base, the variant runs to the page's figures.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("scenarios/openai-shift.toml", dir.path().join("openai-shift.toml")).unwrap();
    let file = dir.path().join("openai-shift-variant.toml");
    std::fs::write(&file, &variant).unwrap();
    let out = dir.path().join("out");
    let base = dir.path().join("openai-shift.toml");
    cmd()
        .arg("run")
        .arg(&file)
        .arg("--paired")
        .arg(&base)
        .args(["--quiet", "--no-charts", "--no-xlsx", "--out"])
        .arg(&out)
        .assert()
        .success();
    let folder = out.join("openai-shift-variant");
    let info: Value = serde_json::from_str(&std::fs::read_to_string(folder.join("run.json")).unwrap()).unwrap();
    assert_eq!((info["paths"].as_u64(), info["seed"].as_u64()), (Some(20_000), page["seed"].as_u64()));

    let errors = csv_rows(&folder.join("errors.csv"));
    let paired = csv_rows(&folder.join("paired-openai-shift.csv"));
    let providers = page["providers"].as_array().unwrap();
    assert_eq!(providers.len(), 4);
    let mut compared = 0;
    for p in providers {
        let metric = format!("loss.{}", p["key"].as_str().unwrap());
        for stat in ["mean", "var99", "es99"] {
            let row = errors.iter().find(|r| r[0] == metric && &r[1] == stat).unwrap();
            let f = &p[stat];
            for (k, col) in [("estimate", 2), ("se", 3), ("low", 4), ("high", 5)] {
                assert_eq!(f[k].as_f64().unwrap().to_bits(), num(&row[col]).to_bits(), "{metric} {stat} {k}");
                compared += 1;
            }
        }
        let row = paired.iter().find(|r| r[0] == metric).unwrap();
        let d = &p["paired"];
        assert_eq!(d["mean"]["diff"].as_f64().unwrap().to_bits(), num(&row[3]).to_bits(), "{metric} diff");
        assert_eq!(d["mean"]["se"].as_f64().unwrap().to_bits(), num(&row[4]).to_bits(), "{metric} se");
        compared += 2;
    }
    assert_eq!(compared, 4 * (12 + 2));
    // The change moved Azure's loss, and the fan carries the plan.
    let azure = &providers[0];
    assert!(
        azure["paired"]["mean"]["diff"].as_f64().unwrap().abs() > 3.0 * azure["paired"]["mean"]["se"].as_f64().unwrap()
    );
    assert_eq!(azure["fan"].as_array().unwrap().len(), 28);

    // With nothing changed, the page shows the file's own run.
    let (status, body) = post(&x, "/api/run", &json!({ "scenario": "openai-shift", "paths": 20_000 }));
    assert_eq!(status, 200);
    let plain = json_of(&body);
    assert!(plain["providers"][0]["paired"].is_null());
    let file_es99 = plain["providers"][0]["es99"]["estimate"].as_f64().unwrap();
    let row = paired.iter().find(|r| &r[0] == "loss.azure").unwrap();
    assert_eq!(file_es99.to_bits(), (azure["es99"]["estimate"].as_f64().unwrap() - num(&row[8])).to_bits());
}

#[test]
fn bad_values_are_refused_naming_the_field() {
    let x = explorer(&["scenarios/openai-shift.toml"]);
    let refused = |changes: Value, paths: Value| {
        let (status, body) =
            post(&x, "/api/run", &json!({ "scenario": "openai-shift", "changes": changes, "paths": paths }));
        (status, json_of(&body)["error"].as_str().unwrap_or_default().to_string())
    };
    let (s, m) = refused(json!({ TARGET: 1.5 }), json!(10_000));
    assert_eq!(s, 400);
    assert!(m.contains(TARGET), "{m}");
    let (s, m) = refused(json!({ "renegotiation[0].hazard": -0.5 }), json!(10_000));
    assert!(s == 400 && m.contains("renegotiation[0].hazard"), "{m}");
    let (s, m) = refused(json!({ "scenario.seed": 7 }), json!(10_000));
    assert!(s == 400 && m.contains("not a parameter"), "{m}");
    let (s, m) = refused(json!({ TARGET: "=HYPERLINK(1)" }), json!(10_000));
    assert!(s == 400 && m.contains(TARGET), "{m}");
    let (s, m) = refused(json!({ TARGET: { "dist": "uniform", "min": 0.1 } }), json!(10_000));
    assert!(s == 400 && m.contains(TARGET), "{m}");
    let (s, m) = refused(json!({}), json!(1_000_000_000_000u64));
    assert!(s == 400 && m.contains("paths"), "{m}");
    let (s, m) = refused(json!({}), json!(-5));
    assert!(s == 400, "{m}");
    // Not JSON numbers at all: NaN and a number out of range.
    for body in [
        format!("{{\"scenario\":\"openai-shift\",\"changes\":{{\"{TARGET}\":NaN}}}}"),
        format!("{{\"scenario\":\"openai-shift\",\"changes\":{{\"{TARGET}\":1e999}}}}"),
    ] {
        let r = x.handle("POST", "/api/run", body.as_bytes());
        assert_eq!(r.status, 400, "{body}");
        assert!(json_of(&r.body)["error"].as_str().unwrap().contains("JSON"));
    }
    // A distribution's parameters, within range, are a change like any.
    let (s, _) = refused(json!({ TARGET: { "dist": "uniform", "min": 0.2, "max": 0.3 } }), json!(10_000));
    assert_eq!(s, 200);
}

#[test]
fn a_newer_change_cancels_the_older_run() {
    let x = explorer(&["scenarios/openai-shift.toml"]);
    let req = |g: u64, paths: u64| json!({ "scenario": "openai-shift", "changes": { TARGET: 0.2 }, "paths": paths, "client": "tab", "generation": g });
    std::thread::scope(|s| {
        let slow = s.spawn(|| post(&x, "/api/run", &req(1, 2_000_000)));
        std::thread::sleep(std::time::Duration::from_millis(150));
        let (status, _) = post(&x, "/api/run", &req(2, 10_000));
        assert_eq!(status, 200);
        let (status, body) = slow.join().unwrap();
        assert_eq!(status, 409, "{}", String::from_utf8_lossy(&body));
    });
    // An answer to an older change than the tab's latest is not computed.
    let (status, _) = post(&x, "/api/run", &req(1, 10_000));
    assert_eq!(status, 409);
    let (status, _) = post(&x, "/api/run", &req(3, 10_000));
    assert_eq!(status, 200);
}

/// The server as a process on a free port of the loopback address.
struct Server(Child, String);

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_backlog-risk"))
            .args(["serve", "--port", "0", "--quiet"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = Vec::new();
        let mut out = child.stdout.take().unwrap();
        let mut byte = [0u8];
        while out.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
            line.push(byte[0]);
        }
        let line = String::from_utf8(line).unwrap();
        let at = line.find("http://127.0.0.1:").unwrap_or_else(|| panic!("no URL in {line:?}"));
        let addr = line[at + 7..].split('/').next().unwrap().to_string();
        Server(child, addr)
    }

    /// One HTTP/1.1 request; (status, body).
    fn request(&self, raw: &[u8]) -> (u16, String) {
        let mut s = TcpStream::connect(&self.1).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
        s.write_all(raw).unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_string());
        (status, body)
    }

    fn get(&self, path: &str) -> (u16, String) {
        self.request(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
    }

    fn post(&self, path: &str, body: &str) -> (u16, String) {
        let head =
            format!("POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n", body.len());
        self.request(&[head.as_bytes(), body.as_bytes()].concat())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn hostile_requests_are_refused_and_the_server_goes_on() {
    let server = Server::start(&["scenarios/openai-shift.toml"]);
    let (s, page) = server.get("/");
    assert_eq!(s, 200);
    assert!(page.contains("/s/openai-shift"));
    let refusals: Vec<(u16, String)> = vec![
        server.get("/s/../../etc/passwd"),
        server.get("/api/scenario/..%2F..%2Fetc%2Fpasswd"),
        server.get("/api/scenario/status-quo"),
        server.post("/api/run", r#"{"scenario":"../scenarios/status-quo"}"#),
        server.post("/api/run", &format!(r#"{{"scenario":"openai-shift","changes":{{"{TARGET}":NaN}}}}"#)),
        server.post("/api/run", &format!(r#"{{"scenario":"openai-shift","changes":{{"{TARGET}":7}},"paths":10000}}"#)),
        server.post("/api/run", r#"{"scenario":"openai-shift","paths":1000000000000}"#),
        server.post("/api/run", &format!(r#"{{"scenario":"openai-shift","pad":"{}"}}"#, "x".repeat(200_000))),
        server.request(b"DELETE /api/run HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    ];
    for (i, (status, body)) in refusals.iter().enumerate() {
        assert!((400..500).contains(status), "request {i}: {status} {body}");
        let message: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("request {i}: {body}"));
        assert!(message["error"].as_str().is_some_and(|m| m.len() > 10), "request {i}: {body}");
    }
    assert_eq!(refusals[7].0, 413, "an oversize body");
    assert!(refusals[5].1.contains(TARGET), "{}", refusals[5].1);
    // Still serving, and still right.
    let (s, body) = server.post("/api/run", r#"{"scenario":"openai-shift","paths":10000}"#);
    assert_eq!(s, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["paths"], 10_000);
    let (s, script) = server.get("/explorer.js");
    // The only address in the script is SVG's namespace, which is a name,
    // not a request.
    let script = script.replace("\"http://www.w3.org/2000/svg\"", "");
    assert!(
        s == 200 && !script.contains("http") && !script.contains("//cdn"),
        "the script fetches from this server only"
    );
}

#[test]
fn names_and_comments_reach_the_pages_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string("scenarios/openai-shift.toml").unwrap();
    let hostile = text.replacen("# ", "# <script>alert(1)</script> ", 1);
    let file = dir.path().join("hostile.toml");
    std::fs::write(&file, hostile).unwrap();
    let x = Explorer::load(&[file], Limits::default()).unwrap();
    let index = String::from_utf8(x.handle("GET", "/", b"").body).unwrap();
    assert!(index.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !index.contains("<script>alert"), "{index}");
    let page = String::from_utf8(x.handle("GET", "/s/openai-shift", b"").body).unwrap();
    assert!(!page.contains("<script>alert"));
}
