//! `/img/{token}`: story images fetched with the story page as `Referer`
//! (`[server] image_proxy = true`), so portals that refuse other referrers show their images in
//! every reader.
//!
//! Never an open proxy: the route serves only URLs headwire itself wrote into a feed, signed
//! with a key made at first start and kept in the store ([`crate::imageproxy::sign`]); anything
//! else answers `403`. Fetched images are kept in a bounded in-memory cache (`image_cache_mb`,
//! least recently used out) and served with a strong `ETag`, `304`s and an `immutable`
//! `Cache-Control` (a token names one image for good).

use std::time::Instant;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use url::Url;

use super::access::plain;
use super::headers;
use super::paths::Route;
use super::AppState;
use crate::config::Config;
use crate::imageproxy::{FetchPolicy, ImageFetchError, ImageProxy, ProxyRoute, RouteError};
use crate::store::{Item, Store, StoreError};

/// The `meta` name of the key that signs proxy URLs.
const KEY_NAME: &str = "image-proxy";
/// A year: a token names one image for good, so readers and caches may keep it that long.
const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// Why the image proxy could not be set up at start.
#[derive(Debug, thiserror::Error)]
pub enum ImageSetupError {
    /// The signing key could not be read or made.
    #[error("image proxy key: {0}")]
    Key(#[from] StoreError),
    /// `[server] base_url` cannot carry the route.
    #[error("image proxy route: {0}")]
    Route(#[from] RouteError),
    /// The HTTP client could not be built.
    #[error("image proxy client: {0}")]
    Client(#[from] ImageFetchError),
}

/// The image proxy of a running server: the rewriter feeds use and the fetcher the route uses,
/// sharing one key.
pub struct ImageService {
    route: ProxyRoute,
    proxy: ImageProxy,
}

impl ImageService {
    /// The service `[server]` asks for (`None` when `image_proxy` is off), with the store's
    /// signing key (made on first use).
    pub fn from_config(
        config: &Config,
        store: &Store,
    ) -> Result<Option<ImageService>, ImageSetupError> {
        if !config.server.image_proxy {
            return Ok(None);
        }
        let key = store.secret(KEY_NAME)?;
        let base = config
            .server
            .base_url
            .join(Route::IMAGE_BASE.trim_start_matches('/'))
            .map_err(|_| RouteError::BadBase(config.server.base_url.to_string()))?;
        let policy = FetchPolicy {
            allow_private: config.server.image_proxy_private,
            connect_timeout: config.poll.connect_timeout,
            request_timeout: config.poll.request_timeout,
            ..FetchPolicy::default()
        };
        Ok(Some(ImageService {
            route: ProxyRoute::new(&base, key)?,
            proxy: ImageProxy::new(key, policy, config.server.image_cache_bytes)?,
        }))
    }

    /// Points every image of `item` (in its summary, its full text and its enclosure) at the
    /// proxy, with the story page as referrer. Items without a usable link keep their URLs.
    pub fn rewrite(&self, item: &mut Item) {
        let Some(page) = item.link.as_deref().and_then(|l| Url::parse(l).ok()) else {
            return;
        };
        for html in [&mut item.summary, &mut item.content].into_iter().flatten() {
            *html = self.route.rewrite_html(html, &page);
        }
        if let Some(image) = &item.image {
            if let Some(proxied) = self.route.rewrite_url(image, &page) {
                item.image = Some(proxied);
            }
        }
    }

    /// Images held in the cache and their bytes, for `/metrics`.
    pub fn cached(&self) -> (usize, usize) {
        (self.proxy.cache().len(), self.proxy.cache().bytes())
    }
}

/// `GET /img/{token}`.
pub(super) async fn image(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> HttpResponse {
    let started = Instant::now();
    let response = match &state.images {
        None => plain(
            StatusCode::NOT_FOUND,
            "the image proxy is off ([server] image_proxy = false)",
        ),
        Some(images) => match images.proxy.serve(&token).await {
            Ok(image) => {
                let lines = req
                    .headers()
                    .get_all(header::IF_NONE_MATCH)
                    .map(HeaderValue::as_bytes);
                let unchanged = headers::if_none_match(lines, image.etag.as_bytes())
                    == headers::NoneMatch::Matches;
                let mut builder = if unchanged {
                    HttpResponse::NotModified()
                } else {
                    HttpResponse::Ok()
                };
                builder
                    .insert_header((header::ETAG, image.etag.clone()))
                    .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
                    .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'"));
                if unchanged {
                    builder.finish()
                } else {
                    builder
                        .content_type(image.content_type.as_str())
                        .body(web::Bytes::from_owner(image.bytes.clone()))
                }
            }
            Err(e) => {
                tracing::debug!("image proxy: {e}");
                let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_GATEWAY);
                plain(status, &e.to_string())
            }
        },
    };
    state.metrics.record(Route::Image, started);
    response
}
