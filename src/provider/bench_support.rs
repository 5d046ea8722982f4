//! Benchmark-only support (feature `bench-internals`): the benchmark is an external crate
//! and cannot reach the scheduler-private `SliceToken::new`. Not compiled into kernel builds.

use std::time::{Duration, Instant};

use crate::pid::Pid;
use crate::scheduler::SliceToken;

/// A slice token valid for `ttl`, as the scheduler would grant it.
pub fn token(pid: Pid, priority: u8, ttl: Duration) -> SliceToken {
    SliceToken::new(0, pid, None, priority, u64::MAX, Instant::now() + ttl)
}
