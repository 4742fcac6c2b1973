//! Measuring rotations in benches: percentiles and per-step times.

use seesaw::rotation::Step;
use seesaw::runtime::{Engine, Progress, RotateOptions};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `$name` as a count, or `default`.
pub fn count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Rotates `n` times in process; prints and returns the median rotation,
/// and each step's times.
pub async fn rotations(engine: &Engine, n: usize) -> (Duration, StepTimes) {
    let steps = StepTimes::default();
    let mut total = Vec::new();
    for _ in 0..n {
        let started = Instant::now();
        engine
            .rotate(RotateOptions::default(), &steps)
            .await
            .expect("rotation");
        total.push(started.elapsed());
    }
    (line("rotation", total), steps)
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Prints "name  median .. ms  p99 .. ms (n=..)" and returns the median.
pub fn line(name: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let median = percentile(&samples, 0.5);
    println!(
        "  {name:<16} median {:>8.2} ms   p99 {:>8.2} ms   (n={})",
        median.as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.len()
    );
    median
}

/// Records each step's duration through the engine's progress hook.
#[derive(Default)]
pub struct StepTimes(pub Mutex<BTreeMap<&'static str, Vec<Duration>>>);

impl Progress for StepTimes {
    fn finished(&self, _: &str, step: &Step, elapsed: Duration) -> Result<(), String> {
        self.0
            .lock()
            .unwrap()
            .entry(step.name())
            .or_default()
            .push(elapsed);
        Ok(())
    }
}

impl StepTimes {
    pub fn print(self) {
        for (name, samples) in self.0.into_inner().unwrap() {
            line(name, samples);
        }
    }
}
