//! Every rejected scenario: one test each, asserting on the message (file,
//! field path, line, what to change).

use crate::common;

use common::parse;

const BASE: &str = r#"[scenario]
name = "v"
start = "2026Q1"
quarters = 8
paths = 100
seed = 1

[providers.azure]
recognition = 0.069

[providers.aws]
recognition = 0.05

[customers.openai]
bookings = 10.0
backlog = { azure = 281.0 }
allocation = { azure = 0.45, aws = 0.55 }

[[customers.openai.shift]]
from = "azure"
target = 0.2
half_life = 8.0
to = { aws = 1.0 }

[[renegotiation]]
customer = "openai"
provider = "azure"
hazard = 0.1
severity = 0.2
migrate = 0.5
to = { aws = 1.0 }
"#;

/// Replace `from` (which must occur) in BASE and return the error text.
fn error_after(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "test bug: {from:?} not in BASE");
    let text = BASE.replacen(from, to, 1);
    parse(&text).expect_err("should be rejected").to_string()
}

fn assert_has(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} lacks {p:?}");
    }
}

#[test]
fn base_is_valid() {
    let sc = parse(BASE).unwrap();
    assert_eq!(sc.providers.len(), 2);
    assert_eq!(sc.rules[0].to, vec![0.0, 1.0]);
}

#[test]
fn unknown_key_is_rejected_with_path_and_line() {
    let msg = error_after("hazard = 0.1", "hazard = 0.1\nhazzard = 0.2");
    assert_has(&msg, &["test.toml:29", "renegotiation[0].hazzard", "unknown field `hazzard`", "remove it"]);
}

#[test]
fn unknown_key_in_a_distribution_is_rejected() {
    let msg = error_after("severity = 0.2", "severity = { dist = \"pert\", min = 0.1, mdoe = 0.2, max = 0.3 }");
    assert_has(&msg, &["test.toml:29", "renegotiation[0].severity.mdoe", "unknown field `mdoe`"]);
}

#[test]
fn unknown_provider_is_named() {
    let msg = error_after("backlog = { azure = 281.0 }", "backlog = { azure = 281.0, oci = 5.0 }");
    assert_has(&msg, &["test.toml:16", "customers.openai.backlog.oci", "unknown provider `oci`", "[providers.oci]"]);
}

#[test]
fn unknown_customer_is_named() {
    let msg = error_after("customer = \"openai\"", "customer = \"anthropic\"");
    assert_has(&msg, &["renegotiation[0].customer", "unknown customer `anthropic`", "openai"]);
}

#[test]
fn allocation_must_sum_to_one() {
    let msg = error_after("allocation = { azure = 0.45, aws = 0.55 }", "allocation = { azure = 0.45, aws = 0.50 }");
    assert_has(&msg, &["customers.openai.allocation", "sum to 0.95", "add up to 1", "test.toml:17"]);
}

#[test]
fn allocation_within_tolerance_is_accepted() {
    let text = BASE.replace("aws = 0.55 }", "aws = 0.5500000000001 }");
    parse(&text).unwrap();
}

#[test]
fn shift_target_above_the_starting_allocation_is_rejected() {
    let msg = error_after("target = 0.2", "target = { dist = \"uniform\", min = 0.1, max = 0.5 }");
    assert_has(&msg, &["customers.openai.shift[0].target", "up to 0.5", "at most 0.45", "lower its upper end"]);
}

#[test]
fn support_outside_a_share_is_rejected() {
    let msg = error_after("severity = 0.2", "severity = { dist = \"uniform\", min = 0.1, max = 1.2 }");
    assert_has(&msg, &["renegotiation[0].severity", "up to 1.2", "a share must be at most 1"]);
}

#[test]
fn untruncated_normal_for_a_bounded_parameter_is_rejected() {
    let msg = error_after("hazard = 0.1", "hazard = { dist = \"normal\", mean = 0.1, sd = 0.05 }");
    assert_has(&msg, &["renegotiation[0].hazard", "without a lower bound", "add `min` truncation"]);
}

