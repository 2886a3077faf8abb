//! The workbooks read back (with `calamine`): every sheet that mirrors a
//! CSV file holds the CSV's numbers as numbers, bit for bit after parsing,
//! and its text as text; hostile text from files (formulas, `<script>`)
//! arrives as the characters typed; no cell is a formula.

use std::path::{Path, PathBuf};

use calamine::{Data, Range, Reader, Xlsx, open_workbook};

use crate::common::cmd;

/// Text a spreadsheet would run, put in display names and comments.
pub const HYPERLINK: &str = "=HYPERLINK(\"http://x.example\",\"x\")";
pub const SUM: &str = "@SUM(A1:A9)";
pub const SCRIPT: &str = "<script>alert(1)</script>";

/// A copy of `openai-shift` named `hostile`, with hostile display names
/// and comments, in `dir`.
pub fn hostile_scenario(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string("scenarios/openai-shift.toml").unwrap();
    let hostile = text
        .replace("name = \"openai-shift\"", "name = \"hostile\"")
        .replace("display = \"Microsoft Azure\"", &format!("display = '{HYPERLINK}'"))
        .replace("display = \"AWS\"", &format!("display = \"{SUM}\""))
        .replace("display = \"Oracle (OCI)\"", &format!("display = \"{SCRIPT}\""))
        .replace("# ASSUMPTION: the non-OpenAI book keeps growing at 0% to 20% a year.", &format!("# {SCRIPT} {SUM}"));
    for s in [HYPERLINK, SUM, SCRIPT] {
        assert!(hostile.contains(s), "{s} was put in the scenario");
    }
    let file = dir.join("hostile.toml");
    std::fs::write(&file, hostile).unwrap();
    file
}

pub type Book = Xlsx<std::io::BufReader<std::fs::File>>;

