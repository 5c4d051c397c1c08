//! JSON Feed 1.1 documents: the full article text, when stored and asked for, as
//! `content_html` (with the summary as plain-text `summary`), else the summary.

use serde_json::{json, Value};

use super::{entry_urn, primary_source, summary_html, FeedMeta, SourceLookup};
use crate::store::Item;
use crate::text::html_to_text;

/// Renders items as a JSON Feed 1.1 document.
pub fn render(items: &[Item], meta: &FeedMeta, lookup: SourceLookup<'_>) -> String {
    let entries: Vec<Value> = items
        .iter()
        .map(|item| {
            let source = primary_source(item, lookup);
            let mut entry = json!({
                "id": entry_urn(item),
                "title": super::display_title(item),
                "date_published": super::rfc3339(item.published),
                "date_modified": super::rfc3339(item.updated.max(item.published)),
                "tags": item.labels,
                "authors": [{
                    "name": item.author.clone().unwrap_or_else(|| source.name.clone()),
                }],
                "_source": { "name": source.name, "url": source.url },
            });
            if let Some(link) = &item.link {
                entry["url"] = json!(link);
            }
            match (&item.content, &item.summary) {
                (Some(content), summary) => {
                    entry["content_html"] = json!(summary_html(content, item.link.as_deref()));
                    if let Some(summary) = summary {
                        entry["summary"] = json!(html_to_text(summary));
                    }
                }
                (None, Some(summary)) => {
                    entry["content_html"] = json!(summary_html(summary, item.link.as_deref()));
                }
                (None, None) => entry["content_text"] = json!(super::display_title(item)),
            }
            if let Some(image) = &item.image {
                entry["image"] = json!(image);
            }
            entry
        })
        .collect();
    let doc = json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": meta.title,
        "home_page_url": meta.site_url,
        "feed_url": meta.self_url,
        "items": entries,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn renders_json_feed() {
        let mut first = item(1, NASTY);
        first.summary = Some(HOSTILE_SUMMARY.into());
        first.image = Some("https://img.example.com/p.jpg".into());
        first.author = Some("张三".into());
        let xml = render(&[first], &meta(), &lookup);
        let doc: Value = serde_json::from_str(&xml).unwrap();
        assert_inert(doc["items"][0]["content_html"].as_str().unwrap());
        assert_eq!(doc["items"][0]["image"], "https://img.example.com/p.jpg");
        assert_eq!(doc["items"][0]["authors"][0]["name"], "张三");
        assert_eq!(doc["items"][0]["_source"]["url"], "https://www.guancha.cn/");
        assert_eq!(doc["feed_url"], meta().self_url);
        assert_eq!(doc["version"], "https://jsonfeed.org/version/1.1");
        assert_eq!(doc["items"][0]["title"], NASTY);
        assert_eq!(doc["items"][0]["date_published"], "2022-03-13T01:28:00Z");
        assert_eq!(doc["items"][0]["tags"][1], "抗疫进行时");
    }
}