#[test]
fn truncated_normal_inside_the_range_is_accepted() {
    let text =
        BASE.replace("hazard = 0.1", "hazard = { dist = \"normal\", mean = 0.1, sd = 0.05, min = 0.0, max = 1.0 }");
    parse(&text).unwrap();
}

#[test]
fn negative_backlog_is_rejected() {
    let msg = error_after("azure = 281.0", "azure = -1.0");
    assert_has(&msg, &["customers.openai.backlog.azure", "-1", "at least 0"]);
}

#[test]
fn half_life_must_be_positive() {
    let msg = error_after("half_life = 8.0", "half_life = { dist = \"uniform\", min = 0.0, max = 4.0 }");
    assert_has(&msg, &["customers.openai.shift[0].half_life", "must be above 0"]);
}

#[test]
fn loading_must_lie_in_minus_one_one() {
    let msg = error_after("bookings = 10.0", "bookings = 10.0\nbeta = 1.5");
    assert_has(&msg, &["customers.openai.beta", "a factor loading must be at most 1"]);
}

#[test]
fn missing_distribution_field_is_named() {
    let msg = error_after("severity = 0.2", "severity = { dist = \"triangular\", min = 0.1, max = 0.3 }");
    assert_has(&msg, &["renegotiation[0].severity", "triangular needs `mode`"]);
}

#[test]
fn unknown_distribution_family_is_rejected() {
    let msg = error_after("severity = 0.2", "severity = { dist = \"gamma\", mean = 0.2 }");
    assert_has(&msg, &["unknown distribution `gamma`", "pert"]);
}

#[test]
fn missing_allocation_for_a_booking_customer_is_rejected() {
    let msg = error_after("allocation = { azure = 0.45, aws = 0.55 }\n", "");
    assert_has(&msg, &["customers.openai.allocation", "missing"]);
}

#[test]
fn migration_without_destinations_is_rejected() {
    let msg = error_after("migrate = 0.5\nto = { aws = 1.0 }", "migrate = 0.5");
    assert_has(&msg, &["renegotiation[0].to", "missing"]);
}

#[test]
fn destination_equal_to_the_source_is_rejected() {
    let msg = error_after("migrate = 0.5\nto = { aws = 1.0 }", "migrate = 0.5\nto = { azure = 1.0 }");
    assert_has(&msg, &["renegotiation[0].to.azure", "another provider"]);
}

#[test]
fn two_rules_for_one_pair_are_rejected() {
    let rule = "\n[[renegotiation]]\ncustomer = \"openai\"\nprovider = \"azure\"\nhazard = 0.1\nseverity = 0.2\n";
    let text = format!("{BASE}{rule}");
    let msg = parse(&text).unwrap_err().to_string();
    assert_has(&msg, &["renegotiation[1]", "at most one rule per pair"]);
}

#[test]
fn two_shifts_from_one_provider_are_rejected() {
    let shift = "\n[[customers.openai.shift]]\nfrom = \"azure\"\ntarget = 0.3\nhalf_life = 4.0\nto = { aws = 1.0 }\n";
    let msg = error_after("\n[[renegotiation]]", &format!("{shift}\n[[renegotiation]]"));
    assert_has(&msg, &["customers.openai.shift[1]", "at most one shift per `from` provider"]);
}

#[test]
fn bad_scenario_name_is_rejected() {
    let msg = error_after("name = \"v\"", "name = \"My Scenario\"");
    assert_has(&msg, &["scenario.name", "a-z, 0-9"]);
}

#[test]
fn bad_start_quarter_is_rejected() {
    let msg = error_after("start = \"2026Q1\"", "start = \"2026-01\"");
    assert_has(&msg, &["scenario.start", "YYYYQn"]);
}

#[test]
fn toml_syntax_error_names_the_line() {
    let msg = error_after("hazard = 0.1", "hazard = ");
    assert_has(&msg, &["test.toml:28"]);
}

#[test]
fn wrong_type_names_the_field() {
    let msg = error_after("quarters = 8", "quarters = \"eight\"");
    assert_has(&msg, &["scenario.quarters", "test.toml:4"]);
}

