//! The render stage: stored items → RSS 2.0, Atom 1.0 and JSON Feed documents.
//!
//! RSS and Atom are written by one shared writer ([`xml`]; it says why not the `rss` and
//! `atom_syndication` crates), JSON Feed by `serde_json`.
//!
//! Rendering is pure: it takes items and a [`FeedMeta`] and returns bytes. Rules owned here:
//! every text that reaches XML goes through [`crate::text::xml_text`], which removes the
//! characters XML 1.0 forbids (so a control character scraped from a page can never break a
//! reader); every summary goes through [`summary_html`] (ammonia: no script, style, event
//! handlers or `javascript:` URLs, relative links made absolute) whatever the store holds; and
//! every entry gets a stable id derived from the item id.

pub mod atom;
pub mod json;
pub mod rss;
mod xml;

use chrono::{DateTime, Utc};

use crate::store::Item;
use crate::text::escape::{xml_blank, xml_text_trimmed};

/// The Media RSS namespace (`media:content` for images, in RSS and Atom alike).
const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";

/// Document-level facts shared by all formats.
#[derive(Debug, Clone)]
pub struct FeedMeta {
    /// Feed title (e.g. "headwire — 时政").
    pub title: String,
    /// Human page the feed belongs to (the index page).
    pub site_url: String,
    /// The exact URL the reader requested (self link).
    pub self_url: String,
    /// Feed id (Atom) — stable for the same query.
    pub id: String,
    /// Newest change among the items (or now when empty).
    pub updated: DateTime<Utc>,
    /// Suggested minutes between reader polls.
    pub ttl_minutes: u64,
}

/// Where an item came from, for `<source>` and Atom authors.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    /// Source id from the config.
    pub id: String,
    /// Portal name.
    pub name: String,
    /// Portal home page.
    pub url: Option<String>,
}

/// Looks up a source by id.
pub type SourceLookup<'a> = &'a dyn Fn(&str) -> Option<SourceInfo>;

/// `t` within the years every feed format can write (RFC 822 and RFC 3339 need four digits, and
/// readers reject dates before the epoch): the store keeps believable times only, but a
/// renderer must not fail on any stored value.
pub fn feed_time(t: DateTime<Utc>) -> DateTime<Utc> {
    t.clamp(DateTime::<Utc>::UNIX_EPOCH, latest_feed_time())
}

/// 9999-12-31T23:59:59Z, the last instant a four-digit year can write.
fn latest_feed_time() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// RFC 822 date for RSS, for any stored time.
pub fn rfc822(t: DateTime<Utc>) -> String {
    feed_time(t).to_rfc2822()
}

/// RFC 3339 date (seconds, `Z`) for JSON Feed, for any stored time.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    feed_time(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The title a document shows: the stored one, or `(untitled)` when nothing printable would be
/// left of it in XML (every format needs a title a reader can show).
pub fn display_title(item: &Item) -> &str {
    if xml_blank(&item.title) {
        "(untitled)"
    } else {
        &item.title
    }
}

/// A summary made safe to show: sanitised with ammonia (script/style dropped with their
/// content, event-handler attributes and `javascript:` URLs removed, links marked
/// `noopener noreferrer`), relative URLs resolved against the item's link, and characters XML
/// forbids removed. Applied at render time too, so nothing unsafe reaches a reader whatever
/// the store holds.
pub fn summary_html(summary: &str, item_link: Option<&str>) -> String {
    if let Some(plain) = plain_summary_html(summary) {
        return plain;
    }
    let relative = match item_link.and_then(|l| url::Url::parse(l).ok()) {
        Some(base) => ammonia::UrlRelative::RewriteWithBase(base),
        None => ammonia::UrlRelative::Deny,
    };
    let cleaned = SANITISER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut builder) => {
            builder.url_relative(relative);
            builder.clean(summary).to_string()
        }
        // Only reachable if cleaning re-entered this function; a fresh sanitiser answers the same.
        Err(_) => {
            let mut builder = sanitiser();
            builder.url_relative(relative);
            builder.clean(summary).to_string()
        }
    });
    xml_text_trimmed(cleaned)
}

