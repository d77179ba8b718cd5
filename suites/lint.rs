//! `cargo test --test lint`: the lint suite, one libtest trial per `lint::chart::case`.
chart_harness::suite_main!("lint");
