//! Restart intensity: at most N restarts within a sliding period.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Sliding-window restart counter.
#[derive(Debug)]
pub(crate) struct RestartWindow {
    max: u32,
    period: Duration,
    times: VecDeque<Instant>,
}

impl RestartWindow {
    pub(crate) fn new(max: u32, period: Duration) -> Self {
        RestartWindow {
            max,
            period,
            times: VecDeque::new(),
        }
    }

    /// Records a restart at `now`. Returns `false` when this restart exceeds the intensity
    /// (more than `max` restarts within `period`).
    pub(crate) fn record(&mut self, now: Instant) -> bool {
        while let Some(&t) = self.times.front() {
            if now.duration_since(t) > self.period {
                self.times.pop_front();
            } else {
                break;
            }
        }
        self.times.push_back(now);
        self.times.len() as u32 <= self.max
    }

    /// Restarts within the current period (after the last `record`).
    pub(crate) fn recent(&self) -> u32 {
        self.times.len() as u32
    }

    pub(crate) fn clear(&mut self) {
        self.times.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_max_then_refuses_within_period() {
        let mut w = RestartWindow::new(3, Duration::from_secs(5));
        let t0 = Instant::now();
        assert!(w.record(t0));
        assert!(w.record(t0 + Duration::from_secs(1)));
        assert!(w.record(t0 + Duration::from_secs(2)));
        assert!(!w.record(t0 + Duration::from_secs(3)));
    }

    #[test]
    fn old_restarts_leave_the_window() {
        let mut w = RestartWindow::new(1, Duration::from_secs(5));
        let t0 = Instant::now();
        assert!(w.record(t0));
        assert!(w.record(t0 + Duration::from_secs(6)));
        assert_eq!(w.recent(), 1);
    }
}
