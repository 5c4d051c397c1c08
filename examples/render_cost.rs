//! What writing feeds through the `rss` and `atom_syndication` crates costs, next to headwire's
//! own shared writer and next to the rest of an uncached feed request (the store query).
//!
//! `cargo run --release --example render_cost [ROUNDS]`. Prints the median time per 50-item
//! document for each writer (headwire's shared writer, the `rss` crate, `atom_syndication`),
//! the store query, the crate / shared-writer ratios, and what the crate adds as a share of an
//! uncached request (query + render). The crate writers here produce the same documents.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use atom_syndication::extension::{Extension, ExtensionMap};
use chrono::{FixedOffset, TimeZone, Utc};
use headwire::normalize::Observed;
use headwire::render::{
    self, entry_urn, primary_source, summary_html, FeedMeta, SourceInfo, SourceLookup,
};
use headwire::store::{BatchContext, Item, Query, Store};
use headwire::text::{fold_label, title_key};
use headwire::text::{push_xml_escaped, xml_text};

const ITEMS: usize = 50;

/// The Media RSS namespace.
const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";

/// The story of number `n`: a Chinese title, a summary on two in three, an author on one in
/// five, an image on every other, one label.
fn observed(n: usize) -> Observed {
    let title = format!("上海新增本土确诊病例{n}例 “抗疫”进行时 & <更新>");
    let path = format!("/politics/2022_03_13_{n}.shtml");
    Observed {
        identity: format!("link:news.example.cn{path}"),
        link: Some(format!("https://www.news.example.cn{path}?from=rss&x=1")),
        title_key: title_key(&title),
        title,
        summary: (n % 3 != 0).then(|| {
            format!("<p>记者从市卫健委获悉，{n}日0—24时，新增本土确诊病例。<b>详情</b>见 <a href=\"/d/{n}.html\">全文</a></p>")
        }),
        author: (n % 5 == 0).then(|| "本报记者 张三".to_string()),
        image: (n % 2 == 0).then(|| format!("https://i.news.example.cn/2022/03/{n}.jpg")),
        guid: None,
        published: Utc.with_ymd_and_hms(2022, 3, 13, 1, 0, 0).single().map(|t| t + chrono::Duration::minutes(n as i64)),
        page_labels: vec!["抗疫进行时".to_string()],
    }
}

/// `<media:content>` for an image, as the `rss` crate writes extensions.
fn rss_media_content(image: &str, mime: &str) -> rss::extension::ExtensionMap {
    let attrs = BTreeMap::from([
        ("url".to_string(), xml_text(image)),
        ("medium".to_string(), "image".to_string()),
        ("type".to_string(), mime.to_string()),
    ]);
    let content = rss::extension::Extension {
        name: "media:content".into(),
        attrs,
        ..Default::default()
    };
    let by_name = BTreeMap::from([("content".to_string(), vec![content])]);
    BTreeMap::from([("media".to_string(), by_name)])
}

/// The same RSS document written by the `rss` crate.
fn crate_rss(items: &[Item], meta: &FeedMeta, lookup: SourceLookup<'_>) -> String {
    let rss_item = |item: &Item| {
        let source = primary_source(item, lookup);
        let mut out = rss::Item {
            title: Some(xml_text(render::display_title(item))),
            link: item.link.as_deref().map(xml_text),
            description: item
                .summary
                .as_deref()
                .map(|summary| summary_html(summary, item.link.as_deref())),
            categories: item
                .labels
                .iter()
                .map(|label| rss::Category {
                    name: xml_text(label),
                    domain: None,
                })
                .collect(),
            guid: Some(rss::Guid {
                value: entry_urn(item),
                permalink: false,
            }),
            pub_date: Some(render::rfc822(item.published)),
            source: Some(rss::Source {
                url: xml_text(source.url.as_deref().unwrap_or(meta.site_url.as_str())),
                title: Some(xml_text(&source.name)),
            }),
            dublin_core_ext: item.author.as_deref().map(|author| {
                rss::extension::dublincore::DublinCoreExtension {
                    creators: vec![xml_text(author)],
                    ..Default::default()
                }
            }),
            ..Default::default()
        };
        if let Some(image) = &item.image {
            let mime = render::rss::image_mime(image);
            out.enclosure = Some(rss::Enclosure {
                url: xml_text(image),
                length: "0".into(),
                mime_type: mime.into(),
            });
            out.extensions = rss_media_content(image, mime);
        }
        out
    };
    let channel = rss::Channel {
        title: xml_text(&meta.title),
        link: xml_text(&meta.site_url),
        description: xml_text(&format!("{} — merged by headwire", meta.title)),
        last_build_date: Some(render::rfc822(meta.updated)),
        generator: Some(concat!("headwire ", env!("CARGO_PKG_VERSION")).into()),
        docs: Some("https://www.rssboard.org/rss-specification".into()),
        ttl: Some(meta.ttl_minutes.max(1).to_string()),
        items: items.iter().map(rss_item).collect(),
        atom_ext: Some(rss::extension::atom::AtomExtension {
            links: vec![atom_syndication::Link {
                href: xml_text(&meta.self_url),
                rel: "self".into(),
                mime_type: Some("application/rss+xml".into()),
                ..Default::default()
            }],
        }),
        namespaces: BTreeMap::from([("media".to_string(), MEDIA_NS.to_string())]),
        ..Default::default()
    };
    channel.to_string()
}

