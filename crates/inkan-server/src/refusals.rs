//! What a refused request leaves behind, written once its own transaction is over: the notice
//! of the refusal (`AppError::with_notice`) and the count of a failed try of a secret
//! (`AppError::failed_try`, `attempts`).

use axum::extract::State;
use axum::response::IntoResponse;

use crate::error::{AppError, PendingFailure, RefusalNotice};
use crate::state::AppState;
use crate::{attempts, feed};

/// Middleware: a refused request that carries a notice of its refusal (`AppError::with_notice`)
/// gets it recorded in a transaction of its own, after the handler (and its transaction) is done
/// and before the answer leaves. So the wallet's devices hear of every refused passkey, and a
/// client that saw the refusal can find it in the history. If it cannot be written, the refusal
/// is still answered, and the failure logged.
pub async fn record(
    State(app): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    let refusal = response.extensions_mut().remove::<RefusalNotice>();
    let failure = response.extensions_mut().remove::<PendingFailure>();
    if refusal.is_none() && failure.is_none() {
        return response;
    }
    let account_id = refusal.as_ref().map(|r| r.account_id.clone()).unwrap_or_default();
    let outcome = async {
        let mut tx = app.db.begin().await?;
        if let Some(refusal) = &refusal {
            feed::append(&mut tx, &app.issuer, &refusal.account_id, &refusal.notice, app.clock.now()).await?;
        }
        let reworded = match failure {
            Some(failure) => attempts::record_failure(&mut tx, &app, failure).await?,
            None => None,
        };
        tx.commit(&app.hub).await?;
        Ok::<Option<AppError>, AppError>(reworded)
    };
    match outcome.await {
        // The last try before a lock, or the lock itself: the answer says so.
        Ok(Some(reworded)) => reworded.into_response(),
        Ok(None) => response,
        Err(e) => {
            tracing::warn!(error = ?e, %account_id, "could not record the notice or the count of a refusal");
            response
        }
    }
}
