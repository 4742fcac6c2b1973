//! The pending version of stores whose newest version is what applications
//! read (GCP Secret Manager's `latest`, Azure Key Vault's unversioned GET):
//! a version staged there would be served before its password is set, and
//! a disabled one would make `latest` fail. So the pending credential is
//! kept in a *companion secret* beside the main one (`<secret>-pending` by
//! default), with the same access control, holding
//! `{"token": ..., "replaces": ..., "pending": {document} | null}`.
//!
//! Stage writes the document there; promote adds it to the main secret
//! (with that store's own compare-and-swap), then writes
//! `{"token": ..., "pending": null}`, which also lets a retried promote
//! recognise that it landed. A crash between the two leaves a pending
//! document equal to the current one, which reads as "no pending". The
//! rules are the same for both stores, so they live here once.

use super::{PublishRequest, StoreError, StoreState, Versioned};
use crate::secret::SecretDocument;
use async_trait::async_trait;
use serde_json::{json, Value};

/// What the companion secret holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Companion {
    /// The rotation's token; the pending version's id.
    pub token: String,
    /// The current version the pending one was staged against.
    pub replaces: String,
    /// `None` once promoted (or cleared by a person).
    pub pending: Option<SecretDocument>,
}

impl Companion {
    pub fn encode(&self) -> String {
        json!({
            "token": self.token,
            "replaces": self.replaces,
            "pending": self.pending.as_ref().map(SecretDocument::to_value),
        })
        .to_string()
    }

    /// Parses the companion's value; the error never quotes it.
    pub fn decode(text: &str) -> Result<Companion, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            format!(
                "{}; expected {{\"pending\": null}} or what seesaw wrote",
                crate::reason::json(&e)
            )
        })?;
        let field = |k: &str| {
            value
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let pending = match value.get("pending") {
            None | Some(Value::Null) => None,
            Some(doc) => Some(
                SecretDocument::from_value(doc.clone())
                    .map_err(|problem| format!("`pending`: {problem}"))?,
            ),
        };
        Ok(Companion {
            token: field("token"),
            replaces: field("replaces"),
            pending,
        })
    }
}

/// What a store with a companion secret provides; `stage`, `promote` and
/// `pending` below are the protocol on top.
#[async_trait]
pub trait WithCompanion: Send + Sync {
    fn name(&self) -> String;
    /// The main secret's current version.
    async fn current(&self) -> Result<Versioned, StoreError>;
    /// Only the current version's id (cheaper where the value is a second
    /// call).
    async fn current_version(&self) -> Result<String, StoreError>;
    /// Adds `request.document` to the main secret as its new current
    /// version, if the current is still `request.replaces`.
    async fn add(&self, request: PublishRequest<'_>) -> Result<String, StoreError>;
    /// The companion's content; `None` when it does not exist or is empty.
    async fn companion(&self) -> Result<Option<Companion>, StoreError>;
    async fn set_companion(&self, companion: &Companion) -> Result<(), StoreError>;
    /// The command a person runs to clear the companion.
    fn clear_hint(&self) -> String;
}

/// The pending version, unless it is already current (promoted, and the
/// companion not yet cleared).
pub async fn pending(
    store: &dyn WithCompanion,
    current: &Versioned,
) -> Result<Option<Versioned>, StoreError> {
    Ok(match store.companion().await? {
        Some(Companion {
            token,
            pending: Some(document),
            ..
        }) if document != current.document => Some(Versioned {
            version: token,
            document,
        }),
        _ => None,
    })
}

/// What the store holds: the main secret's current and previous versions
/// as its backend read them, and the companion's pending one.
pub async fn state(
    store: &dyn WithCompanion,
    current: Versioned,
    previous: Option<Versioned>,
    published_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<StoreState, StoreError> {
    let pending = pending(store, &current).await?;
    Ok(StoreState {
        current,
        previous,
        pending,
        published_at,
    })
}

/// Common path: the current version's id, the companion, one write.
pub async fn stage(
    store: &dyn WithCompanion,
    request: PublishRequest<'_>,
) -> Result<String, StoreError> {
    let version = store.current_version().await?;
    if version != request.replaces {
        // A retry of a publish that landed has our document on top.
        let current = store.current().await?;
        if current.document == *request.document {
            return Ok(request.token.to_owned());
        }
        return Err(StoreError::Conflict {
            store: store.name(),
            expected: request.replaces.into(),
            found: current.version,
        });
    }
    if let Some(Companion {
        token,
        pending: Some(document),
        ..
    }) = store.companion().await?
    {
        if document == *request.document {
            return Ok(token); // a retried stage
        }
        // Another pending document: refused, unless it is the current one
        // (promoted, the companion not yet cleared).
        if document != store.current().await?.document {
            return Err(StoreError::PendingExists {
                store: store.name(),
                pending: token,
                hint: store.clear_hint(),
            });
        }
    }
    store
        .set_companion(&Companion {
            token: request.token.to_owned(),
            replaces: request.replaces.to_owned(),
            pending: Some(request.document.clone()),
        })
        .await?;
    Ok(request.token.to_owned())
}

/// The companion, then the main secret's own conditional add (which also
/// recognises a retry whose add landed), then the companion cleared.
pub async fn promote(
    store: &dyn WithCompanion,
    pending: &str,
    replaces: &str,
) -> Result<String, StoreError> {
    let companion = store.companion().await?;
    let Some(Companion {
        token,
        pending: staged,
        replaces: staged_replaces,
    }) = companion.filter(|c| c.token == pending)
    else {
        return Err(StoreError::Conflict {
            store: store.name(),
            expected: format!("pending version {pending}"),
            found: "another or no pending version".into(),
        });
    };
    let Some(document) = staged else {
        // Promoted already: this is a retry.
        return store.current_version().await;
    };
    let version = store
        .add(PublishRequest {
            document: &document,
            replaces,
            token: &token,
        })
        .await?;
    store
        .set_companion(&Companion {
            token,
            replaces: staged_replaces,
            pending: None,
        })
        .await?;
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_a_person_can_clear_it() {
        let doc = SecretDocument::from_value(json!({"username": "b", "password": "p"})).unwrap();
        let c = Companion {
            token: "t".into(),
            replaces: "3".into(),
            pending: Some(doc),
        };
        assert_eq!(Companion::decode(&c.encode()).unwrap(), c);
        let cleared = Companion::decode(r#"{"pending": null}"#).unwrap();
        assert!(cleared.pending.is_none() && cleared.token.is_empty());
        let err = Companion::decode(r#"{"pending": "s3cret"}"#).unwrap_err();
        assert!(!err.contains("s3cret"), "{err}");
    }
}
