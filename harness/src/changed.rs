//! Which charts changed since the merge-base with the target branch, and whether a
//! changed chart bumped its version.
//!
//! SKELETON: owned by the config/discovery helper.

use std::path::Path;

use crate::config::HarnessConfig;
use crate::discovery::Chart;
use crate::suites::Problem;

/// The `version-increment` lint check: when `check-version-increment` is on and the
/// chart has changes since the merge-base (ignoring files `.helmignore` excludes when
/// `use-helmignore` is on), its version must be greater than the target branch's.
pub async fn check_version_increment(
    repo_root: &Path,
    config: &HarnessConfig,
    chart: &Chart,
    git: &Path,
) -> Vec<Problem> {
    let _ = (repo_root, config, chart, git);
    todo!()
}
