//! Fetching one proxied image: the story page as `Referer`, only `image/*` answers, at most
//! [`FetchPolicy::max_bytes`] (streamed, aborted past the cap), redirects followed by hand so
//! every hop is checked against the same rules as the first URL, and timeouts on connect and
//! on the whole exchange. Loopback, private, link-local and other non-public addresses are
//! refused unless [`FetchPolicy::allow_private`] is set (tests on 127.0.0.1 set it): literal
//! IPs are checked here, host names in the DNS resolver the client is built with, so a name
//! cannot resolve to an internal address behind the check's back.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, REFERER};
use url::Url;

use super::cache::CachedImage;
use super::sign::ProxyTarget;

/// The rules a fetch follows; `Default` is the production setting.
#[derive(Debug, Clone)]
pub struct FetchPolicy {
    /// Largest image accepted, in bytes (5 MiB by default).
    pub max_bytes: usize,
    /// Redirect hops followed before giving up.
    pub max_redirects: usize,
    /// Time allowed to connect.
    pub connect_timeout: Duration,
    /// Time allowed for one whole exchange (headers and body), per hop.
    pub request_timeout: Duration,
    /// Allow loopback/private/link-local targets. Off in production (the proxy must not reach
    /// into the host's network); tests against 127.0.0.1 turn it on.
    pub allow_private: bool,
    /// `User-Agent` sent to image hosts.
    pub user_agent: String,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            max_bytes: 5 * 1024 * 1024,
            max_redirects: 5,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            allow_private: false,
            user_agent: concat!("headwire/", env!("CARGO_PKG_VERSION"), " (image proxy)").into(),
        }
    }
}

/// Why an image could not be proxied; [`ImageFetchError::status`] maps it to the route's answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageFetchError {
    /// The URL (first or a redirect target) is not http/https.
    #[error("scheme {0:?} is not allowed")]
    Scheme(String),
    /// The URL carries a user name or password.
    #[error("credentials in URL are not allowed")]
    Credentials,
    /// The URL has no host.
    #[error("URL has no host")]
    NoHost,
    /// The host is (or resolves only to) a loopback/private/link-local address.
    #[error("address {0} is not public")]
    ForbiddenAddress(String),
    /// More than [`FetchPolicy::max_redirects`] hops.
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    /// A redirect without a usable `Location`.
    #[error("redirect without a usable Location")]
    BadRedirect,
    /// The origin answered with a non-success status.
    #[error("origin answered {0}")]
    Status(u16),
    /// The answer is not `image/*` (or is SVG, which can carry script).
    #[error("not an image: {0:?}")]
    NotImage(Option<String>),
    /// The image is larger than [`FetchPolicy::max_bytes`].
    #[error("image larger than {0} bytes")]
    TooLarge(usize),
    /// Connecting or the exchange took too long.
    #[error("timeout")]
    Timeout,
    /// Any other transport failure (DNS, connect, TLS, reset).
    #[error("network: {0}")]
    Network(String),
    /// The HTTP client could not be built (TLS backend initialisation).
    #[error("client: {0}")]
    Client(String),
}

impl ImageFetchError {
    /// The HTTP status the image route should answer with: 403 for targets the proxy refuses to
    /// touch, 504 for timeouts, 502 for everything the origin did wrong.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            ImageFetchError::Scheme(_)
            | ImageFetchError::Credentials
            | ImageFetchError::NoHost
            | ImageFetchError::ForbiddenAddress(_) => 403,
            ImageFetchError::Timeout => 504,
            _ => 502,
        }
    }
}

/// True for addresses the proxy must not reach in production.
#[must_use]
pub fn is_non_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xC0) == 64) // 100.64/10 shared address space
                || (o[0] == 198 && (o[1] & 0xFE) == 18) // 198.18/15 benchmarking
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_non_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xFE00) == 0xFC00 // unique local
                || (s[0] & 0xFFC0) == 0xFE80 // link local
        }
    }
}

/// Checks one URL (the first or a redirect hop) against the rules.
pub fn check_url(url: &Url, policy: &FetchPolicy) -> Result<(), ImageFetchError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ImageFetchError::Scheme(url.scheme().to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ImageFetchError::Credentials);
    }
    let ip = match url.host() {
        None => return Err(ImageFetchError::NoHost),
        Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        Some(url::Host::Domain(_)) => None,
    };
    if let Some(ip) = ip {
        if !policy.allow_private && is_non_public(ip) {
            return Err(ImageFetchError::ForbiddenAddress(ip.to_string()));
        }
    }
    Ok(())
}

/// DNS resolver that drops non-public addresses, so a public-looking name cannot lead the
/// proxy into the host's own network.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !is_non_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                let err: Box<dyn std::error::Error + Send + Sync> =
                    format!("{host} resolves to no public address").into();
                return Err(err);
            }
            let iter: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(iter)
        })
    }
}

