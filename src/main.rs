use std::process::ExitCode;

use backlog_risk_cli::app;
use backlog_risk_cli::cli::{Cli, Command};
use clap::Parser;

fn main() -> ExitCode {
    // Output piped into `head` ends the process quietly, as for other
    // command-line tools, instead of a panic about a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default action of a signal at start-up, before
    // any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) if args.split.shard.is_some() => match args.split.resolve() {
            Ok(shard) => {
                app::run_shard(&app::RunOptions { allow_huge: true, ..args.into_options() }, shard.expect("guarded"))
            }
            Err(e) => Err(anyhow::anyhow!(e)),
        },
        Command::Run(args) => {
            let opts = args.into_options();
            app::run(&opts).map(|outcomes| {
                if outcomes.len() > 1 && !opts.quiet {
                    eprint!("{}", app::batch_report(&outcomes));
                }
                outcomes.iter().all(|o| o.result.is_ok())
            })
        }
        Command::Validate(args) if args.inputs.is_empty() => app::validate(&["scenarios".into()]),
        Command::Validate(args) => app::validate(&args.inputs),
        Command::Show(args) => app::show(&args.file),
        Command::Stress(args) => match args.split.resolve() {
            Ok(shard) => {
                let opts = args.common.into_options(args.inputs, args.paired);
                app::stress(
                    &args.portfolio,
                    &app::RunOptions { allow_huge: opts.allow_huge || shard.is_some(), ..opts },
                    shard,
                )
            }
            Err(e) => Err(anyhow::anyhow!(e)),
        },
        Command::Sweep(args) => match args.split.resolve() {
            Ok(shard) => app::sweep(&app::SweepOptions { shard, ..args.into_options() }).map(|_| true),
            Err(e) => Err(anyhow::anyhow!(e)),
        },
        Command::Explain(args) => {
            let what = app::ExplainWhat {
                metric: args.metric.clone(),
                by_rule: args.by == "rule",
                attribution: args.analysis != "sensitivity",
                sensitivity: args.analysis != "attribution",
            };
            app::explain(&args.common.into_options(args.inputs, None), &what)
        }
        Command::Merge(args) => {
            let inputs = args.inputs.clone();
            let (opts, out) = args.into_options();
            app::merge(&inputs, &opts, out.is_none()).map(|_| true)
        }
        Command::Completions(args) => {
            backlog_risk_cli::cli::completions(args.shell, &mut std::io::stdout());
            Ok(true)
        }
        Command::Man(args) => backlog_risk_cli::cli::man_pages(&args.out)
            .map(|files| {
                files.iter().for_each(|f| println!("wrote {}", f.display()));
                true
            })
            .map_err(|e| anyhow::anyhow!("cannot write the man pages into {}: {e}", args.out.display())),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {}", backlog_risk_cli::errors::text(&e));
            ExitCode::from(2)
        }
    }
}
