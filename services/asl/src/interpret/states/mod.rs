//! The work of the state kinds that await something or take more than a few lines: one
//! module per kind. Pass, Succeed and Fail are simple enough to live in `data_flow`.

mod choice;
mod map;
mod parallel;
mod task;
mod wait;