pub fn open(path: &Path) -> Book {
    open_workbook(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn sheet(book: &mut Book, name: &str) -> Range<Data> {
    book.worksheet_range(name).unwrap_or_else(|e| panic!("sheet {name}: {e}"))
}

/// What a CSV cell was before [`guard_cell`](backlog_risk::writers::output::guard_cell).
fn unguarded(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

/// Sheet `range` holds the CSV file `csv` with its header at row `row0`
/// (column A on): each number the same `f64` stored as a number, each text
/// the text typed, each empty cell empty. Columns right of the CSV's are
/// the sheet's own. Returns the number of numeric cells compared.
pub fn assert_mirrors(range: &Range<Data>, row0: u32, csv: &Path) -> usize {
    let mut r = csv::ReaderBuilder::new().has_headers(false).from_path(csv).unwrap();
    let mut numbers = 0;
    let mut rows = 0;
    for (i, rec) in r.records().enumerate() {
        let rec = rec.unwrap();
        rows += 1;
        for (j, c) in rec.iter().enumerate() {
            let got = range.get_value((row0 + i as u32, j as u32)).unwrap_or(&Data::Empty);
            let what = format!("{} row {} column {j} ({c:?}): {got:?}", csv.display(), i + 1);
            numbers += same_cell(got, c, i == 0, &what);
        }
    }
    // Nothing below the table.
    let below = (0..range.end().map_or(0, |e| e.1 + 1))
        .all(|j| range.get_value((row0 + rows, j)).is_none_or(|d| *d == Data::Empty) || j as usize >= csv_width(csv));
    assert!(below, "{}: the sheet has rows past the CSV's", csv.display());
    numbers
}

/// A sheet's cell `got` holds the CSV cell `c` (a header's cells are
/// text): a number the same `f64`, stored as a number; text as typed; an
/// empty cell empty. Returns 1 for a number compared.
fn same_cell(got: &Data, c: &str, header: bool, what: &str) -> usize {
    match c.parse::<f64>() {
        _ if c.is_empty() => assert_eq!(got, &Data::Empty, "{what}"),
        Ok(x) if !header && x.is_finite() => {
            match got {
                Data::Float(y) => assert_eq!(y.to_bits(), x.to_bits(), "{what}"),
                _ => panic!("not stored as a number: {what}"),
            }
            return 1;
        }
        _ if matches!(got, Data::Bool(_)) => assert_eq!(format!("{got}"), c, "{what}"),
        _ => assert_eq!(got, &Data::String(unguarded(c).to_string()), "{what}"),
    }
    0
}

/// Sheet `range` holds the rows of the CSV file `csv` with its header at
/// row `row0`, in an order of its own: each sheet row is matched to the CSV
/// row with the same text in columns `key`, then compared cell by cell.
/// Returns the number of numeric cells compared.
pub fn assert_mirrors_rows(range: &Range<Data>, row0: u32, csv: &Path, key: &[usize]) -> usize {
    let mut r = csv::ReaderBuilder::new().has_headers(false).from_path(csv).unwrap();
    let recs: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    let text = |d: &Data| match d {
        Data::String(s) => s.clone(),
        other => format!("{other}"),
    };
    let mut numbers = 0;
    for (i, rec) in recs.iter().enumerate() {
        let k: Vec<String> = key.iter().map(|&j| unguarded(&rec[j]).to_string()).collect();
        let row = (0..recs.len() as u32)
            .map(|d| row0 + d)
            .find(|&r| key.iter().zip(&k).all(|(&j, k)| range.get_value((r, j as u32)).map(text).as_ref() == Some(k)))
            .unwrap_or_else(|| panic!("{}: no sheet row for {k:?}", csv.display()));
        for (j, c) in rec.iter().enumerate() {
            let got = range.get_value((row, j as u32)).unwrap_or(&Data::Empty);
            let what = format!("{} row {} column {j} ({c:?}): {got:?}", csv.display(), i + 1);
            numbers += same_cell(got, c, i == 0, &what);
        }
    }
    numbers
}

fn csv_width(csv: &Path) -> usize {
    csv::ReaderBuilder::new().has_headers(false).from_path(csv).unwrap().records().next().unwrap().unwrap().len()
}

/// No sheet of `book` holds a formula.
pub fn assert_no_formulas(book: &mut Book) {
    for name in book.sheet_names() {
        let f = book.worksheet_formula(&name).unwrap();
        assert!(f.used_cells().all(|(_, _, s)| s.is_empty()), "sheet {name} holds a formula");
    }
}

/// Every string cell of every sheet.
pub fn strings(book: &mut Book) -> Vec<String> {
    let mut out = Vec::new();
    for name in book.sheet_names() {
        for (_, _, d) in sheet(book, &name).used_cells() {
            if let Data::String(s) = d {
                out.push(s.clone());
            }
        }
    }
    out
}

#[test]
fn a_run_workbook_mirrors_its_csv_files() {
    let dir = tempfile::tempdir().unwrap();
    let sc = hostile_scenario(dir.path());
    let out = dir.path().join("out");
    cmd()
        .arg("run")
        .arg(&sc)
        .args(["--paired", "scenarios/openai-shift.toml", "--samples", "40", "--paths", "6000", "--quiet"])
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let run = out.join("hostile");
    let mut book = open(&run.join("report.xlsx"));
    let names = book.sheet_names();
    assert_eq!(
        names,
        ["Summary", "Fan", "Revenue", "Loss", "Errors", "Assumptions", "Run", "Samples", "Paired"],
        "the sheets, in order"
    );
    let mut numbers = 0;
    numbers += assert_mirrors(&sheet(&mut book, "Summary"), 9, &run.join("summary.csv"));
    numbers += assert_mirrors(&sheet(&mut book, "Fan"), 0, &run.join("fan.csv"));
    numbers += assert_mirrors(&sheet(&mut book, "Revenue"), 0, &run.join("revenue.csv"));
    numbers += assert_mirrors(&sheet(&mut book, "Errors"), 0, &run.join("errors.csv"));
    numbers += assert_mirrors(&sheet(&mut book, "Samples"), 0, &run.join("samples.csv"));
    numbers += assert_mirrors(&sheet(&mut book, "Paired"), 0, &run.join("paired-openai-shift.csv"));
    assert!(numbers > 3500, "{numbers} numbers compared");
    assert_no_formulas(&mut book);

    // The key figures of the Summary are errors.csv's rows of the focus loss.
    let summary = sheet(&mut book, "Summary");
    let errors = std::fs::read_to_string(run.join("errors.csv")).unwrap();
    for (r, stat) in [(4, "mean"), (5, "var99"), (6, "es99")] {
        let line = errors.lines().find(|l| l.starts_with(&format!("loss.azure,{stat},"))).unwrap();
        let v: Vec<f64> = line.split(',').skip(2).map(|x| x.parse().unwrap()).collect();
        let want = [v[0], v[2], v[3], v[1]];
        for (c, w) in want.iter().enumerate() {
            assert_eq!(summary.get_value((r, 1 + c as u32)), Some(&Data::Float(*w)), "{stat} column {c}");
        }
    }
    let label = summary.get_value((4, 0)).unwrap();
    assert_eq!(label, &Data::String(format!("{HYPERLINK} expected loss")));

    // The Fan's plan column is the plan path of the engine.
    let fan = sheet(&mut book, "Fan");
    assert_eq!(fan.get_value((0, 9)), Some(&Data::String("plan".into())));
    let scenario = backlog_risk::scenario::load(&sc).unwrap();
    let plan = backlog_risk::engine::Engine::new(&scenario).plan().backlog_path.clone();
    let np = scenario.providers.len();
    for t in 1..=scenario.quarters as usize {
        assert_eq!(fan.get_value((t as u32, 9)), Some(&Data::Float(plan[(t - 1) * np])), "azure's plan, quarter {t}");
    }

    // The histogram of the focus loss holds every path.
    let loss = sheet(&mut book, "Loss");
    let count = |at| match loss.get_value(at) {
        Some(Data::Float(x)) => *x,
        other => panic!("{at:?}: {other:?}"),
    };
    assert_eq!(loss.get_value((6, 2)), Some(&Data::String("paths".into())));
    let binned: f64 = (7..87).map(|r| count((r, 2))).sum();
    assert_eq!(binned + count((3, 2)) + count((4, 2)), 6000.0);
    assert!(loss.get_value((87, 2)).is_none_or(|d| *d == Data::Empty), "80 bins");

    // Hostile text arrives as typed: display names, the file's comment.
    let all = strings(&mut book);
    for s in [HYPERLINK, SUM] {
        assert!(all.iter().any(|x| x.contains(s)), "{s} arrives as typed");
    }
    assert!(all.iter().any(|x| x == &format!("{SCRIPT} {SUM}")), "the comment, as typed");
}

#[test]
fn the_same_run_gives_the_same_workbook() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = |out: &str| {
        let o = dir.path().join(out);
        let q = ["--paths", "3000", "--quiet", "--no-charts"];
        cmd().args(["run", "scenarios/status-quo.toml"]).args(q).arg("--out").arg(&o).assert().success();
        std::fs::read(o.join("status-quo/report.xlsx")).unwrap()
    };
    assert_eq!(bytes("a"), bytes("b"));
}

#[test]
fn no_xlsx_leaves_out_the_workbooks_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let files = |out: &str, extra: &[&str]| {
        let o = dir.path().join(out);
        let q = ["--paths", "3000", "--quiet", "--no-charts", "--out"];
        let sc = ["scenarios/status-quo.toml", "scenarios/openai-shift.toml"];
        cmd().arg("run").args(sc).args(extra).args(q).arg(&o).assert().success();
        cmd().args(["explain", sc[1]]).args(extra).args(q).arg(&o).assert().success();
        let folder = o.join("openai-shift");
        let mut names: Vec<String> = std::fs::read_dir(&folder)
            .unwrap()
            .chain(std::fs::read_dir(&o).unwrap())
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".csv") || n.ends_with(".xlsx"))
            .collect();
        names.sort();
        let read = |n: &str| std::fs::read(folder.join(n)).or_else(|_| std::fs::read(o.join(n))).unwrap();
        names.iter().map(|n| (n.clone(), read(n))).collect::<Vec<_>>()
    };
    let with = files("with", &[]);
    let without = files("without", &["--no-xlsx"]);
    let books: Vec<&str> = with.iter().map(|(n, _)| n.as_str()).filter(|n| n.ends_with(".xlsx")).collect();
    assert_eq!(books, ["comparison.xlsx", "explain.xlsx", "report.xlsx"]);
    let kept: Vec<_> = with.into_iter().filter(|(n, _)| !n.ends_with(".xlsx")).collect();
    assert_eq!(kept, without, "the same CSV files, byte for byte, and no workbook");
}

