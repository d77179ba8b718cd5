//! `cargo test --test template`: the template suite over the configured charts, one
//! trial per `template::chart::case`.

fn main() -> std::process::ExitCode {
    chart_harness::libtest::main(
        chart_harness::plan::Suite::Template,
        env!("CARGO_MANIFEST_DIR"),
    )
}
