//! `seesaw check [TARGET]`: the config, each target's connectivity, its
//! gates and every write a rotation would make, changing nothing.

use super::context::Context;
use super::printer::Printer;
use crate::cli::Cli;
use crate::error::Error;
use crate::output;
use crate::runtime::{CheckReport, Engine};

pub(super) async fn run(cli: &Cli, out: &Printer, only: Option<&str>) -> Result<i32, Error> {
    let cx = Context::load(cli)?;
    let mut list = Vec::new();
    let mut code = 0;
    for t in cx.targets(only)? {
        let report = match Engine::from_config(t, &cx.engine).await {
            Ok(engine) => engine.check().await,
            Err(e) => {
                code = code.max(e.exit_code());
                CheckReport {
                    target: t.name.clone(),
                    ok: false,
                    store: String::new(),
                    database: String::new(),
                    active: None,
                    gates: Vec::new(),
                    error: Some(e.to_string()),
                    warnings: Vec::new(),
                    preflight: Vec::new(),
                }
            }
        };
        if !report.ok {
            code = code.max(1);
        }
        list.push(report);
    }
    out.print(&list, |l| output::checks(l));
    Ok(code)
}