/// The same Atom document written by `atom_syndication` (headwire's writer before this
/// measurement).
/// `<media:content>` for an image. atom_syndication writes extension attributes verbatim
/// (unlike its own elements), so the URL is escaped here.
fn atom_media_content(image: &str) -> ExtensionMap {
    let mut url = String::with_capacity(image.len() + 8);
    push_xml_escaped(&mut url, image);
    let mut attrs = BTreeMap::new();
    attrs.insert("url".to_string(), url);
    attrs.insert("medium".to_string(), "image".to_string());
    attrs.insert(
        "type".to_string(),
        render::rss::image_mime(image).to_string(),
    );
    let content = Extension {
        name: "media:content".into(),
        attrs,
        ..Default::default()
    };
    let mut by_name = BTreeMap::new();
    by_name.insert("content".to_string(), vec![content]);
    let mut map = ExtensionMap::new();
    map.insert("media".to_string(), by_name);
    map
}

/// Renders items as an Atom 1.0 document.
fn crate_atom(items: &[Item], meta: &FeedMeta, lookup: SourceLookup<'_>) -> String {
    let utc = FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!("zero offset is valid"));
    let entries: Vec<atom_syndication::Entry> = items
        .iter()
        .map(|item| {
            let source = primary_source(item, lookup);
            let mut links = Vec::new();
            if let Some(link) = &item.link {
                links.push(atom_syndication::Link {
                    href: xml_text(link),
                    rel: "alternate".into(),
                    mime_type: Some("text/html".into()),
                    ..Default::default()
                });
            }
            if let Some(image) = &item.image {
                links.push(atom_syndication::Link {
                    href: xml_text(image),
                    rel: "enclosure".into(),
                    mime_type: Some(render::rss::image_mime(image).into()),
                    ..Default::default()
                });
            }
            let author_name = item.author.clone().unwrap_or_else(|| source.name.clone());
            let updated = render::feed_time(item.updated.max(item.published)).with_timezone(&utc);
            let portal = atom_syndication::Source {
                title: atom_syndication::Text::plain(xml_text(&source.name)),
                id: source
                    .url
                    .as_deref()
                    .map(xml_text)
                    .unwrap_or_else(|| format!("urn:headwire:source:{}", xml_text(&source.id))),
                updated,
                links: source
                    .url
                    .as_deref()
                    .map(|url| {
                        vec![atom_syndication::Link {
                            href: xml_text(url),
                            rel: "alternate".into(),
                            mime_type: Some("text/html".into()),
                            ..Default::default()
                        }]
                    })
                    .unwrap_or_default(),
                ..Default::default()
            };
            atom_syndication::Entry {
                id: entry_urn(item),
                title: atom_syndication::Text::plain(xml_text(render::display_title(item))),
                updated,
                published: Some(render::feed_time(item.published).with_timezone(&utc)),
                // An entry without an alternate link must carry content (RFC 4287 §4.1.2):
                // a story whose only link was unusable shows its summary, else its title.
                content: item.link.is_none().then(|| atom_syndication::Content {
                    value: Some(match &item.summary {
                        Some(s) => summary_html(s, None),
                        None => xml_text(render::display_title(item)),
                    }),
                    content_type: Some(
                        if item.summary.is_some() {
                            "html"
                        } else {
                            "text"
                        }
                        .into(),
                    ),
                    ..Default::default()
                }),
                links,
                categories: item
                    .labels
                    .iter()
                    .map(|label| atom_syndication::Category {
                        term: xml_text(label),
                        ..Default::default()
                    })
                    .collect(),
                authors: vec![atom_syndication::Person {
                    name: xml_text(&author_name),
                    uri: if item.author.is_none() {
                        source.url.as_deref().map(xml_text)
                    } else {
                        None
                    },
                    ..Default::default()
                }],
                summary: item
                    .summary
                    .as_deref()
                    .map(|s| atom_syndication::Text::html(summary_html(s, item.link.as_deref()))),
                source: Some(portal),
                extensions: item
                    .image
                    .as_deref()
                    .map(atom_media_content)
                    .unwrap_or_default(),
                ..Default::default()
            }
        })
        .collect();
    let feed = atom_syndication::Feed {
        id: xml_text(&meta.id),
        title: atom_syndication::Text::plain(xml_text(&meta.title)),
        updated: render::feed_time(meta.updated).with_timezone(&utc),
        links: vec![
            atom_syndication::Link {
                href: xml_text(&meta.self_url),
                rel: "self".into(),
                mime_type: Some("application/atom+xml".into()),
                ..Default::default()
            },
            atom_syndication::Link {
                href: xml_text(&meta.site_url),
                rel: "alternate".into(),
                mime_type: Some("text/html".into()),
                ..Default::default()
            },
        ],
        generator: Some(atom_syndication::Generator {
            value: "headwire".into(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
        entries,
        namespaces: if items.iter().any(|i| i.image.is_some()) {
            BTreeMap::from([("media".to_string(), MEDIA_NS.to_string())])
        } else {
            BTreeMap::new()
        },
        ..Default::default()
    };
    feed.to_string()
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort_unstable();
    runs[runs.len() / 2]
}

fn time<T>(rounds: usize, mut f: impl FnMut() -> T) -> Duration {
    for _ in 0..rounds / 10 + 1 {
        std::hint::black_box(f());
    }
    median(
        (0..rounds)
            .map(|_| {
                let started = Instant::now();
                std::hint::black_box(f());
                started.elapsed()
            })
            .collect(),
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = std::env::args().nth(1).map_or(Ok(400), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let batch: Vec<Observed> = (0..ITEMS).map(observed).collect();
    let now = Utc
        .with_ymd_and_hms(2022, 3, 13, 3, 0, 0)
        .single()
        .ok_or("bad time")?;
    let ctx = BatchContext {
        source_id: "news",
        section_key: "news/politics",
        section_name: "时政",
        title_window: Some(chrono::Duration::hours(48)),
        now,
    };
    store.apply_batch_deferred(&ctx, &batch)?;
    let query = Query {
        labels: vec![fold_label("news/politics")],
        limit: ITEMS,
        ..Query::default()
    };
    let items = store.query(&query, &|_| true)?;
    if items.len() != ITEMS {
        return Err(format!("the store gave {} items, not {ITEMS}", items.len()).into());
    }
    let lookup = |id: &str| {
        Some(SourceInfo {
            id: id.to_string(),
            name: "新闻网".into(),
            url: Some("https://www.news.example.cn/".into()),
        })
    };
    let meta = FeedMeta {
        title: "headwire — 时政".into(),
        site_url: "http://127.0.0.1:8080/".into(),
        self_url: "http://127.0.0.1:8080/feed.rss?section=时政&limit=50".into(),
        id: "urn:headwire:feed:politics".into(),
        updated: now,
        ttl_minutes: 10,
    };
    // Interleave the measurements so load on a shared machine hits them alike.
    let mut runs: [Vec<Duration>; 5] = Default::default();
    for _ in 0..5 {
        runs[0].push(time(rounds, || render::rss::render(&items, &meta, &lookup)));
        runs[1].push(time(rounds, || crate_rss(&items, &meta, &lookup)));
        runs[2].push(time(rounds, || {
            render::atom::render(&items, &meta, &lookup)
        }));
        runs[3].push(time(rounds, || crate_atom(&items, &meta, &lookup)));
        runs[4].push(time(rounds, || {
            store.query(&query, &|_| true).map(|i| i.len())
        }));
    }
    let [own_rss, crate_rss, own_atom, crate_atom, scan] =
        runs.map(|r| median(r).as_secs_f64() * 1e6);
    println!("{ITEMS}-item documents, median of 5 × {rounds} rounds (µs)");
    println!(
        "RSS   shared writer {own_rss:9.1}   rss crate        {crate_rss:9.1}   {:.2}×",
        crate_rss / own_rss
    );
    println!(
        "Atom  shared writer {own_atom:9.1}   atom_syndication {crate_atom:9.1}   {:.2}×",
        crate_atom / own_atom
    );
    println!("store query         {scan:9.1}");
    for (format, own, with_crate) in [("RSS", own_rss, crate_rss), ("Atom", own_atom, crate_atom)] {
        println!(
            "{format}: the crate's extra cost is {:.1}% of an uncached request (query + render with the crate)",
            100.0 * (with_crate - own) / (scan + with_crate)
        );
    }
    Ok(())
}
