//! The fetch stage: one HTTP GET per poll, bounded in time and size, conditional when possible.
//!
//! [`Fetcher::fetch`] sends the `Accept` header, the source's extra headers and the validators of
//! the last good fetch (`If-None-Match`, `If-Modified-Since`), and answers
//! [`FetchOutcome::NotModified`] or the raw body ([`Fetched`]) with the validators and URL to
//! remember. [`Fetched::document`] turns that body into text with the charset
//! [`crate::decode`] decides, so callers never see bytes they would have to decode themselves.
//!
//! Rules owned here: a body is never buffered beyond the configured cap (counted after
//! decompression, so a small gzip bomb is refused as surely as a big page), redirects stop after
//! [`MAX_REDIRECTS`] hops, `Retry-After` (seconds or any HTTP date form) is read with 429 and
//! 503, and every failure is classified into a kind a user can act on (DNS, connect, timeout,
//! HTTP status, too large, redirect, decode, truncated) for the section's status.

use crate::decode::{decode_document, Decoded, Expect};

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::config::PollSettings;

/// Redirect hops followed before a fetch fails with [`FetchError::Redirect`]: enough for
/// http→https→www→trailing-slash chains, few enough that a loop fails fast.
pub const MAX_REDIRECTS: usize = 5;

/// Validators from the previous successful fetch, sent for a conditional GET.
#[derive(Debug, Clone, Default)]
pub struct Validators {
    /// `ETag` to send as `If-None-Match`.
    pub etag: Option<String>,
    /// `Last-Modified` to send as `If-Modified-Since`.
    pub last_modified: Option<String>,
}

/// A fetched body with what the server said about it.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Raw (decompressed) bytes.
    pub bytes: Vec<u8>,
    /// `Content-Type` header, for the charset decision.
    pub content_type: Option<String>,
    /// Validators to remember for the next poll.
    pub validators: Validators,
    /// The URL after redirects (links resolve against it).
    pub final_url: url::Url,
}

impl Fetched {
    /// The body as text of the kind `expect`s, decoded with the charset the header, the
    /// document and the bytes agree on (see [`crate::decode`]).
    pub fn document(&self, expect: Expect) -> Decoded {
        decode_document(&self.bytes, self.content_type.as_deref(), expect)
    }
}

/// The result of a successful request.
#[derive(Debug, Clone)]
pub enum FetchOutcome {
    /// `304 Not Modified`: nothing to parse.
    NotModified,
    /// A new body.
    Body(Fetched),
}

/// Why a fetch failed, classified for the section's status.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    /// The host name did not resolve.
    #[error("dns: cannot resolve {host}: {message}")]
    Dns {
        /// Host name.
        host: String,
        /// Resolver message.
        message: String,
    },
    /// The TCP/TLS connection failed.
    #[error("connect: {message}")]
    Connect {
        /// What failed.
        message: String,
    },
    /// Connecting or the whole request (headers and body) took too long.
    #[error("timeout: {phase} took longer than {limit:?}")]
    Timeout {
        /// `connect` or `request`.
        phase: &'static str,
        /// The limit that was hit (`[poll] connect_timeout` / `request_timeout`).
        limit: Duration,
    },
    /// The server answered with a non-success status.
    #[error("http status {status}{}", retry_after.map(|s| format!(" (retry after {s}s)")).unwrap_or_default())]
    Status {
        /// The status code.
        status: u16,
        /// Seconds from `Retry-After`, when given with 429/503.
        retry_after: Option<u64>,
    },
    /// The body exceeded the cap.
    #[error("too large: body over {limit} bytes")]
    TooLarge {
        /// The cap in bytes.
        limit: usize,
    },
    /// The server redirected more than [`MAX_REDIRECTS`] times (or in a loop).
    #[error("redirect: more than {MAX_REDIRECTS} redirects: {message}")]
    Redirect {
        /// What reqwest said, with the URL.
        message: String,
    },
    /// The body could not be decompressed (broken gzip/brotli/deflate stream).
    #[error("decode: cannot decompress the body: {message}")]
    Decode {
        /// What failed.
        message: String,
    },
    /// The connection closed before the whole body arrived (fewer bytes than `Content-Length`
    /// promised, or a chunked body without its last chunk): nothing of it is used.
    #[error("truncated: the body ended before it was complete: {message}")]
    Truncated {
        /// What the HTTP layer said.
        message: String,
    },
    /// Anything else (invalid URL, broken body stream).
    #[error("request failed: {message}")]
    Other {
        /// What failed.
        message: String,
    },
}

impl FetchError {
    /// Short machine-readable kind for status pages and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            FetchError::Dns { .. } => "dns",
            FetchError::Connect { .. } => "connect",
            FetchError::Timeout { .. } => "timeout",
            FetchError::Status { .. } => "http",
            FetchError::TooLarge { .. } => "too-large",
            FetchError::Redirect { .. } => "redirect",
            FetchError::Decode { .. } => "decode",
            FetchError::Truncated { .. } => "truncated",
            FetchError::Other { .. } => "request",
        }
    }
}

