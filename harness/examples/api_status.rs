//! `deprecations::Deprecations::status` over rendered manifests, for `ci/compare-policy.sh`,
//! which sets its answers beside pluto's. Not part of the product.
//!
//! `cargo run -p chart-harness --example api_status -- <rendered.yaml> <target>...`
//! prints one JSON object a line per manifest: its apiVersion, kind, name, namespace
//! and, per target release, `current`, `deprecated` or `removed` with the release it
//! happened in and the replacement.

use std::path::Path;
use std::process::ExitCode;

use chart_harness::deprecations::{ApiStatus, Deprecations};
use serde_json::{Value, json};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((rendered, targets)) = args.split_first().filter(|(_, t)| !t.is_empty()) else {
        eprintln!("usage: api_status <rendered.yaml> <target release>...");
        return ExitCode::from(2);
    };
    let targets: Vec<semver::Version> = match targets
        .iter()
        .map(|t| semver::Version::parse(t.trim_start_matches('v')))
        .collect()
    {
        Ok(targets) => targets,
        Err(error) => {
            eprintln!("a target is not a release such as 1.37.0: {error}");
            return ExitCode::from(2);
        }
    };
    let repo_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let apis = match Deprecations::installed(&repo_root) {
        Ok(apis) => apis,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    let text = match std::fs::read_to_string(rendered) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("cannot read {rendered}: {error}");
            return ExitCode::from(2);
        }
    };
    let (manifests, problems) = chart_harness::manifest::parse(&text, Path::new(""));
    for problem in problems {
        eprintln!("{}", problem.message);
    }
    for manifest in manifests {
        let field = |pointer: &str| manifest.value.pointer(pointer).and_then(Value::as_str);
        let (Some(api_version), Some(kind)) = (field("/apiVersion"), field("/kind")) else {
            continue;
        };
        let statuses: serde_json::Map<String, Value> = targets
            .iter()
            .map(|target| {
                let status = match apis.status(api_version, kind, target) {
                    ApiStatus::Current => json!({ "status": "current" }),
                    ApiStatus::Deprecated { since, replacement } => json!({
                        "status": "deprecated",
                        "since": since.to_string(),
                        "replacement": replacement.map(|r| r.to_string()),
                    }),
                    ApiStatus::Removed { since, replacement } => json!({
                        "status": "removed",
                        "since": since.to_string(),
                        "replacement": replacement.map(|r| r.to_string()),
                    }),
                };
                (target.to_string(), status)
            })
            .collect();
        println!(
            "{}",
            json!({
                "apiVersion": api_version,
                "kind": kind,
                "name": field("/metadata/name"),
                "namespace": field("/metadata/namespace"),
                "source": manifest.source,
                "targets": statuses,
            })
        );
    }
    ExitCode::SUCCESS
}
