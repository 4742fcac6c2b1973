//! When a target is due: a 5-field cron expression in a time zone, a window
//! after each slot, and a per-target offset inside the window.
//!
//! The offset is a stable hash of the target name, so a target always
//! starts at the same point of its window and 500 targets on one cron
//! spread across the window instead of hitting the database and the
//! cluster at once. A daemon that was down simply waits for the next due
//! time: there are never catch-up rotations.

use crate::shared::Interned;
use chrono::{DateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds};
use croner::Cron;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Schedule {
    /// Shared by every schedule with the same expression: a parsed cron
    /// holds about 5 KB of tables, and thousands of targets usually share
    /// `defaults.schedule`.
    cron: Arc<Cron>,
    pub expression: String,
    pub timezone: Tz,
    pub window: Duration,
    /// A due time less than this after the last publish is skipped.
    pub min_interval: Duration,
}

/// The cron for `expression`, parsed once per process.
fn parsed(expression: &str) -> Result<Arc<Cron>, croner::errors::CronError> {
    static PARSED: Interned<String, Arc<Cron>> = Interned::new();
    PARSED.get_or_make(expression.to_owned(), |expression| {
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .build()
            .parse(expression)?;
        Ok(Arc::new(cron))
    })
}

impl Schedule {
    pub fn parse(
        expression: &str,
        timezone: &str,
        window: Duration,
        min_interval: Duration,
    ) -> Result<Schedule, (&'static str, String)> {
        let cron = parsed(expression).map_err(|e| {
            (
                "schedule",
                format!(
                    "expected a 5-field cron expression (minute hour day-of-month month \
                    day-of-week), got {expression:?}: {e}"
                ),
            )
        })?;
        let timezone: Tz = timezone.parse().map_err(|_| {
            (
                "timezone",
                format!(
                    "expected an IANA time zone such as UTC or Europe/Berlin, got {timezone:?}"
                ),
            )
        })?;
        Ok(Schedule {
            cron,
            expression: expression.to_owned(),
            timezone,
            window,
            min_interval,
        })
    }

    /// Where in the window `target` starts (whole seconds).
    pub fn offset(&self, target: &str) -> Duration {
        let window = self.window.as_secs();
        if window == 0 {
            return Duration::ZERO;
        }
        let digest = Sha256::digest(target.as_bytes());
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        Duration::from_secs(u64::from_be_bytes(bytes) % window)
    }

    fn slot_after(&self, t: DateTime<Utc>, inclusive: bool) -> Option<DateTime<Utc>> {
        // Cron slots are whole seconds; the callers compare with `t` again.
        let t = t.with_nanosecond(0)?;
        self.cron
            .find_next_occurrence(&t.with_timezone(&self.timezone), inclusive)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// The first due time of `target` strictly after `after`. A slot whose
    /// window holds `after` but whose offset has passed is not due again:
    /// the next slot is.
    pub fn next_due(&self, target: &str, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let offset = chrono::Duration::from_std(self.offset(target)).ok()?;
        // Slots that started up to one offset ago may still be due.
        let mut slot = self.slot_after(after - offset, true)?;
        loop {
            let due = slot + offset;
            if due > after {
                return Some(due);
            }
            slot = self.slot_after(slot, false)?;
        }
    }

    /// Like [`Schedule::next_due`], skipping due times within
    /// `min_interval` of the last publish.
    pub fn next_due_since(
        &self,
        target: &str,
        after: DateTime<Utc>,
        last_publish: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        let earliest = match (last_publish, chrono::Duration::from_std(self.min_interval)) {
            (Some(last), Ok(min)) if !min.is_zero() => {
                last + min - chrono::Duration::milliseconds(1)
            }
            _ => after,
        };
        self.next_due(target, after.max(earliest))
    }
}

/// Schedule time: the wall clock, or in tests a clock that starts at a
/// chosen instant and may run faster than real time, so a daemon can be
/// tested across cron slots in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start_utc: DateTime<Utc>,
    start: tokio::time::Instant,
    /// The wall clock when this clock started: stores stamp publishes with
    /// the wall clock, so comparisons with them go through it.
    start_wall: DateTime<Utc>,
    speed: f64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::starting_at(Utc::now(), 1.0)
    }
}

