//! `cargo test --test backup_restore`: the backup-restore suite, one libtest trial per
//! `backup-restore::chart::case`.
chart_harness::suite_main!("backup-restore");
