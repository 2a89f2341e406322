//! Request bodies within `max_body_bytes` and `body_timeout_ms`: buffered up
//! to the limit and no further, a larger one answered with a `413` the client
//! can read, one that takes too long to arrive with a `408`.

use std::sync::Arc;

use axum::{
    body::{Body, Bytes},
    extract::{FromRequest, Request},
    http::{HeaderMap, HeaderValue, header},
    response::Response,
};
use futures::StreamExt;

use super::{Gateway, accepts_graphql_response, error_response};
use crate::error::RequestError;

/// How much of an oversized body is read and thrown away before the `413`.
/// A client that writes its whole body before reading (most HTTP/1 clients)
/// would otherwise have the connection closed under it, unread data makes
/// that a reset, and it never sees the answer. Past this the connection is
/// closed anyway, so an endless body costs no more than this.
const DRAIN_AT_MOST: usize = 64 << 20;

/// The request body, at most `max_body_bytes` of it; the rejection is the
/// `413` (or `400` for a body that broke off) as a GraphQL response.
pub struct LimitedBody(pub Bytes);

impl FromRequest<Arc<Gateway>> for LimitedBody {
    type Rejection = Response;

    async fn from_request(request: Request, gateway: &Arc<Gateway>) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        let limit = gateway.config.max_body_bytes;
        let deadline = gateway.config.body_timeout_ms;
        // A client trickling its body (slowloris) holds a connection and a
        // buffer; past the deadline it gets a 408 and the connection closes.
        let read = tokio::time::timeout(
            std::time::Duration::from_millis(deadline),
            read(&parts.headers, body, limit),
        );
        let error = match read.await {
            Ok(Ok(body)) => return Ok(LimitedBody(body)),
            Ok(Err(e)) => e,
            Err(_) => RequestError::BodyTimeout(deadline),
        };
        let mut response = error_response(&error, accepts_graphql_response(&parts.headers));
        if matches!(error, RequestError::BodyTimeout(_)) {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Err(response)
    }
}

async fn read(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, RequestError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut chunks = body.into_data_stream();
    if declared.is_some_and(|length| length > limit as u64) {
        // A client waiting for `100 Continue` has sent nothing: answering
        // without reading spares it the upload, and hyper then closes.
        let waits = headers
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if !waits {
            drain(chunks).await;
        }
        return Err(RequestError::PayloadTooLarge(limit));
    }
    let mut buffer = Vec::with_capacity(declared.map_or(0, |l| l as usize));
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| {
            RequestError::BadRequest(format!("could not read the request body: {e}"))
        })?;
        if buffer.len() + chunk.len() > limit {
            drain(chunks).await;
            return Err(RequestError::PayloadTooLarge(limit));
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buffer))
}

/// Reads and discards the rest of a body, up to [`DRAIN_AT_MOST`] bytes.
async fn drain(mut chunks: axum::body::BodyDataStream) {
    let mut drained = 0;
    while drained < DRAIN_AT_MOST {
        match chunks.next().await {
            Some(Ok(chunk)) => drained += chunk.len(),
            Some(Err(_)) | None => return,
        }
    }
}