/// The number at `at`, which must be one.
fn float(range: &Range<Data>, at: (u32, u32)) -> f64 {
    match range.get_value(at) {
        Some(Data::Float(x)) => *x,
        other => panic!("{at:?}: {other:?} is not a number"),
    }
}

/// The header cells of row `row` of a sheet, as text.
fn header(range: &Range<Data>, row: u32) -> Vec<String> {
    (0..range.end().map_or(0, |e| e.1 + 1))
        .map_while(|j| match range.get_value((row, j)) {
            Some(Data::String(s)) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn stress_batch_and_explain_workbooks_mirror_their_csv_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let q = ["--paths", "4096", "--quiet", "--no-charts", "--out"];
    let (sc, base) = ("scenarios/openai-shift.toml", "scenarios/status-quo.toml");
    cmd().args(["run", sc, base, "scenarios/litigation-shock.toml"]).args(q).arg(&out).assert().success();
    cmd()
        .args(["stress", "--portfolio", "portfolios/aws-vs-msft.toml", "--paired", base, sc])
        .args(q)
        .arg(&out)
        .assert()
        .success();
    cmd().args(["explain", sc]).args(q).arg(&out).assert().success();

    // comparison.xlsx: comparison.csv's rows, worst ES99 first.
    let mut book = open(&out.join("comparison.xlsx"));
    let cmp = sheet(&mut book, "Comparison");
    let head = header(&cmp, 1);
    let es99 = head.iter().position(|h| h == "es99").unwrap() as u32;
    let (p, s) =
        (head.iter().position(|h| h == "provider").unwrap(), head.iter().position(|h| h == "scenario").unwrap());
    let numbers = assert_mirrors_rows(&cmp, 1, &out.join("comparison.csv"), &[p, s]);
    let rows = csv::Reader::from_path(out.join("comparison.csv")).unwrap().records().count() as u32;
    assert_eq!(numbers as u32, rows * 11, "every number of comparison.csv: horizon_quarters and ten statistics");
    let es: Vec<f64> = (2..2 + rows).map(|r| float(&cmp, (r, es99))).collect();
    assert!(es.windows(2).all(|w| w[0] >= w[1]), "worst ES99 first: {es:?}");
    assert_no_formulas(&mut book);

    // portfolio.xlsx: every table of the folder, and the paired row.
    let folder = out.join("openai-shift/portfolio-aws-vs-msft");
    let mut book = open(&folder.join("portfolio.xlsx"));
    assert_eq!(book.sheet_names(), ["P&L", "Risk", "Contributions", "Tail", "Paired"]);
    let mut numbers = assert_mirrors(&sheet(&mut book, "P&L"), 1, &folder.join("pnl.csv"));
    for (name, file) in [("Risk", "risk.csv"), ("Contributions", "contributions.csv"), ("Tail", "tail.csv")] {
        numbers += assert_mirrors(&sheet(&mut book, name), 0, &folder.join(file));
    }
    numbers += assert_mirrors(&sheet(&mut book, "Paired"), 0, &folder.join("paired-status-quo.csv"));
    assert!(numbers > 50, "{numbers} numbers");
    // The P&L histogram holds every path.
    let pnl = sheet(&mut book, "P&L");
    let paths = |at| float(&pnl, at);
    let binned: f64 = (8..88).map(|r| paths((r, 2))).sum();
    assert_eq!(binned + paths((4, 2)) + paths((5, 2)), 4096.0);
    assert_no_formulas(&mut book);

    // explain.xlsx: attribution.csv and sensitivity.csv; the waterfall's
    // steps end at the outcome: the plan plus the total.
    let folder = out.join("openai-shift");
    let mut book = open(&folder.join("explain.xlsx"));
    assert_eq!(book.sheet_names(), ["Attribution", "Sensitivity"]);
    let a = sheet(&mut book, "Attribution");
    assert!(assert_mirrors(&a, 0, &folder.join("attribution.csv")) > 10);
    assert!(assert_mirrors(&sheet(&mut book, "Sensitivity"), 0, &folder.join("sensitivity.csv")) > 10);
    let n = csv::Reader::from_path(folder.join("attribution.csv")).unwrap().records().count() as u32;
    let top = n + 3;
    assert_eq!(a.get_value((top, 0)), Some(&Data::String("step".into())));
    let bar = |r: u32| {
        let (base, up, down) = (float(&a, (r, 1)), float(&a, (r, 2)), float(&a, (r, 3)));
        // [lo, hi] of the bar drawn.
        if base >= 0.0 && down == 0.0 {
            (base, base + up)
        } else if up == 0.0 {
            (base + down, base)
        } else {
            (down, up)
        }
    };
    let mean = |driver: &str| {
        (1..=n).find(|&r| a.get_value((r, 1)) == Some(&Data::String(driver.into()))).map(|r| float(&a, (r, 2)))
    };
    let total = mean("total").unwrap();
    let outcome = bar(top + 1 + n);
    assert_eq!(a.get_value((top + 1 + n, 0)), Some(&Data::String("outcome (plan + total)".into())));
    let plan = bar(top + 1).1;
    assert!((outcome.1 - (plan + total)).abs() <= 1e-9 * total.abs().max(1.0), "{outcome:?} {plan} {total}");
    assert_no_formulas(&mut book);
}

#[test]
fn hostile_text_reaches_every_csv_and_workbook_as_typed() {
    let dir = tempfile::tempdir().unwrap();
    let sc = hostile_scenario(dir.path());
    let pf = crate::injection::hostile_portfolio(dir.path(), &format!("'{HYPERLINK}'"));
    let out = dir.path().join("out");
    let q = ["--paths", "4096", "--quiet", "--no-charts", "--out"];
    cmd().arg("run").arg(&sc).arg("scenarios/status-quo.toml").args(q).arg(&out).assert().success();
    cmd().args(["stress", "--portfolio"]).arg(&pf).arg(&sc).args(q).arg(&out).assert().success();
    cmd().arg("explain").arg(&sc).args(q).arg(&out).assert().success();

    // Every CSV: no cell a spreadsheet would run; the names as typed
    // behind the guard.
    assert!(crate::injection::assert_no_formula_cells(&out) >= 10);
    let cells = |file: &Path| -> Vec<String> {
        let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_path(file).unwrap();
        r.records().flat_map(|rec| rec.unwrap().iter().map(String::from).collect::<Vec<_>>()).collect()
    };
    let comparison = cells(&out.join("comparison.csv"));
    for typed in [format!("'{HYPERLINK}"), format!("'{SUM}"), SCRIPT.to_string()] {
        assert!(comparison.contains(&typed), "comparison.csv has {typed}");
    }
    let contributions = cells(&out.join("hostile/portfolio-ai-infra/contributions.csv"));
    assert!(contributions.contains(&format!("'{HYPERLINK}")));

    // Every workbook: no formula; the names and the comment as typed.
    let books =
        ["comparison.xlsx", "hostile/report.xlsx", "hostile/portfolio-ai-infra/portfolio.xlsx", "hostile/explain.xlsx"];
    for (i, b) in books.iter().enumerate() {
        let mut book = open(&out.join(b));
        assert_no_formulas(&mut book);
        let all = strings(&mut book);
        let wanted: &[&str] = match i {
            0 => &[HYPERLINK, SUM, SCRIPT],
            1 => &[HYPERLINK, SUM, SCRIPT],
            2 => &[HYPERLINK],
            _ => &[],
        };
        for s in wanted {
            assert!(all.iter().any(|x| x.contains(s)), "{b}: {s} arrives as typed");
        }
        if i == 1 {
            assert!(all.iter().any(|x| x == &format!("{SCRIPT} {SUM}")), "the comment, as typed");
        }
    }
}

/// The workbook as a reader sees it: `scripts/xlsx-pages.sh` turns it into
/// PDF and PNG pages with LibreOffice, and the charts are on the pages (their
/// titles and axis names are in the PDF's text). Skipped with a message
/// when LibreOffice cannot be had.
#[test]
fn the_workbook_pages_render_in_libreoffice() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let q = ["--paths", "20000", "--quiet", "--no-charts", "--out"];
    cmd().args(["run", "scenarios/openai-shift.toml"]).args(q).arg(&out).assert().success();
    let pages = dir.path().join("pages");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/xlsx-pages.sh");
    let run = std::process::Command::new(script)
        .arg(out.join("openai-shift/report.xlsx"))
        .arg(&pages)
        .arg("40")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    if run.status.code() == Some(3) {
        eprintln!("SKIPPED the LibreOffice pages of the workbook test: {stderr}");
        return;
    }
    assert!(run.status.success(), "xlsx-pages.sh: {stderr}");
    let pngs = std::fs::read_dir(&pages)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "png"));
    assert!(pngs.count() >= 9, "a page or more per sheet");
    let text = std::process::Command::new("pdftotext").arg(pages.join("report.pdf")).arg("-").output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    for drawn in [
        "Backlog: Microsoft Azure, bands over paths",
        "Revenue per quarter: Microsoft Azure",
        "p25 to p75",
        "Microsoft Azure: exceedance",
        "loss, $bn, bin from (orange: beyond VaR99; red: the bin of ES99)",
    ] {
        assert!(text.contains(drawn), "the pages show {drawn:?}");
    }
}
