//! `seesaw status [TARGET]`: the active user, the versions, the standby's
//! sessions and the next due time of each target. Exit 1 when any target
//! could not be read.

use super::context::Context;
use super::printer::Printer;
use crate::cli::Cli;
use crate::error::Error;
use crate::output;
use crate::runtime::{Engine, Status};

pub(super) async fn run(cli: &Cli, out: &Printer, only: Option<&str>) -> Result<i32, Error> {
    let cx = Context::load(cli)?;
    let now = chrono::Utc::now();
    let mut list = Vec::new();
    for t in cx.targets(only)? {
        let mut status = match Engine::from_config(t, &cx.engine).await {
            Ok(engine) => engine.status().await,
            Err(e) => Status {
                problems: vec![e.to_string()],
                ..Status::unknown(&t.name)
            },
        };
        if let Ok(Some(schedule)) = t.schedule_config(&cx.config.daemon.defaults).build() {
            status.next_due = schedule.next_due(&t.name, now).map(|d| d.to_rfc3339());
        }
        list.push(status);
    }
    out.print(&list, |l| output::statuses(l));
    Ok(if list.iter().any(|s| !s.problems.is_empty()) {
        1
    } else {
        0
    })
}
