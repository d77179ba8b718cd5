//! `cargo test --test integration`: the integration suite, one libtest trial per `integration::chart::case`.
chart_harness::suite_main!("integration");
