//! Text from files reaches spreadsheets and terminals safely: a name or a
//! display string that a spreadsheet would run as a formula is written to
//! every CSV with a leading `'`, numbers unchanged; control characters in
//! a display string are refused with the field and the fix.

use std::path::Path;

use crate::common::cmd;

const FORMULA: &str = "=cmd|' /C calc'!A0";

/// Every cell of every CSV file under `dir`: none starts a formula.
pub fn assert_no_formula_cells(dir: &Path) -> usize {
    let mut csvs = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            csvs += assert_no_formula_cells(&p);
            continue;
        }
        if p.extension().is_none_or(|x| x != "csv") {
            continue;
        }
        csvs += 1;
        let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_path(&p).unwrap();
        for rec in r.records() {
            for cell in rec.unwrap().iter() {
                let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
                assert!(!risky || cell.parse::<f64>().is_ok(), "{}: cell {cell:?}", p.display());
            }
        }
    }
    csvs
}

/// `portfolios/ai-infra.toml` with its holding MSFT named `name` (a TOML
/// string), as `dir/p.toml`.
pub fn hostile_portfolio(dir: &Path, name: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string("portfolios/ai-infra.toml").unwrap();
    let hostile = text.replace("\"MSFT\"", name);
    assert_ne!(text, hostile);
    let file = dir.join("p.toml");
    std::fs::write(&file, hostile).unwrap();
    file
}

#[test]
fn names_that_are_formulas_reach_csv_files_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string("scenarios/openai-shift.toml").unwrap();
    let hostile = text.replace("display = \"Microsoft Azure\"", &format!("display = \"{FORMULA}\""));
    assert_ne!(text, hostile);
    let sc = dir.path().join("hostile.toml");
    std::fs::write(&sc, hostile).unwrap();
    let pf = hostile_portfolio(dir.path(), "\"@SUM(A1)\"");
    let out = dir.path().join("out");
    let q = ["--paths", "4096", "--quiet", "--no-charts", "--out"];
    cmd().arg("run").arg(&sc).arg("scenarios/status-quo.toml").args(q).arg(&out).assert().success();
    cmd().args(["stress", "--portfolio"]).arg(&pf).arg(&sc).args(q).arg(&out).assert().success();
    assert!(assert_no_formula_cells(&out) >= 8);
    let comparison = std::fs::read_to_string(out.join("comparison.csv")).unwrap();
    assert!(comparison.contains(&format!("'{FORMULA}")), "{comparison}");
    let contributions = std::fs::read_to_string(out.join("openai-shift/portfolio-ai-infra/contributions.csv")).unwrap();
    assert!(contributions.contains("'@SUM(A1)"), "{contributions}");
    // Negative numbers are numbers: written as they are.
    assert!(contributions.lines().skip(1).any(|l| l.contains(",-")), "{contributions}");
}

#[test]
fn control_characters_in_a_display_name_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string("scenarios/openai-shift.toml").unwrap();
    for bad in ["Azure\\u001b[31m", "Azure\\nline two", "Azure\\ttab"] {
        let sc = dir.path().join("bad.toml");
        std::fs::write(&sc, text.replace("display = \"Microsoft Azure\"", &format!("display = \"{bad}\""))).unwrap();
        let o = cmd().arg("validate").arg(&sc).assert().failure().get_output().clone();
        let said = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        assert!(said.contains("providers.azure.display"), "{bad}: {said}");
        assert!(said.contains("no newline, tab or other control character"), "{bad}: {said}");
        assert!(!said.contains('\u{1b}'), "the ESC byte is not echoed to the terminal: {said:?}");
    }
}
