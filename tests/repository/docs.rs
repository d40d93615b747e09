//! Measured figures are kept in one place, docs/performance.md, with the command that
//! gives each. The README may quote them, but every size, time, ratio or rate it quotes
//! must stand there as written, so a new measurement cannot leave an old figure behind
//! in the README (as "5.4 MiB" once outlived the 4.41-4.48 MiB that replaced it).

use std::collections::BTreeSet;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Units of measured figures. Longer units first, so "MiB" is not read as "B".
const UNITS: [&str; 5] = [" MiB", " µs", " ms", "×", "/s"];

/// Every figure in `text` with one of [`UNITS`]: "4.36-4.44 MiB", "1.35-1.69×", "9,304/s".
fn figures(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for unit in UNITS {
        for (at, _) in text.match_indices(unit) {
            let number: String = text[..at]
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | '-'))
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            let number = number.trim_start_matches(['-', ',', '.']);
            if number.starts_with(|c: char| c.is_ascii_digit()) {
                found.insert(format!("{number}{unit}"));
            }
        }
    }
    found
}

#[test]
fn figures_are_read_as_written() {
    let text =
        "took 4.36-4.44 MiB and 1.35-1.69×, then 9,304/s and 37-42 µs; a µs alone is not one";
    let expected = ["1.35-1.69×", "37-42 µs", "4.36-4.44 MiB", "9,304/s"];
    assert_eq!(figures(text), expected.map(String::from).into());
}

#[test]
fn every_figure_the_readme_quotes_is_in_performance_md() {
    let performance = read("docs/performance.md");
    let missing: Vec<String> = figures(&read("README.md"))
        .into_iter()
        .filter(|figure| !performance.contains(figure.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "README.md quotes figures docs/performance.md does not have: {missing:?}"
    );
}
