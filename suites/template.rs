//! `cargo test --test template`: the template suite, one libtest trial per `template::chart::case`.
chart_harness::suite_main!("template");
