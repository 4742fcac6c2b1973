//! `seesaw demo`: rotations on a throwaway PostgreSQL with simulated
//! clients, shown live (no config needed).

use super::interrupt::terminated;
use crate::error::Error;
use std::time::Duration;

pub(super) async fn run(rotations: u32, clients: u32, interval: &str) -> Result<i32, Error> {
    let interval = match crate::duration::parse(interval) {
        Ok(d) if !d.is_zero() && d <= Duration::from_secs(3600) => d,
        _ => {
            eprintln!(
                "error: --interval {interval:?} is not a duration between 1ms and 1h \
                (e.g. 2s, 500ms)"
            );
            return Ok(2);
        }
    };
    let options = crate::demo::DemoOptions {
        rotations,
        clients: clients as usize,
        interval,
    };
    Ok(crate::demo::run(options, terminated()).await)
}
