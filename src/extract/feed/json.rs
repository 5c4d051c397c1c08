//! JSON Feed 1.0 and 1.1, through `serde_json`.
//!
//! The top level and `items` are read with seeds that skip what is not an object, so one
//! malformed item (a number, a list) costs that item, not the feed, and a limited parse stops
//! deserialising after the first entries.

use crate::text::{escape_html, resolve_link};
use std::fmt;
use url::Url;

use super::item::{finish, RawItem};
use super::{FeedError, FeedFormat, ParsedFeed};

pub(super) fn is_json_feed(value: &serde_json::Value) -> bool {
    value
        .get("version")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|v| v.contains("jsonfeed.org"))
}

/// The top-level `items` member of a JSON Feed as read with a limit.
pub(super) enum JsonItems {
    /// Missing or `null`.
    Absent,
    /// The first objects of the array, up to the limit (other members are skipped).
    Objects(Vec<serde_json::Value>),
    /// Present but not an array.
    NotArray,
}

/// Reads a JSON Feed's top-level object: every member as a `Value` except `items`, of which
/// only the first `limit` objects are built; the rest are skipped by the JSON reader.
pub(super) struct JsonTopSeed {
    pub(super) limit: Option<usize>,
}

impl<'de> serde::de::DeserializeSeed<'de> for JsonTopSeed {
    type Value = (serde_json::Map<String, serde_json::Value>, JsonItems);

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for JsonTopSeed {
    type Value = (serde_json::Map<String, serde_json::Value>, JsonItems);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON Feed object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = serde_json::Map::new();
        let mut items = JsonItems::Absent;
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                items = map.next_value_seed(JsonItemsSeed { limit: self.limit })?;
            } else {
                let value: serde_json::Value = map.next_value()?;
                members.insert(key, value);
            }
        }
        Ok((members, items))
    }
}

/// Reads the `items` member (see [`JsonTopSeed`]).
pub(super) struct JsonItemsSeed {
    pub(super) limit: Option<usize>,
}

impl<'de> serde::de::DeserializeSeed<'de> for JsonItemsSeed {
    type Value = JsonItems;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<JsonItems, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for JsonItemsSeed {
    type Value = JsonItems;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of items")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<JsonItems, A::Error> {
        let mut objects = Vec::new();
        while self.limit.is_none_or(|limit| objects.len() < limit) {
            match seq.next_element_seed(JsonObjectSeed)? {
                Some(Some(object)) => objects.push(object),
                Some(None) => {}
                None => return Ok(JsonItems::Objects(objects)),
            }
        }
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(JsonItems::Objects(objects))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<JsonItems, E> {
        Ok(JsonItems::Absent)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<JsonItems, E> {
        Ok(JsonItems::Absent)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<JsonItems, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(JsonItems::NotArray)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<JsonItems, E> {
        Ok(JsonItems::NotArray)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<JsonItems, E> {
        Ok(JsonItems::NotArray)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<JsonItems, E> {
        Ok(JsonItems::NotArray)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<JsonItems, E> {
        Ok(JsonItems::NotArray)
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<JsonItems, E> {
        Ok(JsonItems::NotArray)
    }
}

/// One member of `items`: an object is built as a `Value`, anything else is skipped (`None`).
pub(super) struct JsonObjectSeed;

impl<'de> serde::de::DeserializeSeed<'de> for JsonObjectSeed {
    type Value = Option<serde_json::Value>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for JsonObjectSeed {
    type Value = Option<serde_json::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an item")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        use serde::Deserialize;
        let object =
            serde_json::Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        Ok(Some(object))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
}

pub(super) fn parse_json_feed(
    text: &str,
    feed_url: &Url,
    limit: Option<usize>,
) -> Result<ParsedFeed, FeedError> {
    use serde::de::DeserializeSeed;
    use serde_json::Value;
    let mut reader = serde_json::Deserializer::from_str(text);
    let (members, items) = JsonTopSeed { limit }.deserialize(&mut reader)?;
    reader.end()?;
    let value = Value::Object(members);
    if !is_json_feed(&value) {
        return Err(FeedError::NotAFeed {
            what: "JSON without a jsonfeed.org version".into(),
        });
    }
    let s = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let author_of = |v: &Value| {
        v.get("authors")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find_map(|x| s(x, "name")))
            .or_else(|| v.get("author").and_then(|a| s(a, "name")))
    };
    let feed_author = author_of(&value);
    let items = match items {
        JsonItems::Absent => Vec::new(),
        JsonItems::Objects(items) => items,
        JsonItems::NotArray => {
            return Err(FeedError::Invalid {
                format: FeedFormat::JsonFeed,
                message: "`items` is not an array".into(),
            })
        }
    };
    let mut raws = Vec::with_capacity(items.len());
    for item in &items {
        let mut raw = RawItem::new(feed_url.clone());
        raw.title = s(item, "title");
        raw.link = s(item, "url")
            .and_then(|u| resolve_link(&u, feed_url))
            .or_else(|| s(item, "external_url").and_then(|u| resolve_link(&u, feed_url)));
        raw.guid = match item.get("id") {
            Some(Value::String(id)) => Some(id.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        raw.time = s(item, "date_published");
        raw.updated = s(item, "date_modified");
        raw.labels = item
            .get("tags")
            .and_then(Value::as_array)
            .map(|tags| {
                tags.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        raw.description = s(item, "summary").map(|t| escape_html(&t));
        raw.content =
            s(item, "content_html").or_else(|| s(item, "content_text").map(|t| escape_html(&t)));
        raw.author = author_of(item).or_else(|| feed_author.clone());
        raw.image = s(item, "image")
            .or_else(|| s(item, "banner_image"))
            .and_then(|u| resolve_link(&u, feed_url));
        raws.push(raw);
    }
    let title = s(&value, "title");
    let link = s(&value, "home_page_url").and_then(|u| resolve_link(&u, feed_url));
    Ok(finish(FeedFormat::JsonFeed, title, link, raws))
}
