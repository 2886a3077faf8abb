//! `summary.json` holds to its documented schema (`docs/summary.schema.json`)
//! and carries the same figures as `summary.csv` and `errors.csv`.

use crate::common;

use common::cmd;

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn summary_json_follows_its_schema_and_the_csv_files() {
    let out = tempfile::tempdir().unwrap();
    cmd()
        .args(["run", "scenarios/openai-shift.toml", "--paths", "3000", "--no-charts", "--quiet", "--out"])
        .arg(out.path())
        .assert()
        .success();
    let dir = out.path().join("openai-shift");
    let doc = json(&dir.join("summary.json"));
    let schema = json(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/summary.schema.json")));
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    let problems: Vec<String> =
        validator.iter_errors(&doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(problems.is_empty(), "summary.json breaks its schema: {problems:#?}");

    // Same figures as the CSV files, to the last digit written.
    let csv = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let metrics = doc["metrics"].as_array().unwrap();
    let rows: Vec<&str> = lines.collect();
    assert_eq!(metrics.len(), rows.len());
    for (m, row) in metrics.iter().zip(rows) {
        for (col, cell) in header.iter().zip(row.split(',')) {
            let v = &m[*col];
            match (cell, v) {
                ("", serde_json::Value::Null) => {}
                (text, serde_json::Value::String(s)) => assert_eq!(text, s),
                (text, v) => assert_eq!(text.parse::<f64>().unwrap(), v.as_f64().unwrap(), "{col} of {}", m["metric"]),
            }
        }
    }
    let errors = std::fs::read_to_string(dir.join("errors.csv")).unwrap();
    assert_eq!(doc["errors"].as_array().unwrap().len(), errors.lines().count() - 1);
    assert_eq!(doc["focus"], "azure");
    assert_eq!((doc["horizon"].as_str(), doc["horizon_quarters"].as_u64()), (Some("2032Q4"), Some(28)));
    assert_eq!(doc["providers"][2]["display"], "Oracle (OCI)");

    // A document that breaks the schema is caught: the check can fail.
    let mut broken = doc.clone();
    broken["metrics"][0]["p50"] = serde_json::Value::String("n/a".into());
    assert!(!validator.is_valid(&broken));
}
