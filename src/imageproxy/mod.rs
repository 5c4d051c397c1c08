//! The image proxy library: Chinese portals refuse image requests whose `Referer`
//! is not their own site, so images in feeds are rewritten to a headwire route that fetches
//! them with the story page as `Referer`.
//!
//! This module owns the rules of that route, not the route itself (the server wires it):
//! - [`sign`]: tokens that authenticate (image URL, referer) pairs, so the route is not an
//!   open proxy; an altered or unsigned token is refused (`403`).
//! - [`rewrite`]: image references in HTML, `srcset` and enclosures → signed proxy URLs.
//! - [`fetch`]: one bounded, redirect-checked, `image/*`-only fetch.
//! - [`cache`]: a bounded in-memory LRU of fetched images with strong ETags.
//!
//! [`ImageProxy`] ties them together for the route handler: `serve(token)`.

pub mod cache;
pub mod fetch;
pub mod rewrite;
pub mod sign;

pub use cache::{CachedImage, ImageCache};
pub use fetch::{build_client, check_url, fetch_image, FetchPolicy, ImageFetchError};
pub use rewrite::{ProxyRoute, RouteError};
pub use sign::{sign, verify, ProxyTarget, TokenError};

/// Why [`ImageProxy::serve`] has no image to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// The token did not verify: answer `403`.
    #[error("forbidden: {0}")]
    Token(#[from] TokenError),
    /// The fetch failed: answer [`ImageFetchError::status`].
    #[error("fetch: {0}")]
    Fetch(#[from] ImageFetchError),
}

impl ProxyError {
    /// The HTTP status the route should answer with.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            ProxyError::Token(_) => 403,
            ProxyError::Fetch(e) => e.status(),
        }
    }
}

/// Everything the image route needs, built once at start-up and shared (it is `Send + Sync`).
pub struct ImageProxy {
    key: [u8; 32],
    policy: FetchPolicy,
    client: reqwest::Client,
    cache: ImageCache,
}

impl ImageProxy {
    /// A proxy verifying with `key`, fetching under `policy`, caching up to `cache_bytes`.
    pub fn new(
        key: [u8; 32],
        policy: FetchPolicy,
        cache_bytes: usize,
    ) -> Result<ImageProxy, ImageFetchError> {
        let client = build_client(&policy)?;
        Ok(ImageProxy {
            key,
            policy,
            client,
            cache: ImageCache::new(cache_bytes),
        })
    }

    /// The cache (for metrics: entries and bytes held).
    #[must_use]
    pub fn cache(&self) -> &ImageCache {
        &self.cache
    }

    /// Verifies `token` (the path segment after the route base), then answers from the cache
    /// or fetches and caches the image. The caller sends `bytes` with `Content-Type`,
    /// `ETag` (and `304` when `If-None-Match` matches), `X-Content-Type-Options: nosniff` and a
    /// long `Cache-Control`; on error it answers [`ProxyError::status`].
    pub async fn serve(&self, token: &str) -> Result<CachedImage, ProxyError> {
        let target = verify(&self.key, token)?;
        let key = format!("{}\n{}", target.image_url, target.referer);
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit);
        }
        let image = fetch_image(&self.client, &target, &self.policy).await?;
        self.cache.insert(&key, image.clone());
        Ok(image)
    }
}
