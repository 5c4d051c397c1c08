//! The image proxy against a fixture image host on 127.0.0.1:0 that behaves like a Chinese
//! portal's CDN: images only for requests whose `Referer` is the portal's story page, plus a
//! non-image, oversized images (declared and undeclared length), redirects (fine, to a
//! disallowed scheme, in a loop) and an SVG.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use headwire::imageproxy::{
    sign, FetchPolicy, ImageFetchError, ImageProxy, ProxyError, ProxyRoute, TokenError,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

const KEY: [u8; 32] = [42; 32];
const STORY: &str = "https://www.portal.example/news/2024/story.html";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n fixture image bytes";

struct Host {
    base: String,
    hits: Arc<AtomicUsize>,
}

async fn start_host() -> Host {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let head = String::from_utf8_lossy(&buf).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let referer = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("referer")
                            .then(|| v.trim().to_owned())
                    })
                    .unwrap_or_default();
                let reply = |status: &str, headers: &str, body: &[u8]| {
                    let mut r = format!(
                        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(body);
                    r
                };
                if referer != STORY {
                    let _ = stream
                        .write_all(&reply(
                            "403 Forbidden",
                            "Content-Type: text/plain\r\n",
                            b"hotlink",
                        ))
                        .await;
                    return;
                }
                let out = match path.as_str() {
                    "/img.png" => reply("200 OK", "Content-Type: image/png\r\n", PNG),
                    "/page.html" => reply("200 OK", "Content-Type: text/html\r\n", b"<p>no</p>"),
                    "/logo.svg" => reply("200 OK", "Content-Type: image/svg+xml\r\n", b"<svg/>"),
                    "/declared-big.jpg" => {
                        let _ = stream
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 6000000\r\nConnection: close\r\n\r\n")
                            .await;
                        return;
                    }
                    "/streamed-big.jpg" => {
                        // No Content-Length: the body ends when the connection closes.
                        if stream
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nConnection: close\r\n\r\n")
                            .await
                            .is_err()
                        {
                            return;
                        }
                        let block = vec![0u8; 64 * 1024];
                        for _ in 0..100 {
                            if stream.write_all(&block).await.is_err() {
                                return;
                            }
                        }
                        return;
                    }
                    "/moved" => reply("302 Found", "Location: /img.png\r\n", b""),
                    "/to-ftp" => reply("302 Found", "Location: ftp://files.example/a.png\r\n", b""),
                    "/to-file" => reply("301 Moved", "Location: file:///etc/passwd\r\n", b""),
                    "/loop" => reply("302 Found", "Location: /loop\r\n", b""),
                    _ => reply("404 Not Found", "", b""),
                };
                let _ = stream.write_all(&out).await;
            });
        }
    });
    Host { base, hits }
}

fn local_policy() -> FetchPolicy {
    FetchPolicy {
        allow_private: true,
        max_bytes: 5 * 1024 * 1024,
        ..FetchPolicy::default()
    }
}

fn token(host: &Host, path: &str) -> String {
    let image = Url::parse(&format!("{}{path}", host.base)).unwrap();
    sign(&KEY, &image, &Url::parse(STORY).unwrap())
}

#[tokio::test]
async fn serves_the_image_with_the_story_as_referer_and_caches_it() {
    let host = start_host().await;
    let proxy = ImageProxy::new(KEY, local_policy(), 1 << 20).unwrap();
    let img = proxy.serve(&token(&host, "/img.png")).await.unwrap();
    assert_eq!(&*img.bytes, PNG);
    assert_eq!(img.content_type, "image/png");
    assert!(img.etag.starts_with('"'));
    let again = proxy.serve(&token(&host, "/img.png")).await.unwrap();
    assert_eq!(again, img);
    assert_eq!(
        host.hits.load(Ordering::SeqCst),
        1,
        "second answer came from the cache"
    );
    assert_eq!(proxy.cache().len(), 1);

    // A redirect within the rules is followed, the Referer kept on the next hop.
    let moved = proxy.serve(&token(&host, "/moved")).await.unwrap();
    assert_eq!(&*moved.bytes, PNG);
}

