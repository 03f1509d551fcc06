//! The work of the state kinds that await something or take more than a few lines: one
//! module per kind. Pass, Succeed and Fail are simple enough to live in `data_flow`, and
//! Parallel's branches are run from there too, so that its future stays inline.

mod choice;
mod map;
mod task;
mod wait;
