fn main() -> std::process::ExitCode {
    chart_harness::cli::main()
}
