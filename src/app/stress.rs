//! `stress`: a portfolio evaluated on every simulated path.

use super::*;

/// `backlog-risk stress`: evaluate a portfolio on every path of each
/// scenario; results in `OUT/NAME/portfolio-PORTFOLIO/`, and across
/// scenarios `OUT/portfolio-PORTFOLIO.csv` and `.png`. Returns whether every
/// scenario succeeded.
pub fn stress(portfolio_file: &Path, opts: &RunOptions) -> Result<bool> {
    let portfolio = crate::portfolio::load(portfolio_file).map_err(|e| anyhow::anyhow!(e))?;
    let files = collect_inputs(&opts.inputs)?;
    let pool = thread_pool(opts.threads)?;
    let mut loaded = Vec::new();
    for file in files {
        let sc = load_with_overrides(&file, opts).map(|(sc, _)| sc);
        loaded.push((file, sc));
    }
    let bar = progress_bar(loaded.iter().filter_map(|(_, r)| r.as_ref().ok()).map(|s| s.paths).sum(), opts.quiet);
    let mut results = Vec::new();
    let mut ok = true;
    for (file, sc) in loaded {
        let res = sc.map_err(|e| e.to_string()).and_then(|sc| {
            bar.set_prefix(format!("{} x {}", portfolio.name, sc.name));
            let engine = Engine::new(&sc);
            let bound = portfolio.bind(&engine).map_err(|e| format!("{}: {e}", file.display()))?;
            let r = pool.install(|| bound.stress(&engine, sc.seed, sc.paths, &|n| bar.inc(n)));
            write_stress(&r, opts).map_err(|e| format!("{}: {e:#}", file.display()))?;
            Ok(r)
        });
        match &res {
            Ok(r) if !opts.quiet => bar.suspend(|| {
                println!(
                    "{} under {}: expected P&L {}, VaR99 {}, ES99 {}, P(loss > 10%) {} [{} paths]",
                    r.portfolio,
                    r.scenario,
                    charts::fmt_amount(r.measure("expected_pnl").unwrap_or(f64::NAN)),
                    charts::fmt_amount(r.measure("var99").unwrap_or(f64::NAN)),
                    charts::fmt_amount(r.measure("es99").unwrap_or(f64::NAN)),
                    charts::fmt_pct(r.measure("p_loss_gt_10pct").unwrap_or(f64::NAN)),
                    r.paths
                )
            }),
            Err(e) => {
                ok = false;
                bar.suspend(|| eprintln!("error {e}"));
            }
            _ => {}
        }
        if let Ok(r) = res {
            results.push(r);
        }
    }
    bar.finish_and_clear();
    if !results.is_empty() {
        let rows: Vec<crate::portfolio::ScenarioRisk> =
            results.iter().map(crate::portfolio::ScenarioRisk::from).collect();
        let name = format!("portfolio-{}", portfolio.name);
        output::write_atomic(&opts.out.join(format!("{name}.csv")), &output::rows_csv(&rows)?)?;
        if opts.charts != Charts::None {
            let mut cmp: Vec<report::ComparisonRow> = results
                .iter()
                .map(|r| report::ComparisonRow {
                    scenario: r.scenario.clone(),
                    // The title names the portfolio; rows need only the scenario.
                    provider: String::new(),
                    mean: r.loss.mean,
                    p5: r.loss.p5,
                    p25: r.loss.p25,
                    p50: r.loss.p50,
                    p75: r.loss.p75,
                    p95: r.loss.p95,
                    var95: r.measure("var95").unwrap_or(f64::NAN),
                    es95: r.measure("es95").unwrap_or(f64::NAN),
                    var99: r.measure("var99").unwrap_or(f64::NAN),
                    es99: r.measure("es99").unwrap_or(f64::NAN),
                })
                .collect();
            cmp.sort_by(|a, b| b.es99.total_cmp(&a.es99));
            let title = format!("Portfolio {} across scenarios: loss (negative P&L)", portfolio.name);
            let png = charts::intervals_png(
                &cmp,
                &format!("{name}.png"),
                &title,
                "portfolio loss at the horizon (currency units)",
                &charts::fmt_amount,
                opts.chart_size,
            )?;
            output::write_atomic(&opts.out.join(format!("{name}.png")), &png)?;
        }
    }
    Ok(ok)
}

fn write_stress(r: &crate::portfolio::StressResult, opts: &RunOptions) -> Result<()> {
    let dir = opts.out.join(&r.scenario).join(format!("portfolio-{}", r.portfolio));
    output::write_atomic(&dir.join("pnl.csv"), &output::rows_csv(std::slice::from_ref(&r.pnl))?)?;
    output::write_atomic(&dir.join("risk.csv"), &output::rows_csv(&r.risk)?)?;
    output::write_atomic(&dir.join("contributions.csv"), &output::rows_csv(&r.contributions)?)?;
    output::write_atomic(&dir.join("tail.csv"), &output::rows_csv(&r.tail)?)?;
    if opts.charts != Charts::None {
        let neg = |m: &str| -r.measure(m).unwrap_or(f64::NAN);
        let plot = charts::DistributionPlot {
            file: "pnl.png",
            title: format!("{} under {}: P&L", r.portfolio, r.scenario),
            subtitle: format!(
                "Portfolio value {}, {} paths; VaR99 and ES99 drawn where the P&L equals minus the loss in risk.csv; {} of paths beyond the axis",
                charts::fmt_amount(r.value),
                r.paths,
                charts::fmt_pct(r.histogram.outside as f64 / r.paths as f64)
            ),
            xdesc: "P&L at the horizon (portfolio currency units)".to_string(),
            hist: &r.histogram,
            paths: r.paths,
            marks: vec![
                charts::Mark { label: "mean", x: r.pnl.mean, color: charts::style::DARK, dashed: false },
                charts::Mark { label: "VaR99", x: neg("var99"), color: charts::style::ACCENT, dashed: false },
                charts::Mark { label: "ES99", x: neg("es99"), color: charts::style::ACCENT, dashed: true },
            ],
            fmt: &charts::fmt_amount,
        };
        output::write_atomic(
            &dir.join("pnl.png"),
            &charts::distribution_png(&plot, opts.chart_size).context("cannot draw pnl.png")?,
        )?;
        output::write_atomic(
            &dir.join("contributions.png"),
            &charts::contributions_png(r, opts.chart_size).context("cannot draw contributions.png")?,
        )?;
    }
    Ok(())
}