thread_local! {
    /// This thread's sanitiser for [`summary_html`]: building ammonia's tag and attribute sets
    /// cost more than cleaning a typical summary, so each thread builds them once and only the
    /// relative-URL rule (it holds the item's base URL) is set per call.
    static SANITISER: std::cell::RefCell<ammonia::Builder<'static>> =
        std::cell::RefCell::new(sanitiser());
}

/// ammonia's defaults with links marked `noopener noreferrer`: the sanitiser [`summary_html`]
/// uses, before its per-item relative-URL rule is set.
fn sanitiser() -> ammonia::Builder<'static> {
    let mut builder = ammonia::Builder::default();
    builder.link_rel(Some("noopener noreferrer"));
    builder
}

/// What [`summary_html`] returns for a summary with no markup (text, at most the entities
/// `&amp;` `&lt;` `&gt;` `&quot;` `&#39;` `&apos;` `&nbsp;`): the same bytes ammonia would produce, without
/// building its sanitiser and parsing an HTML fragment, which dominated uncached renders of
/// portals whose summaries are plain text. `None` when the summary needs the sanitiser.
fn plain_summary_html(summary: &str) -> Option<String> {
    let mut out = String::with_capacity(summary.len() + 16);
    let mut rest = summary;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match c {
            '&' => {
                let (entity, replacement) = [
                    ("amp;", "&amp;"),
                    ("lt;", "&lt;"),
                    ("gt;", "&gt;"),
                    ("quot;", "\""),
                    ("#39;", "'"),
                    ("apos;", "'"),
                    ("nbsp;", "&nbsp;"),
                ]
                .into_iter()
                .find(|(entity, _)| rest.starts_with(entity))?;
                out.push_str(replacement);
                rest = &rest[entity.len()..];
            }
            '>' => out.push_str("&gt;"),
            '\u{A0}' => out.push_str("&nbsp;"),
            '\t' | '\n' => out.push(c),
            // Markup, and characters the HTML parser rewrites (CR, NUL, other controls).
            '<' | '\r' => return None,
            c if c < ' ' || ('\u{7F}'..='\u{9F}').contains(&c) => return None,
            c => out.push(c),
        }
    }
    Some(xml_text_trimmed(out))
}

/// A stable URN for an item id (a UUID-shaped rendering of the 128-bit id).
pub fn entry_urn(item: &Item) -> String {
    entry_urn_parts(item).concat()
}

/// [`entry_urn`] in pieces, for a writer to copy without joining them first.
fn entry_urn_parts(item: &Item) -> [&str; 10] {
    let id = item.id.as_str();
    let uuid = (id.len() == 32)
        .then(|| {
            Some([
                id.get(0..8)?,
                id.get(8..12)?,
                id.get(12..16)?,
                id.get(16..20)?,
                id.get(20..32)?,
            ])
        })
        .flatten();
    match uuid {
        Some([a, b, c, d, e]) => ["urn:uuid:", a, "-", b, "-", c, "-", d, "-", e],
        None => ["urn:headwire:", id, "", "", "", "", "", "", "", ""],
    }
}

/// An RFC 3339 date (seconds, `Z`), exactly as [`rfc3339`] writes it, kept on the stack: the
/// Atom writer puts three in every entry.
struct Rfc3339([u8; 20]);

