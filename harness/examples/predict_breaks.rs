//! `immutable_fields::predict` over two renders of a chart, for `ci/predict-history.sh`,
//! which runs it over the version bumps of a chart repository's history. Not part of
//! the product: the upgrade suite calls `predict` itself.
//!
//! `cargo run -p chart-harness --example predict_breaks -- <baseline.yaml> <candidate.yaml>`
//! prints one JSON object a line per predicted break: kind, name, template, field, old
//! and new value, and the rule.

use std::path::Path;
use std::process::ExitCode;

use chart_harness::immutable_fields;
use chart_harness::manifest;
use serde_json::json;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [baseline, candidate] = args.as_slice() else {
        eprintln!("usage: predict_breaks <baseline.yaml> <candidate.yaml>");
        return ExitCode::from(2);
    };
    let read = |path: &str| match std::fs::read_to_string(path) {
        Ok(text) => Some(manifest::parse(&text, Path::new("")).0),
        Err(error) => {
            eprintln!("cannot read {path}: {error}");
            None
        }
    };
    let (Some(baseline), Some(candidate)) = (read(baseline), read(candidate)) else {
        return ExitCode::from(2);
    };
    for found in immutable_fields::predict(&baseline, &candidate) {
        println!(
            "{}",
            json!({
                "kind": found.kind,
                "name": found.name,
                "template": found.template,
                "field": found.field,
                "old": found.old,
                "new": found.new,
                "rule": found.rule.id,
            })
        );
    }
    ExitCode::SUCCESS
}
