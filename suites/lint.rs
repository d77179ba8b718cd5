//! `cargo test --test lint`: the lint suite over the configured charts, one trial per
//! `lint::chart::case`.

fn main() -> std::process::ExitCode {
    chart_harness::libtest::main(chart_harness::plan::Suite::Lint, env!("CARGO_MANIFEST_DIR"))
}