impl Clock {
    pub fn starting_at(start_utc: DateTime<Utc>, speed: f64) -> Clock {
        Clock {
            start_utc,
            start: tokio::time::Instant::now(),
            start_wall: Utc::now(),
            speed,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        let elapsed = self.start.elapsed().mul_f64(self.speed);
        self.start_utc + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }

    /// The wall-clock time at which this clock reads `at`.
    pub fn to_wall(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let ms = (at - self.start_utc).num_milliseconds() as f64 / self.speed;
        self.start_wall + chrono::Duration::milliseconds(ms as i64)
    }

    /// What this clock read at wall-clock time `wall`.
    pub fn from_wall(&self, wall: DateTime<Utc>) -> DateTime<Utc> {
        let ms = (wall - self.start_wall).num_milliseconds() as f64 * self.speed;
        self.start_utc + chrono::Duration::milliseconds(ms as i64)
    }

    /// A span of schedule time as wall-clock time.
    pub fn wall_span(&self, span: Duration) -> Duration {
        span.div_f64(self.speed)
    }

    /// Real time to wait until schedule time `at`.
    pub fn until(&self, at: DateTime<Utc>) -> Duration {
        (at - self.now())
            .to_std()
            .unwrap_or_default()
            .div_f64(self.speed)
    }
}

/// A UTC instant, for tests that name fixed times. Never used on input.
pub fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        // never panics: tests pass constant, valid times
        .expect("valid time")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekly() -> Schedule {
        Schedule::parse("0 3 * * 0", "UTC", Duration::ZERO, Duration::ZERO).unwrap()
    }

    #[test]
    fn cron_slots_in_utc() {
        // 2026-11-22 is a Sunday.
        let s = weekly();
        assert_eq!(
            s.next_due("t", utc(2026, 11, 21, 12, 0)),
            Some(utc(2026, 11, 22, 3, 0))
        );
        assert_eq!(
            s.next_due("t", utc(2026, 11, 22, 3, 0)),
            Some(utc(2026, 11, 29, 3, 0)),
            "strictly after"
        );
    }

    #[test]
    fn rejects_six_fields_bad_zones_and_nonsense() {
        assert_eq!(
            Schedule::parse("0 0 3 * * 0", "UTC", Duration::ZERO, Duration::ZERO)
                .unwrap_err()
                .0,
            "schedule"
        );
        assert_eq!(
            Schedule::parse("every day", "UTC", Duration::ZERO, Duration::ZERO)
                .unwrap_err()
                .0,
            "schedule"
        );
        assert_eq!(
            Schedule::parse("0 3 * * 0", "Mars/Olympus", Duration::ZERO, Duration::ZERO)
                .unwrap_err()
                .0,
            "timezone"
        );
    }

