//! `seesaw version`: the version, the commit and what this build includes.

use super::console::stdout;
use crate::error::Error;

pub(super) fn run() -> Result<i32, Error> {
    let features = crate::features();
    stdout(&format!(
        "seesaw {}\ncommit {} ({})\nfeatures: {}\ndatabases: postgres{}\nstores: file{}\n",
        env!("CARGO_PKG_VERSION"),
        env!("SEESAW_COMMIT"),
        env!("SEESAW_COMMIT_DATE"),
        if features.is_empty() {
            "none".to_owned()
        } else {
            features.join(", ")
        },
        // MySQL is accepted by the config and refused at the admin gate
        // (docs/mysql.md), so it is not listed.
        if features.contains(&"mysql") {
            ", mariadb"
        } else {
            ""
        },
        ["aws", "gcp", "azure"]
            .iter()
            .filter(|s| features.contains(s))
            .map(|s| format!(", {s}"))
            .collect::<String>()
    ));
    Ok(0)
}
