//! `cargo test --test integration`: the integration suite over the configured charts on
//! the run's cluster, one trial per `integration::chart::case`.

fn main() -> std::process::ExitCode {
    chart_harness::libtest::main(
        chart_harness::plan::Suite::Integration,
        env!("CARGO_MANIFEST_DIR"),
    )
}
