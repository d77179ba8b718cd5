//! Which charts changed since the merge-base with the target branch.
//! SKELETON: owned by the config/discovery helper.