#[tokio::test]
async fn refuses_what_is_not_a_small_image() {
    let host = start_host().await;
    let proxy = ImageProxy::new(KEY, local_policy(), 1 << 20).unwrap();
    let err = |e: Result<_, ProxyError>| match e {
        Err(ProxyError::Fetch(f)) => f,
        other => panic!("expected a fetch error, got {other:?}"),
    };
    let e = err(proxy.serve(&token(&host, "/page.html")).await);
    assert!(
        matches!(e, ImageFetchError::NotImage(Some(ref t)) if t == "text/html"),
        "{e:?}"
    );
    assert_eq!(e.status(), 502);
    let e = err(proxy.serve(&token(&host, "/logo.svg")).await);
    assert!(matches!(e, ImageFetchError::NotImage(_)), "{e:?}");
    let e = err(proxy.serve(&token(&host, "/declared-big.jpg")).await);
    assert_eq!(e, ImageFetchError::TooLarge(5 * 1024 * 1024));
    let e = err(proxy.serve(&token(&host, "/streamed-big.jpg")).await);
    assert_eq!(e, ImageFetchError::TooLarge(5 * 1024 * 1024));
    let e = err(proxy.serve(&token(&host, "/to-ftp")).await);
    assert_eq!(e, ImageFetchError::Scheme("ftp".into()));
    assert_eq!(e.status(), 403);
    let e = err(proxy.serve(&token(&host, "/to-file")).await);
    assert_eq!(e, ImageFetchError::Scheme("file".into()));
    let e = err(proxy.serve(&token(&host, "/loop")).await);
    assert_eq!(e, ImageFetchError::TooManyRedirects(5));
    let e = err(proxy.serve(&token(&host, "/missing.png")).await);
    assert_eq!(e, ImageFetchError::Status(404));
    assert!(proxy.cache().is_empty(), "failures are not cached");
}

#[tokio::test]
async fn the_portal_refuses_a_foreign_referer_which_is_why_the_proxy_exists() {
    let host = start_host().await;
    let proxy = ImageProxy::new(KEY, local_policy(), 1 << 20).unwrap();
    let image = Url::parse(&format!("{}/img.png", host.base)).unwrap();
    let wrong = sign(
        &KEY,
        &image,
        &Url::parse("https://reader.example/").unwrap(),
    );
    let e = proxy.serve(&wrong).await.unwrap_err();
    assert_eq!(e, ProxyError::Fetch(ImageFetchError::Status(403)));
}

#[tokio::test]
async fn altered_unsigned_and_internal_targets_are_forbidden() {
    let host = start_host().await;
    let proxy = ImageProxy::new(KEY, local_policy(), 1 << 20).unwrap();
    let good = token(&host, "/img.png");
    let mut altered = good.clone().into_bytes();
    let last = altered.len() - 1;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let e = proxy.serve(&altered).await.unwrap_err();
    assert!(matches!(e, ProxyError::Token(_)), "{e:?}");
    assert_eq!(e.status(), 403);
    let unsigned = good.split_once('.').unwrap().1;
    assert_eq!(
        proxy.serve(unsigned).await.unwrap_err(),
        ProxyError::Token(TokenError::Malformed)
    );
    assert_eq!(
        host.hits.load(Ordering::SeqCst),
        0,
        "nothing fetched for bad tokens"
    );

    // The production policy refuses loopback even with a valid token.
    let strict = ImageProxy::new(KEY, FetchPolicy::default(), 1 << 20).unwrap();
    let e = strict.serve(&good).await.unwrap_err();
    assert!(
        matches!(e, ProxyError::Fetch(ImageFetchError::ForbiddenAddress(_))),
        "{e:?}"
    );
    assert_eq!(e.status(), 403);
    // ...and so does its resolver for a name that points at loopback.
    let named = sign(
        &KEY,
        &Url::parse(&format!(
            "http://localhost:{}/img.png",
            host.base.rsplit(':').next().unwrap()
        ))
        .unwrap(),
        &Url::parse(STORY).unwrap(),
    );
    let e = strict.serve(&named).await.unwrap_err();
    assert!(
        matches!(e, ProxyError::Fetch(ImageFetchError::ForbiddenAddress(_))),
        "{e:?}"
    );
    assert_eq!(host.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn rewritten_html_points_at_tokens_the_proxy_serves() {
    let host = start_host().await;
    let proxy = ImageProxy::new(KEY, local_policy(), 1 << 20).unwrap();
    let route = ProxyRoute::new(&Url::parse("https://hw.example/img/").unwrap(), KEY).unwrap();
    let html = format!(r#"<p>图<img src="{}/img.png" alt="a"></p>"#, host.base);
    let out = route.rewrite_html(&html, &Url::parse(STORY).unwrap());
    let start = out.find("https://hw.example/img/").unwrap() + "https://hw.example/img/".len();
    let token: String = out[start..].chars().take_while(|c| *c != '"').collect();
    let img = proxy.serve(&token).await.unwrap();
    assert_eq!(&*img.bytes, PNG);
}
