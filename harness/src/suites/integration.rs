//! The integration suite. SKELETON: owned by the integration helper.

use super::{PhaseRecorder, SuiteContext};
use crate::plan::Trial;

pub async fn run(trial: &Trial, ctx: &SuiteContext, recorder: &mut PhaseRecorder) {
    let _ = (trial, ctx, recorder);
    todo!()
}
