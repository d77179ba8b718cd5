//! `cargo test --test policy`: the policy suite, one libtest trial per `policy::chart::case`.
chart_harness::suite_main!("policy");
