//! `seesaw lambda`: serve Secrets Manager rotation events (what the binary
//! does as a Lambda's `bootstrap`).

use crate::error::Error;

#[cfg(feature = "lambda")]
pub(super) async fn run() -> Result<i32, Error> {
    match crate::runtime::lambda::serve().await {
        Ok(()) => Ok(0),
        Err(e) => {
            // One line: JSON logs are what CloudWatch keeps.
            tracing::error!("{e}");
            Ok(1)
        }
    }
}

#[cfg(not(feature = "lambda"))]
pub(super) async fn run() -> Result<i32, Error> {
    eprintln!(
        "error: this seesaw was built without the `lambda` feature; cargo build --release \
        --features lambda"
    );
    Ok(2)
}
