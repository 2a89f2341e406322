//! Request bodies within `max_body_bytes`: buffered up to the limit and no
//! further, and a larger one answered with a `413` the client can read.

use std::sync::Arc;

use axum::{
    body::{Body, Bytes},
    extract::{FromRequest, Request},
    http::{HeaderMap, header},
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
        read(&parts.headers, body, gateway.config.max_body_bytes)
            .await
            .map(LimitedBody)
            .map_err(|e| error_response(&e, accepts_graphql_response(&parts.headers)))
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