/// Builds the client [`fetch_image`] needs: no automatic redirects (each hop is checked by
/// hand), the policy's timeouts, and unless `allow_private`, a resolver that refuses
/// non-public addresses and no environment proxy (which would resolve names out of our sight).
pub fn build_client(policy: &FetchPolicy) -> Result<reqwest::Client, ImageFetchError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(policy.connect_timeout)
        .timeout(policy.request_timeout)
        .user_agent(policy.user_agent.clone());
    if !policy.allow_private {
        builder = builder.no_proxy().dns_resolver(Arc::new(PublicOnly));
    }
    builder
        .build()
        .map_err(|e| ImageFetchError::Client(e.to_string()))
}

fn classify(err: &reqwest::Error) -> ImageFetchError {
    if err.is_timeout() {
        ImageFetchError::Timeout
    } else {
        let mut message = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        if message.contains("no public address") {
            ImageFetchError::ForbiddenAddress(message)
        } else {
            ImageFetchError::Network(message)
        }
    }
}

/// The media type of an acceptable image answer (`image/*`, not SVG), lower-cased, without
/// parameters.
fn image_type(value: Option<&HeaderValue>) -> Result<String, ImageFetchError> {
    let raw = value.and_then(|v| v.to_str().ok()).map(str::to_owned);
    let media = raw
        .as_deref()
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match media {
        Some(m) if m.starts_with("image/") && m.len() > 6 && !m.starts_with("image/svg") => Ok(m),
        _ => Err(ImageFetchError::NotImage(raw)),
    }
}

/// Fetches the target image with its story page as `Referer`, following redirects by hand
/// (each hop re-checked with [`check_url`]), accepting only `image/*` answers no bigger than
/// the policy's cap. `client` must come from [`build_client`] with the same policy.
pub async fn fetch_image(
    client: &reqwest::Client,
    target: &ProxyTarget,
    policy: &FetchPolicy,
) -> Result<CachedImage, ImageFetchError> {
    let referer =
        HeaderValue::from_str(target.referer.as_str()).map_err(|_| ImageFetchError::BadRedirect)?;
    let mut url = target.image_url.clone();
    let mut hops = 0usize;
    loop {
        check_url(&url, policy)?;
        let mut response = client
            .get(url.clone())
            .header(REFERER, referer.clone())
            .header(reqwest::header::ACCEPT, "image/*")
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let status = response.status();
        if status.is_redirection() {
            hops = hops.saturating_add(1);
            if hops > policy.max_redirects {
                return Err(ImageFetchError::TooManyRedirects(policy.max_redirects));
            }
            let next = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|loc| url.join(loc).ok())
                .ok_or(ImageFetchError::BadRedirect)?;
            url = next;
            continue;
        }
        if !status.is_success() {
            return Err(ImageFetchError::Status(status.as_u16()));
        }
        let content_type = image_type(response.headers().get(CONTENT_TYPE))?;
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > policy.max_bytes as u64) {
            return Err(ImageFetchError::TooLarge(policy.max_bytes));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e))? {
            if bytes.len().saturating_add(chunk.len()) > policy.max_bytes {
                return Err(ImageFetchError::TooLarge(policy.max_bytes));
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok(CachedImage::new(bytes, content_type));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_public_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_non_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "202.108.22.5", "2400:da00::6666"] {
            assert!(!is_non_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn url_rules() {
        let p = FetchPolicy::default();
        let check = |u: &str| check_url(&Url::parse(u).unwrap(), &p);
        assert!(check("https://n.sinaimg.cn/a.jpg").is_ok());
        assert_eq!(
            check("ftp://x.cn/a.jpg"),
            Err(ImageFetchError::Scheme("ftp".into()))
        );
        assert!(matches!(
            check("file:///etc/passwd"),
            Err(ImageFetchError::Scheme(_))
        ));
        assert_eq!(
            check("https://u:p@x.cn/a.jpg"),
            Err(ImageFetchError::Credentials)
        );
        assert!(matches!(
            check("http://127.0.0.1:8080/a.png"),
            Err(ImageFetchError::ForbiddenAddress(_))
        ));
        assert!(matches!(
            check("http://[::1]/a.png"),
            Err(ImageFetchError::ForbiddenAddress(_))
        ));
        let open = FetchPolicy {
            allow_private: true,
            ..FetchPolicy::default()
        };
        assert!(check_url(&Url::parse("http://127.0.0.1:8080/a.png").unwrap(), &open).is_ok());
    }

    #[test]
    fn content_types() {
        let v = |s: &str| HeaderValue::from_str(s).unwrap();
        assert_eq!(
            image_type(Some(&v("image/JPEG; q=1"))).unwrap(),
            "image/jpeg"
        );
        assert!(image_type(Some(&v("text/html"))).is_err());
        assert!(image_type(Some(&v("image/svg+xml"))).is_err());
        assert!(image_type(Some(&v("image/"))).is_err());
        assert!(image_type(None).is_err());
    }
}
