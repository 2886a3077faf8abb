//! The README's examples work as written.

use crate::common;

/// The first ```toml block under "## Scenario files".
fn scenario_example() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme.find("## Scenario files").expect("the section")..];
    let start = section.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let len = section[start..].find("```").expect("its end");
    section[start..start + len].to_string()
}

#[test]
fn the_scenario_example_validates() {
    let text = scenario_example();
    let sc = common::parse(&text).unwrap_or_else(|e| panic!("the README's scenario example is refused: {e}"));
    assert_eq!(sc.name, "openai-shift");
    assert_eq!((sc.providers.len(), sc.customers.len(), sc.rules.len()), (2, 1, 1));
    assert_eq!(sc.providers[sc.focus].display, "Microsoft Azure");
}