#[test]
fn plain_number_where_a_table_is_needed_is_rejected() {
    let msg = error_after(
        "allocation = { azure = 0.45, aws = 0.55 }",
        "allocation = { azure = { dist = \"uniform\", min = 0.4, max = 0.5 }, aws = 0.55 }",
    );
    assert_has(&msg, &["customers.openai.allocation"]);
}

#[test]
fn names_too_long_for_a_file_name_are_rejected() {
    let long = "a".repeat(256);
    let msg = error_after("name = \"v\"", &format!("name = \"{long}\""));
    assert_has(&msg, &["scenario.name", "too long (256 characters)", "at most 64", "output folder"]);
    let msg = error_after("[providers.aws]", &format!("[providers.{long}]\nrecognition = 0.05\n[providers.aws]"));
    assert_has(&msg, &["too long (256 characters)", "at most 64"]);
    // 64 characters are fine.
    assert!(parse(&BASE.replacen("name = \"v\"", &format!("name = \"{}\"", "b".repeat(64)), 1)).is_ok());
}

#[test]
fn focus_names_a_provider_and_defaults_to_the_first() {
    assert_eq!(parse(BASE).unwrap().focus, 0, "the first provider in the file");
    let sc = parse(&BASE.replacen("seed = 1", "seed = 1\nfocus = \"aws\"", 1)).unwrap();
    assert_eq!(sc.focus, 1);
    let msg = error_after("seed = 1", "seed = 1\nfocus = \"oci\"");
    assert_has(&msg, &["test.toml:7", "scenario.focus", "unknown provider `oci`"]);
}

#[test]
fn display_names_a_provider_in_charts_and_defaults_to_its_key() {
    let sc = parse(&BASE.replacen("recognition = 0.05", "recognition = 0.05\ndisplay = \"Amazon AWS\"", 1)).unwrap();
    assert_eq!((sc.providers[0].display.as_str(), sc.providers[1].display.as_str()), ("azure", "Amazon AWS"));
    let msg = error_after("recognition = 0.05", "recognition = 0.05\ndisplay = \"  \"");
    assert_has(&msg, &["providers.aws.display", "1 to 40 characters"]);
}

#[test]
fn an_unknown_family_is_named_whatever_its_fields() {
    let msg = error_after("severity = 0.2", "severity = { shape = 2.0, dist = \"weibull\", scale = 0.1 }");
    assert_has(&msg, &["test.toml:29", "renegotiation[0].severity", "unknown distribution `weibull`", "pert, normal"]);
    let msg = error_after("severity = 0.2", "severity = { min = 0.1, max = 0.3 }");
    assert_has(&msg, &["renegotiation[0].severity", "add `dist = \"...\"`", "uniform"]);
    let msg =
        error_after("severity = 0.2", "severity = { dist = \"discrete\", values = [0.1, \"x\"], weights = [1, 0] }");
    assert_has(&msg, &["renegotiation[0].severity.values[1]", "expected a number"]);
}

#[test]
fn whole_numbers_may_be_written_as_floats() {
    let sc = parse(
        &BASE.replace("paths = 100\n", "paths = 1e4\n").replace("hazard = 0.1\n", "hazard = 0.1\nmax_events = 2.0\n"),
    )
    .unwrap();
    assert_eq!((sc.paths, sc.rules[0].max_events), (10_000, 2));
}

#[test]
fn whole_numbers_out_of_reach_say_what_to_write() {
    let msg = error_after("seed = 1", "seed = 18446744073709551615");
    assert_has(&msg, &["scenario.seed", "out of range", "between 0 and 9223372036854775807"]);
    let msg = error_after("hazard = 0.1\n", "hazard = 0.1\nmax_events = 1.5\n");
    assert_has(&msg, &["renegotiation[0].max_events", "1.5 is not a whole number", "between 0 and 10000"]);
    let msg = error_after("quarters = 8", "quarters = 8.5");
    assert_has(&msg, &["scenario.quarters", "not a whole number", "between 1 and 400"]);
}