/// The shared HTTP client with headwire's limits applied.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    max_body: usize,
    connect_timeout: Duration,
    request_timeout: Duration,
}

impl Fetcher {
    /// Builds a client from the poll settings.
    pub fn new(settings: &PollSettings) -> Result<Fetcher, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .build()
            .map_err(|e| FetchError::Other {
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Fetcher {
            client,
            max_body: settings.max_body_bytes,
            connect_timeout: settings.connect_timeout,
            request_timeout: settings.request_timeout,
        })
    }

    /// GETs `url` with extra headers and validators.
    pub async fn fetch(
        &self,
        url: &url::Url,
        extra_headers: &[(String, String)],
        validators: &Validators,
    ) -> Result<FetchOutcome, FetchError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static(
                "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,application/feed+json,application/xml;q=0.9,*/*;q=0.8",
            ),
        );
        for (name, value) in extra_headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.insert(name, value);
            }
        }
        if let Some(etag) = validators
            .etag
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(reqwest::header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = validators
            .last_modified
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(reqwest::header::IF_MODIFIED_SINCE, lm);
        }
        let mut response = self
            .client
            .get(url.clone())
            .headers(headers)
            .send()
            .await
            .map_err(|e| self.classify(url, &e))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified);
        }
        if !status.is_success() {
            let retry_after = if status.as_u16() == 429 || status.as_u16() == 503 {
                response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after)
            } else {
                None
            };
            return Err(FetchError::Status {
                status: status.as_u16(),
                retry_after,
            });
        }
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let validators = Validators {
            etag: header(reqwest::header::ETAG),
            last_modified: header(reqwest::header::LAST_MODIFIED),
        };
        let final_url = response.url().clone();
        if response
            .content_length()
            .is_some_and(|len| len > self.max_body as u64)
        {
            return Err(FetchError::TooLarge {
                limit: self.max_body,
            });
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(url, &e))? {
            if bytes.len() + chunk.len() > self.max_body {
                return Err(FetchError::TooLarge {
                    limit: self.max_body,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(FetchOutcome::Body(Fetched {
            bytes,
            content_type,
            validators,
            final_url,
        }))
    }

    fn classify(&self, url: &url::Url, error: &reqwest::Error) -> FetchError {
        let chain = error_chain(error);
        let lower = chain.to_ascii_lowercase();
        if error.is_timeout() {
            return if error.is_connect() {
                FetchError::Timeout {
                    phase: "connect",
                    limit: self.connect_timeout,
                }
            } else {
                FetchError::Timeout {
                    phase: "request",
                    limit: self.request_timeout,
                }
            };
        }
        if error.is_redirect() {
            return FetchError::Redirect { message: chain };
        }
        // reqwest reports a body cut short as a decode error when decompression is enabled,
        // compressed or not; the HTTP layer's own words say what really happened.
        if is_truncation(&lower) {
            return FetchError::Truncated { message: chain };
        }
        if error.is_decode() {
            return FetchError::Decode { message: chain };
        }
        if error.is_connect() {
            if lower.contains("dns error") || lower.contains("failed to lookup address") {
                return FetchError::Dns {
                    host: url.host_str().unwrap_or_default().to_string(),
                    message: chain,
                };
            }
            if lower.contains("timed out") {
                return FetchError::Timeout {
                    phase: "connect",
                    limit: self.connect_timeout,
                };
            }
            return FetchError::Connect { message: chain };
        }
        FetchError::Other { message: chain }
    }
}

/// Whether an error chain (lower-cased) says the body ended early rather than that it was
/// garbled.
fn is_truncation(lower: &str) -> bool {
    [
        "end of file before message length reached",
        "incomplete message",
        "unexpected eof",
        "connection closed before message completed",
    ]
    .iter()
    .any(|phrase| lower.contains(phrase))
}

/// The error and its sources, joined: reqwest's top-level message alone hides the cause.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// `Retry-After` as seconds from now: delta-seconds, or an HTTP date in any of its three forms
/// (a date in the past is `0`).
fn parse_retry_after(value: &str) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds);
    }
    let when = crate::http_date::parse_seconds(value.as_bytes())?;
    let delta = when.saturating_sub(chrono::Utc::now().timestamp());
    Some(u64::try_from(delta).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("120"), Some(120));
        assert_eq!(parse_retry_after(" 5 "), Some(5));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(0));
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT"),
            Some(0)
        );
        assert_eq!(parse_retry_after("Wed Oct 21 07:28:00 2015"), Some(0));
        let later = chrono::Utc::now() + chrono::Duration::hours(2);
        let asked = parse_retry_after(&crate::http_date::format(later)).unwrap();
        assert!((7190..=7200).contains(&asked), "{asked}");
        assert_eq!(parse_retry_after("soon"), None);
    }
}