    #[test]
    fn timezone_and_daylight_saving() {
        let s = Schedule::parse(
            "30 2 * * *",
            "Europe/Berlin",
            Duration::ZERO,
            Duration::ZERO,
        )
        .unwrap();
        // Winter: 02:30 CET = 01:30 UTC.
        assert_eq!(
            s.next_due("t", utc(2026, 1, 10, 0, 0)),
            Some(utc(2026, 1, 10, 1, 30))
        );
        // Summer: 02:30 CEST = 00:30 UTC.
        assert_eq!(
            s.next_due("t", utc(2026, 7, 10, 0, 0)),
            Some(utc(2026, 7, 10, 0, 30))
        );
        // Spring forward (2026-03-29, 02:00 -> 03:00): 02:30 does not exist
        // that night. Whatever the library picks, there is one run per day,
        // the days before and after are on time, and time moves forward.
        let mut t = utc(2026, 3, 27, 12, 0);
        let mut runs = Vec::new();
        for _ in 0..4 {
            t = s.next_due("t", t).unwrap();
            runs.push(t);
        }
        assert_eq!(runs[0], utc(2026, 3, 28, 1, 30));
        assert_eq!(runs[2], utc(2026, 3, 30, 0, 30));
        assert!(runs[1] > runs[0] && runs[1] < runs[2], "{runs:?}");
        // Fall back (2026-10-25, 03:00 -> 02:00): 02:30 happens twice; one run.
        let day: Vec<_> = {
            let mut t = utc(2026, 10, 24, 12, 0);
            (0..3)
                .map(|_| {
                    t = s.next_due("t", t).unwrap();
                    t
                })
                .collect()
        };
        let on_the_25th = day
            .iter()
            .filter(|d| d.with_timezone(&s.timezone).format("%d").to_string() == "25")
            .count();
        assert_eq!(on_the_25th, 1, "{day:?}");
    }

    #[test]
    fn jitter_is_stable_and_spreads_500_targets_across_the_window() {
        let s = Schedule::parse(
            "0 3 * * *",
            "UTC",
            Duration::from_secs(7200),
            Duration::ZERO,
        )
        .unwrap();
        assert_eq!(s.offset("a"), s.offset("a"));
        let mut buckets = [0u32; 12];
        for i in 0..500 {
            let due = s
                .next_due(&format!("target-{i}"), utc(2026, 5, 1, 0, 0))
                .unwrap();
            let into = (due - utc(2026, 5, 1, 3, 0)).num_seconds();
            assert!((0..7200).contains(&into), "inside the window");
            buckets[(into / 600) as usize] += 1;
        }
        // Uniform would be ~42 per 10-minute bucket; none may be empty or hold a crowd.
        assert!(
            buckets.iter().all(|&n| (15..=80).contains(&n)),
            "{buckets:?}"
        );
    }

    #[test]
    fn no_catch_up_after_downtime() {
        let s = Schedule::parse(
            "0 * * * *",
            "UTC",
            Duration::from_secs(1800),
            Duration::ZERO,
        )
        .unwrap();
        let offset = chrono::Duration::from_std(s.offset("t")).unwrap();
        // Down for three days: the next due time is the next slot's, once.
        let back = utc(2026, 5, 4, 10, 0) + offset + chrono::Duration::seconds(1);
        let next = s.next_due("t", back).unwrap();
        assert_eq!(next, utc(2026, 5, 4, 11, 0) + offset);
        // Inside a window before the offset: still due in this window.
        let early = utc(2026, 5, 4, 10, 0);
        assert_eq!(
            s.next_due("t", early),
            Some(utc(2026, 5, 4, 10, 0) + offset)
                .filter(|d| *d > early)
                .or(Some(utc(2026, 5, 4, 11, 0) + offset))
        );
    }

    #[test]
    fn min_interval_skips_slots_too_close_to_the_last_publish() {
        let s = Schedule::parse(
            "0 * * * *",
            "UTC",
            Duration::ZERO,
            Duration::from_secs(3 * 3600),
        )
        .unwrap();
        let last = utc(2026, 5, 4, 9, 30);
        assert_eq!(
            s.next_due_since("t", utc(2026, 5, 4, 9, 31), Some(last)),
            Some(utc(2026, 5, 4, 13, 0))
        );
        assert_eq!(
            s.next_due_since("t", utc(2026, 5, 4, 9, 31), None),
            Some(utc(2026, 5, 4, 10, 0))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_clock_follows_paused_tokio_time() {
        let clock = Clock::starting_at(utc(2026, 1, 1, 0, 0), 60.0);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(clock.now(), utc(2026, 1, 1, 0, 2));
        assert_eq!(clock.until(utc(2026, 1, 1, 0, 3)), Duration::from_secs(1));
    }
}
