//! The integration tests, in one binary: one build and one link of the
//! crate for all of them (each file is a module; `common` holds helpers).

mod common;

mod api;
mod batch;
mod charts;
mod cli;
mod closed_form;
mod damaged;
mod edges;
mod engine;
mod explain;
mod exporters;
mod faults;
mod fuzz;
mod given;
mod injection;
mod model;
mod path;
mod pinned;
mod portfolio;
mod portfolio_edges;
mod priors;
mod quiet;
mod readme;
mod report;
mod sampling;
mod serve;
mod shards;
mod summary_json;
mod validation;
mod workbook;
