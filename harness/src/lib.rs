//! chart-harness: lint, render, install and verify every chart of a Helm chart repository,
//! in parallel, with timings for every phase.
//!
//! Data flows one way: [`config`] and [`discovery`] find the charts and their cases,
//! [`plan`] turns them into named trials of the suites declared in [`registry`],
//! [`run`] assembles what they run with, [`runner`] executes the [`suites`] and emits
//! [`report`] events, and reporters turn events into output. Every external process goes
//! through [`tools`]. The cluster suites act through the [`release`] lifecycle layer.

pub mod activity;
pub mod backup_objectives;
pub mod changed;
pub mod chartfile;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod deprecations;
pub mod discovery;
pub mod files;
pub mod gate;
pub mod immutable_fields;
pub mod k8s;
pub mod kube_version;
pub mod libtest;
pub mod manifest;
pub mod matrix;
pub mod plan;
pub mod problem;
pub mod registry;
pub mod release;
pub mod repo_tree;
pub mod report;
pub mod run;
pub mod runner;
pub mod session;
pub mod suites;
pub mod tools;
pub mod yaml;
