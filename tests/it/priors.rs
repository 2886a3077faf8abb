//! The shipped scenarios give every demand growth, demand volatility and
//! renegotiation hazard a rationale or a source in a comment.

use backlog_risk::scenario::{self, assumptions::assumptions};

#[test]
fn every_growth_volatility_and_hazard_has_a_rationale() {
    let mut missing = Vec::new();
    let files: Vec<_> = std::fs::read_dir("scenarios")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    assert_eq!(files.len(), 6);
    for file in files {
        let (sc, resolved) = scenario::load_resolved(&file).unwrap();
        let a = assumptions(&sc, &resolved.chain);
        for row in a.groups.iter().flat_map(|g| &g.rows) {
            let prior = [".growth", ".volatility", ".hazard"].iter().any(|s| row.field.ends_with(s));
            if prior && row.source.is_none() {
                missing.push(format!("{}: {}", file.display(), row.field));
            }
        }
    }
    assert!(missing.is_empty(), "without a rationale or source comment:\n{}", missing.join("\n"));
}
