//! `cargo test --test upgrade`: the upgrade suite, one libtest trial per `upgrade::chart::case`.
chart_harness::suite_main!("upgrade");
