//! # backlog-risk
//!
//! Monte Carlo simulation of revenue-backlog concentration risk: how much of
//! a cloud provider's contracted backlog could disappear when a large
//! customer shifts spend or renegotiates.
//!
//! This is the core of the workspace: no command line, no console, no file
//! writes. Front-ends (the `backlog-risk` binary, and next the Python module
//! and the web explorer) call [`api`], whose functions take validated inputs,
//! [`api::Options`] and an [`api::Observer`] (progress, [`Cancel`]) and
//! return typed results or an [`Error`].
//!
//! The pipeline, each step a plain function over plain data:
//!
//! 1. [`scenario::load`] / [`scenario::parse`]: TOML -> validated [`model::Scenario`];
//! 2. [`engine::Engine::run`]: scenario -> [`engine::Accumulator`] (parallel, reproducible);
//! 3. [`report::summarise`]: accumulator -> [`report::ScenarioSummary`];
//! 4. [`writers`]: summary -> the bytes of `summary.csv`, `fan.csv`, `run.json`, charts.
//!
//! ```
//! use backlog_risk::{engine::Engine, report, scenario};
//! let text = r#"
//! [scenario]
//! name = "doc"
//! start = "2026Q1"
//! quarters = 4
//! paths = 1000
//! seed = 1
//! [providers.azure]
//! recognition = 0.07
//! [customers.openai]
//! backlog = { azure = 100.0 }
//! [[renegotiation]]
//! customer = "openai"
//! provider = "azure"
//! hazard = 0.2
//! severity = { dist = "uniform", min = 0.1, max = 0.3 }
//! "#;
//! let sc = scenario::parse(text, "doc.toml".as_ref()).unwrap();
//! let engine = Engine::new(&sc);
//! let acc = engine.run(sc.seed, sc.paths, &|_| {});
//! let summary = report::summarise(&engine, &acc, sc.seed);
//! let loss = summary.metric("loss.azure").unwrap();
//! assert!(loss.mean > 0.0 && loss.es99.unwrap() >= loss.var99.unwrap());
//! ```

// Comparisons such as `!(max > min)` are deliberate: they reject NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod analysis;
pub mod api;
pub mod cancel;
pub mod dist;
pub mod engine;
pub mod error;
pub mod math;
pub mod metric;
pub mod model;
pub mod portfolio;
pub mod precision;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod stats;
pub mod writers;

pub use cancel::Cancel;
pub use error::{Error, Result};