impl Rfc3339 {
    fn new(t: DateTime<Utc>) -> Rfc3339 {
        use chrono::{Datelike as _, Timelike as _};
        let t = feed_time(t);
        // A leap second (nanoseconds past 10⁹) is written as second 60, as chrono does.
        let second = t.second() + u32::from(t.nanosecond() >= 1_000_000_000);
        // `feed_time` keeps the year within 1970..=9999: four digits.
        let year = u32::try_from(t.year()).unwrap_or(0);
        let mut out = *b"0000-00-00T00:00:00Z";
        let digits = |slot: &mut [u8], mut value: u32| {
            for byte in slot.iter_mut().rev() {
                *byte = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        digits(&mut out[0..4], year);
        digits(&mut out[5..7], t.month());
        digits(&mut out[8..10], t.day());
        digits(&mut out[11..13], t.hour());
        digits(&mut out[14..16], t.minute());
        digits(&mut out[17..19], second);
        Rfc3339(out)
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// The item's source info (first source), falling back to the id.
pub fn primary_source(item: &Item, lookup: SourceLookup<'_>) -> SourceInfo {
    let id = item
        .sources
        .first()
        .map(String::as_str)
        .unwrap_or("headwire");
    lookup(id).unwrap_or_else(|| SourceInfo {
        id: id.to_string(),
        name: id.to_string(),
        url: None,
    })
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use chrono::TimeZone;

    pub fn item(n: u32, title: &str) -> Item {
        let t = Utc.with_ymd_and_hms(2022, 3, 13, 1, 27, 0).unwrap()
            + chrono::Duration::minutes(n as i64);
        Item {
            id: format!("{:032x}", n as u128 + 0xabc),
            identity: format!("link:example.com/{n}"),
            link: Some(format!("https://example.com/a/{n}.html?x=1&y=2")),
            title: title.to_string(),
            summary: Some("<p>summary &amp; <b>more</b></p>".into()),
            author: None,
            image: None,
            published: t,
            first_seen: t,
            updated: t,
            sources: vec!["guancha".into()],
            sections: vec!["guancha/politics".into()],
            labels: vec!["时政".into(), "抗疫进行时".into()],
            label_keys: vec![],
            title_key: String::new(),
            content: None,
        }
    }

    pub fn meta() -> FeedMeta {
        FeedMeta {
            title: "headwire".into(),
            site_url: "http://localhost:8080/".into(),
            self_url: "http://localhost:8080/feed.rss?section=a&limit=5".into(),
            id: "urn:headwire:feed:test".into(),
            updated: Utc.with_ymd_and_hms(2022, 3, 13, 2, 0, 0).unwrap(),
            ttl_minutes: 10,
        }
    }

    pub fn lookup(id: &str) -> Option<SourceInfo> {
        (id == "guancha").then(|| SourceInfo {
            id: "guancha".into(),
            name: "观察者网".into(),
            url: Some("https://www.guancha.cn/".into()),
        })
    }

    pub const NASTY: &str = "A & B <c> ]]> \u{0001}ctrl\u{FFFF} \"q\"";

    /// A summary that tries everything a sanitiser must stop.
    pub const HOSTILE_SUMMARY: &str = "<p onclick=\"steal()\">Hi <script>alert(1)</script>\
        <style>body{display:none}</style><a href=\"javascript:alert(2)\">x</a> \
        <a href=\"/rel/path.html\">rel</a> <img src=\"/i.png\" onerror=\"bad()\"> ]]> \u{0002} &amp; &lt;b&gt;</p>";

    /// Checks a sanitised summary keeps no active content.
    pub fn assert_inert(html: &str) {
        let lower = html.to_ascii_lowercase();
        for bad in [
            "<script",
            "<style",
            "onclick",
            "onerror",
            "javascript:",
            "alert(1)",
            "\u{0002}",
        ] {
            assert!(!lower.contains(bad), "{bad} survived in {html}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use crate::text::{push_xml_escaped, xml_text};
    use proptest::strategy::Strategy as _;

    #[test]
    fn summaries_are_sanitised_and_absolutised() {
        let clean = summary_html(HOSTILE_SUMMARY, Some("https://example.com/a/1.html"));
        assert_inert(&clean);
        assert!(
            clean.contains("href=\"https://example.com/rel/path.html\""),
            "{clean}"
        );
        assert!(
            clean.contains("src=\"https://example.com/i.png\""),
            "{clean}"
        );
        assert!(clean.contains("Hi"));
        // Without a base, relative URLs are dropped rather than left dangling.
        assert!(!summary_html(HOSTILE_SUMMARY, None).contains("/rel/path.html"));
    }

    proptest::proptest! {
        /// The plain-text shortcut is only an optimisation: wherever it answers, it answers
        /// exactly what the sanitiser would.
        #[test]
        fn plain_summaries_match_the_sanitiser(
            summary in "([a-zA-Z0-9 '\"=/:;#>\\t\\n\u{A0}\u{3000}]|时政|抗疫|&amp;|&lt;|&gt;|&quot;|&#39;|&apos;|&nbsp;|&copy;|&|\r|<b>|\u{1}|\u{FFFF})*",
            link in proptest::option::of("https://example\\.com/a/[0-9]\\.html"),
        ) {
            if let Some(fast) = plain_summary_html(&summary) {
                let mut builder = ammonia::Builder::default();
                builder.link_rel(Some("noopener noreferrer"));
                let slow = xml_text(builder.clean(&summary).to_string().trim());
                proptest::prop_assert_eq!(&fast, &slow, "summary {:?}", summary);
                proptest::prop_assert_eq!(summary_html(&summary, link.as_deref()), slow);
            }
        }
    }

    /// [`summary_html`] as it was before the sanitiser was kept per thread: a new ammonia
    /// builder for every summary with markup. The kept sanitiser must answer exactly this.
    fn summary_html_per_call(summary: &str, item_link: Option<&str>) -> String {
        if let Some(plain) = plain_summary_html(summary) {
            return plain;
        }
        let mut builder = ammonia::Builder::default();
        builder.link_rel(Some("noopener noreferrer"));
        match item_link.and_then(|l| url::Url::parse(l).ok()) {
            Some(base) => {
                builder.url_relative(ammonia::UrlRelative::RewriteWithBase(base));
            }
            None => {
                builder.url_relative(ammonia::UrlRelative::Deny);
            }
        }
        xml_text(builder.clean(summary).to_string().trim())
    }

    /// Pieces of summaries as portals and hostile pages write them.
    const SUMMARY_PIECES: &[&str] = &[
        "<p>",
        "</p>",
        "<b>",
        "</b>",
        "<br>",
        "<div class=\"x\" style=\"color:red\">",
        "</div>",
        "<a href=\"/rel/path.html\">",
        "<a href=\"../up.html?a=1&amp;b=2\">",
        "<a href=\"//cdn.example.net/x\">",
        "<a href=\"#frag\">",
        "<a href=\"?q=1\">",
        "<a href=\"javascript:alert(2)\">",
        "<a href=\"JaVaScRiPt:alert(3)\">",
        "<a href=\"mailto:a@example.com\">",
        "<a href=\"https://other.example.org/\" rel=\"x\">",
        "<a href=\"data:text/html,<b>\">",
        "<a href=\"rel.html\" target=\"_blank\">",
        "</a>",
        "<img src=\"/i.png\" onerror=\"bad()\">",
        "<img src=\"i.png\" srcset=\"a.png 1x, /b.png 2x\">",
        "<img src=\"javascript:x\">",
        "<script>alert(1)</script>",
        "<style>body{}</style>",
        "<iframe src=\"/f\"></iframe>",
        "<p onclick=\"steal()\">",
        "<!-- c -->",
        "<![CDATA[x]]>",
        "&amp;",
        "&lt;b&gt;",
        "&quot;",
        "&#39;",
        "&nbsp;",
        "&copy;",
        "&#x1F600;",
        "&bogus;",
        "&",
        "<",
        ">",
        "]]>",
        "\"",
        "'",
        "\r\n",
        "\t",
        "\u{0}",
        "\u{1}",
        "\u{2}",
        "\u{7F}",
        "\u{85}",
        "\u{FFFE}",
        "\u{FFFF}",
        "\u{A0}",
        "\u{3000}",
        "时政",
        "抗疫进行时",
        " ",
        "  text  ",
        "x",
        "<table><tr><td>1</td></tr></table>",
        "<ul><li>a<li>b</ul>",
        "<svg><a href=\"/s\">s</a></svg>",
        "<math><mi>x</mi></math>",
        "<noscript><p>n</p></noscript>",
        "<form action=\"/f\">",
    ];

    /// Item links: none, absolute ones, ones with markup-significant characters, and ones that
    /// do not parse (then relative URLs are denied).
    const ITEM_LINKS: &[Option<&str>] = &[
        None,
        Some("https://example.com/a/1.html"),
        Some("https://example.com/a/1.html?x=1&y=2"),
        Some("https://example.com/a?x=1&y=<2>"),
        Some("http://news.example.cn/politics/2022/"),
        Some("not a url"),
        Some("/relative/only"),
        Some("mailto:x@example.com"),
        Some(""),
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]
        /// The per-thread sanitiser is only an optimisation: for any summary and any item link,
        /// in any order of calls, it answers what a new builder per summary answered.
        #[test]
        fn the_kept_sanitiser_matches_a_new_one_per_summary(
            calls in proptest::collection::vec(
                (
                    proptest::prop_oneof![
                        proptest::collection::vec(proptest::sample::select(SUMMARY_PIECES), 0..24)
                            .prop_map(|pieces| pieces.concat()),
                        "\\PC{0,60}",
                    ],
                    proptest::sample::select(ITEM_LINKS),
                ),
                1..4,
            ),
        ) {
            for (summary, link) in &calls {
                proptest::prop_assert_eq!(
                    summary_html(summary, *link),
                    summary_html_per_call(summary, *link),
                    "summary {:?}, link {:?}", summary, link
                );
            }
        }
    }

    #[test]
    fn the_kept_sanitiser_matches_on_hand_written_summaries() {
        let summaries = [
            HOSTILE_SUMMARY,
            "<p>summary &amp; <b>more</b></p>",
            "<p>记者从市卫健委获悉。<b>详情</b>见 <a href=\"/d/1.html\">全文</a></p>",
            "<a href=\"javascript:alert(1)\">x</a><a href=\"rel.html\">y</a>",
            "<img src=\"pic.jpg\"> <a href=\"//host/x\">h</a> <a href=\"#top\">t</a>",
            "  <p> padded </p>  ",
            "<script>only script</script>",
            "",
            "plain text & more",
            "text &copy; 2022",
            "\u{1}<b>ctrl</b>\u{FFFF}",
        ];
        // Alternate bases so a rule left from the previous call would show.
        for round in 0..2 {
            for (i, summary) in summaries.iter().enumerate() {
                for link in ITEM_LINKS
                    .iter()
                    .cycle()
                    .skip(i + round)
                    .take(ITEM_LINKS.len())
                {
                    assert_eq!(
                        summary_html(summary, *link),
                        summary_html_per_call(summary, *link),
                        "summary {summary:?}, link {link:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn plain_summaries_take_the_shortcut_and_markup_does_not() {
        assert_eq!(
            plain_summary_html("  A &amp; B > C \u{A0}时政 &quot;q&quot; "),
            Some("A &amp; B &gt; C &nbsp;时政 \"q\"".to_string())
        );
        assert_eq!(plain_summary_html("<p>x</p>"), None);
        assert_eq!(plain_summary_html("a &copy; b"), None);
        assert_eq!(plain_summary_html("a & b"), None);
        assert_eq!(plain_summary_html(HOSTILE_SUMMARY), None);
    }

    #[test]
    fn escaping_keeps_xml_well_formed() {
        let mut out = String::new();
        push_xml_escaped(&mut out, NASTY);
        assert_eq!(out, "A &amp; B &lt;c&gt; ]]&gt; ctrl &quot;q&quot;");
    }
}

/// Every stored item renders to a valid document in every format, whatever its fields hold:
/// text from hostile pages, links that were dropped, and any date a store could contain.
#[cfg(test)]
mod total {
    use super::fixtures::*;
    use super::*;
    use chrono::Timelike as _;
    use proptest::prelude::*;

    /// Any instant chrono can hold, from year −262143 to +262142 (older stores and bugs).
    fn any_time() -> impl Strategy<Value = DateTime<Utc>> {
        prop_oneof![
            (DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp())
                .prop_map(|s| DateTime::<Utc>::from_timestamp(s, 0).unwrap_or_default()),
            (0i64..4_102_444_800)
                .prop_map(|s| DateTime::<Utc>::from_timestamp(s, 0).unwrap_or_default()),
            Just(DateTime::<Utc>::MIN_UTC),
            Just(DateTime::<Utc>::MAX_UTC),
        ]
    }

    /// Text that has broken feeds: markup, CDATA ends, controls, bidi overrides, non-characters,
    /// characters whose case folding changes their length, and plain Unicode.
    fn hostile_text() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC{0,40}",
            "(<script>|]]>|&|<|>|\"|'|\u{0}|\u{1}|\u{7}|\u{1B}|\u{202E}|\u{2066}|\u{FEFF}|\u{FFFE}|\u{FFFF}|İ|ẞ|ﬃ|\u{212A}|\u{10FFFF}|时政| |\t|\n|\r)*",
            Just(String::new()),
        ]
    }

    fn link() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            Just(Some("https://example.com/a?x=1&y=<2>".to_string())),
            "\\PC{0,30}".prop_map(Some),
        ]
    }

    prop_compose! {
        fn any_item()(
            n in 0u32..1000,
            title in hostile_text(),
            link in link(),
            summary in proptest::option::of(hostile_text()),
            author in proptest::option::of(hostile_text()),
            image in link(),
            published in any_time(),
            updated in any_time(),
            labels in proptest::collection::vec(hostile_text(), 0..3),
            source in prop_oneof![Just("guancha".to_string()), hostile_text()],
        ) -> Item {
            let mut it = item(n, &title);
            it.link = link;
            it.summary = summary;
            it.author = author;
            it.image = image;
            it.published = published;
            it.updated = updated;
            it.labels = labels;
            it.sources = vec![source];
            it
        }
    }

    /// Strict XML 1.0 well-formedness: matching end tags, one root, attributes and entities
    /// that resolve, and only characters XML 1.0 allows.
    fn well_formed(xml: &str) -> Result<(), String> {
        use quick_xml::events::Event;
        let mut reader = quick_xml::Reader::from_str(xml);
        reader.config_mut().check_end_names = true;
        let (mut depth, mut roots) = (0i32, 0);
        loop {
            let event = reader
                .read_event()
                .map_err(|e| format!("{e} at {}", reader.buffer_position()))?;
            let (start, opens) = match &event {
                Event::Start(e) => (Some(e.clone()), true),
                Event::Empty(e) => (Some(e.clone()), false),
                Event::End(_) => {
                    depth -= 1;
                    (None, false)
                }
                Event::Text(t) => {
                    let text = t.decode().map_err(|e| e.to_string())?;
                    quick_xml::escape::unescape(&text).map_err(|e| e.to_string())?;
                    (None, false)
                }
                Event::Eof => break,
                _ => (None, false),
            };
            if let Some(e) = start {
                for attribute in e.attributes().with_checks(true) {
                    let attribute = attribute.map_err(|e| e.to_string())?;
                    attribute
                        .normalized_value(quick_xml::XmlVersion::default())
                        .map_err(|e| e.to_string())?;
                }
                if depth == 0 {
                    roots += 1;
                }
                if opens {
                    depth += 1;
                }
            }
        }
        if depth != 0 || roots != 1 {
            return Err(format!("depth {depth}, {roots} roots"));
        }
        match xml.chars().find(|&c| {
            !(matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}'))
        }) {
            Some(c) => Err(format!("character {c:?} is not allowed in XML 1.0")),
            None => Ok(()),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: std::env::var("HEADWIRE_PROPTEST_CASES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(10_000),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn any_stored_item_renders_a_valid_document(
            items in proptest::collection::vec(any_item(), 1..3),
            updated in any_time(),
        ) {
            let mut meta = meta();
            meta.updated = updated;
            let rss_xml = rss::render(&items, &meta, &lookup);
            prop_assert_eq!(well_formed(&rss_xml), Ok(()), "{}", rss_xml);
            let channel = ::rss::Channel::read_from(rss_xml.as_bytes());
            prop_assert!(channel.is_ok(), "RSS does not parse: {:?}\n{}", channel.err(), rss_xml);
            let channel = channel.unwrap_or_default();
            prop_assert_eq!(channel.items().len(), items.len());
            prop_assert!(DateTime::parse_from_rfc2822(channel.last_build_date().unwrap_or("")).is_ok());
            for entry in channel.items() {
                prop_assert!(entry.title().is_some_and(|t| !t.trim().is_empty()));
                let date = entry.pub_date().unwrap_or("");
                prop_assert!(DateTime::parse_from_rfc2822(date).is_ok(), "pubDate {:?}", date);
            }

            let atom_xml = atom::render(&items, &meta, &lookup);
            prop_assert_eq!(well_formed(&atom_xml), Ok(()), "{}", atom_xml);
            let feed = atom_xml.parse::<atom_syndication::Feed>();
            prop_assert!(feed.is_ok(), "Atom does not parse: {:?}\n{}", feed.err(), atom_xml);
            let feed = feed.unwrap_or_default();
            prop_assert_eq!(feed.entries().len(), items.len());
            for entry in feed.entries() {
                // RFC 4287 §4.1.1: an entry without content needs an alternate link.
                let alternate = entry.links().iter().any(|l| l.rel() == "alternate");
                prop_assert!(alternate || entry.content().is_some(), "entry {} has neither", entry.id());
                prop_assert!(!entry.title().as_str().trim().is_empty());
            }

            let json = json::render(&items, &meta, &lookup);
            let doc: Result<serde_json::Value, _> = serde_json::from_str(&json);
            prop_assert!(doc.is_ok(), "JSON Feed does not parse: {:?}", doc.err());
            let doc = doc.unwrap_or_default();
            prop_assert_eq!(doc["items"].as_array().map(Vec::len), Some(items.len()));
            for entry in doc["items"].as_array().into_iter().flatten() {
                let date = entry["date_published"].as_str().unwrap_or("");
                prop_assert!(DateTime::parse_from_rfc3339(date).is_ok(), "{:?}", date);
            }
        }
    }

    proptest! {
        #[test]
        fn stack_dates_are_what_chrono_writes(t in any_time(), leap in any::<bool>()) {
            let t = if leap {
                // Leap seconds are stored as nanoseconds past 10⁹ at second 59.
                t.with_nanosecond(1_500_000_000).unwrap_or(t)
            } else {
                t
            };
            let stack = Rfc3339::new(t);
            prop_assert_eq!(stack.as_str(), rfc3339(t));
        }

        #[test]
        fn urn_parts_join_to_the_urn(id in prop_oneof![
            "[0-9a-f]{32}", "\\PC{0,40}", "[a-zé]{30,33}", Just(String::new()),
        ]) {
            let mut it = item(1, "x");
            it.id = id;
            let expected = match it.id.len() {
                32 if it.id.is_ascii() => format!(
                    "urn:uuid:{}-{}-{}-{}-{}",
                    &it.id[0..8], &it.id[8..12], &it.id[12..16], &it.id[16..20], &it.id[20..32]
                ),
                32 => entry_urn(&it), // the old code could not slice it: no reference to compare
                _ => format!("urn:headwire:{}", it.id),
            };
            prop_assert_eq!(entry_urn(&it), expected);
        }
    }

    #[test]
    fn leap_seconds_and_clamped_years_are_written_as_chrono_does() {
        use chrono::TimeZone as _;
        let leap = Utc
            .with_ymd_and_hms(2016, 12, 31, 23, 59, 59)
            .unwrap()
            .with_nanosecond(1_000_000_000)
            .unwrap();
        assert_eq!(Rfc3339::new(leap).as_str(), "2016-12-31T23:59:60Z");
        assert_eq!(Rfc3339::new(leap).as_str(), rfc3339(leap));
        for t in [
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            DateTime::<Utc>::UNIX_EPOCH,
        ] {
            assert_eq!(Rfc3339::new(t).as_str(), rfc3339(t));
        }
    }

    #[test]
    fn an_item_without_a_link_carries_content_in_atom() {
        let mut no_link = item(1, "只有标题");
        no_link.link = None;
        no_link.summary = None;
        let mut with_summary = item(2, "有摘要");
        with_summary.link = None;
        let xml = atom::render(&[no_link, with_summary], &meta(), &lookup);
        let feed: atom_syndication::Feed = xml.parse().unwrap();
        let first = feed.entries()[0].content().unwrap();
        assert_eq!(first.content_type(), Some("text"));
        assert_eq!(first.value(), Some("只有标题"));
        let second = feed.entries()[1].content().unwrap();
        assert_eq!(second.content_type(), Some("html"));
        assert!(second.value().unwrap().contains("summary"));
        // A linked entry keeps its alternate link and gets no content element.
        let linked = atom::render(&[item(3, "有链接")], &meta(), &lookup);
        assert!(!linked.contains("<content"), "{linked}");
    }

    #[test]
    fn dates_beyond_what_feeds_can_write_are_clamped() {
        let mut it = item(1, "x");
        it.published = DateTime::<Utc>::MIN_UTC;
        it.updated = DateTime::<Utc>::MAX_UTC;
        let xml = rss::render(std::slice::from_ref(&it), &meta(), &lookup);
        assert!(
            xml.contains("<pubDate>Thu, 1 Jan 1970 00:00:00 +0000</pubDate>"),
            "{xml}"
        );
        let json = json::render(&[it], &meta(), &lookup);
        assert!(
            json.contains("\"date_modified\": \"9999-12-31T23:59:59Z\""),
            "{json}"
        );
    }
}
