use std::process::ExitCode;

use backlog_risk_cli::cli::{Cli, Command};
use backlog_risk_cli::{app, interrupt};
use clap::Parser;

/// The exit status of a run whose `--precision` target was not met (every
/// scenario ran; 1 when one failed, 2 when the command could not start).
const UNMET: u8 = 3;

/// 0 for success, 1 when some input failed.
fn status(ok: bool) -> u8 {
    if ok { 0 } else { 1 }
}

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
    backlog_risk_cli::interrupt::install();
    let result = match cli.command {
        Command::Run(args) if args.split.shard.is_some() => match args.split.resolve() {
            Ok(shard) => {
                app::run_shard(&app::RunOptions { allow_huge: true, ..args.into_options() }, shard.expect("guarded"))
                    .map(status)
            }
            Err(e) => Err(anyhow::anyhow!(e)),
        },
        Command::Run(args) => {
            let opts = args.into_options();
            app::run(&opts).map(|outcomes| {
                let stopped = interrupt::happened();
                // What an interrupt left written and not is said with --quiet too.
                if (outcomes.len() > 1 && !opts.quiet) || stopped {
                    eprint!("{}", app::batch_report(&outcomes));
                }
                if stopped {
                    interrupt::STATUS
                } else if outcomes.iter().any(|o| o.result.is_err()) {
                    1
                } else if outcomes.iter().any(|o| !o.met) {
                    UNMET
                } else {
                    0
                }
            })
        }
        Command::Validate(args) if args.inputs.is_empty() => {
            app::validate(&["scenarios".into()], args.quiet).map(status)
        }
        Command::Validate(args) => app::validate(&args.inputs, args.quiet).map(status),
        Command::Show(args) => app::show(&args.file).map(status),
        Command::Stress(args) => match args.split.resolve() {
            Ok(shard) => {
                let opts = args.common.into_options(args.inputs, args.paired);
                app::stress(
                    &args.portfolio,
                    &app::RunOptions { allow_huge: opts.allow_huge || shard.is_some(), ..opts },
                    shard,
                )
                .map(status)
            }
            Err(e) => Err(anyhow::anyhow!(e)),
        },
        Command::Sweep(args) => match args.split.resolve() {
            Ok(shard) => app::sweep(&app::SweepOptions { shard, ..args.into_options() }).map(|_| 0),
            Err(e) => Err(anyhow::anyhow!(e)),
        },
        Command::Explain(args) => {
            let what = app::ExplainWhat {
                metric: args.metric.clone(),
                by_rule: args.by == "rule",
                attribution: args.analysis == "all" || args.analysis == "attribution",
                sensitivity: args.analysis == "all" || args.analysis == "sensitivity",
                given: args.given.clone().map(|c| backlog_risk::api::GivenWhat {
                    conditions: c.0,
                    top: args.top as usize,
                    min_hits: args.min_hits.map(|n| (n, args.max_paths)),
                }),
            };
            app::explain(&args.common.into_options(args.inputs, None), &what, args.variant).map(status)
        }
        Command::Path(args) => {
            let opts = args.common.into_options(vec![args.file.clone()], None);
            app::path(&args.file, args.path, args.variant, &opts).map(status)
        }
        Command::Merge(args) => {
            let inputs = args.inputs.clone();
            let (opts, out) = args.into_options();
            app::merge(&inputs, &opts, out.is_none()).map(|_| 0)
        }
        Command::Serve(args) => app::serve(&args).map(|_| 0),
        Command::Completions(args) => {
            backlog_risk_cli::cli::completions(args.shell, &mut std::io::stdout());
            Ok(0)
        }
        Command::Man(args) => backlog_risk_cli::cli::man_pages(&args.out)
            .map(|files| {
                files.iter().for_each(|f| println!("wrote {}", f.display()));
                0
            })
            .map_err(|e| anyhow::anyhow!("cannot write the man pages into {}: {e}", args.out.display())),
    };
    match result {
        Ok(code) if interrupt::happened() => {
            if code != interrupt::STATUS {
                eprintln!("interrupted by Ctrl-C: what is listed above as written was written; the rest was not");
            }
            ExitCode::from(interrupt::STATUS)
        }
        Ok(code) => ExitCode::from(code),
        Err(e) if interrupt::happened() => {
            eprintln!("error: {}", backlog_risk_cli::errors::text(&e));
            eprintln!("nothing of the work under way was written; its output folder is as it was");
            ExitCode::from(interrupt::STATUS)
        }
        Err(e) => {
            eprintln!("error: {}", backlog_risk_cli::errors::text(&e));
            ExitCode::from(2)
        }
    }
}
