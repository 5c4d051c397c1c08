//! The layout-5 item record: a compact, versioned binary encoding of [`Item`] that stores only
//! what cannot be derived.
//!
//! ```text
//! record   = 0x01 flags:varint first_seen:zigzag published-first_seen:zigzag
//!            updated-first_seen:zigzag title:str [link:str] identity [summary:str]
//!            [author:str] [image:str] [title_key:str] sources:list sections:list
//!            labels:list label_keys
//! identity = head:str suffix:varint     identity = head + the last `suffix` bytes of the link
//! label_keys = n:varint (0 literal:str | t:varint)*   t = 2k+1: candidate k verbatim,
//!            t = 2k+2: fold_label(candidate k); the candidates are the sections, then labels
//! str      = len:varint utf-8 bytes;  list = n:varint str*
//! ```
//! Times are milliseconds since the epoch. The hex id is the record's key; `title_key` follows
//! when flag bit 4 is set (the encoder always sets it: see [`encode_item`]), else it is
//! [`title_key`] of the title. A record written by layout 4
//! (JSON) starts with `{`, which no binary record does, so [`decode_item`] reads both while an
//! upgrade is under way. Decoding is total: any byte string gives an item or an error.

use super::varint::{put as put_varint, unzigzag, zigzag};
use super::*;
use crate::text::title_key;

/// First byte of a layout-5 item record (a JSON record starts with `{`).
pub(super) const RECORD_V1: u8 = 0x01;

const HAS_LINK: u64 = 1;
const HAS_SUMMARY: u64 = 1 << 1;
const HAS_AUTHOR: u64 = 1 << 2;
const HAS_IMAGE: u64 = 1 << 3;
const OWN_TITLE_KEY: u64 = 1 << 4;
const KNOWN_FLAGS: u64 = (1 << 5) - 1;

/// Longest list (sources, sections, labels, label keys) a record may claim: far above what the
/// normaliser's caps allow, and it keeps a corrupt count from reserving gigabytes.
const MAX_LIST: u64 = 4096;

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

fn put_list(out: &mut Vec<u8>, list: &[String]) {
    put_varint(out, list.len() as u64);
    for text in list {
        put_str(out, text);
    }
}

/// The identity as (head, number of trailing link bytes it shares).
fn split_identity<'a>(identity: &'a str, link: Option<&str>) -> (&'a str, usize) {
    let Some(link) = link else {
        return (identity, 0);
    };
    let shared = identity
        .bytes()
        .rev()
        .zip(link.bytes().rev())
        .take_while(|(a, b)| a == b)
        .count();
    // Back off to a character boundary of the identity (the link then has one there too: the
    // shared bytes are equal).
    let mut cut = identity.len().saturating_sub(shared);
    while !identity.is_char_boundary(cut) {
        cut += 1;
    }
    match identity.get(..cut) {
        Some(head) => (head, identity.len() - cut),
        None => (identity, 0),
    }
}

/// Encodes `item` as a layout-5 record (its id is the key, not part of the record).
pub(super) fn encode_item(item: &Item) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + item.summary.as_ref().map_or(0, String::len));
    out.push(RECORD_V1);
    // The title key is stored even when it is the title's own fold: deriving it (NFKC, case
    // folding) on every decode cost more read CPU per feed than its bytes cost disk. The flag
    // leaves room for records that derive it.
    let own_title_key = true;
    let flag = |on: bool, bit: u64| if on { bit } else { 0 };
    let flags = flag(item.link.is_some(), HAS_LINK)
        | flag(item.summary.is_some(), HAS_SUMMARY)
        | flag(item.author.is_some(), HAS_AUTHOR)
        | flag(item.image.is_some(), HAS_IMAGE)
        | flag(own_title_key, OWN_TITLE_KEY);
    put_varint(&mut out, flags);
    let first_seen = item.first_seen.timestamp_millis();
    put_varint(&mut out, zigzag(first_seen));
    put_varint(
        &mut out,
        zigzag(item.published.timestamp_millis().wrapping_sub(first_seen)),
    );
    put_varint(
        &mut out,
        zigzag(item.updated.timestamp_millis().wrapping_sub(first_seen)),
    );
    put_str(&mut out, &item.title);
    if let Some(link) = &item.link {
        put_str(&mut out, link);
    }
    let (head, shared) = split_identity(&item.identity, item.link.as_deref());
    put_str(&mut out, head);
    put_varint(&mut out, shared as u64);
    for text in [&item.summary, &item.author, &item.image]
        .into_iter()
        .flatten()
    {
        put_str(&mut out, text);
    }
    if own_title_key {
        put_str(&mut out, &item.title_key);
    }
    put_list(&mut out, &item.sources);
    put_list(&mut out, &item.sections);
    put_list(&mut out, &item.labels);
    put_varint(&mut out, item.label_keys.len() as u64);
    let raw: Vec<&String> = item.sections.iter().chain(&item.labels).collect();
    let mut folded: Option<Vec<String>> = None;
    for key in &item.label_keys {
        // Most keys are a section key or label verbatim (already folded): referenced without
        // a fold on decode. Folding (NFKC, case, simplified Chinese) costs microseconds per
        // label, too much for every item of every feed read.
        if let Some(k) = raw.iter().position(|c| *c == key) {
            put_varint(&mut out, 2 * k as u64 + 1);
            continue;
        }
        let folded = folded.get_or_insert_with(|| raw.iter().map(|t| fold_label(t)).collect());
        match folded.iter().position(|c| c == key) {
            Some(k) => put_varint(&mut out, 2 * k as u64 + 2),
            None => {
                put_varint(&mut out, 0);
                put_str(&mut out, key);
            }
        }
    }
    out
}

/// A cursor over record bytes; every read checks its bounds.
struct Reader<'a> {
    bytes: &'a [u8],
}

/// Why a record did not decode.
type Bad = &'static str;

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, Bad> {
        let (&first, rest) = self.bytes.split_first().ok_or("record ends early")?;
        self.bytes = rest;
        Ok(first)
    }

    fn varint(&mut self) -> Result<u64, Bad> {
        super::varint::take(&mut self.bytes)
    }

    fn str(&mut self) -> Result<String, Bad> {
        let len = usize::try_from(self.varint()?).map_err(|_| "length overflows")?;
        if len > self.bytes.len() {
            return Err("string runs past the record");
        }
        let (text, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        String::from_utf8(text.to_vec()).map_err(|_| "string is not UTF-8")
    }

    fn count(&mut self) -> Result<usize, Bad> {
        let n = self.varint()?;
        if n > MAX_LIST || n > self.bytes.len() as u64 {
            return Err("list count is implausible");
        }
        usize::try_from(n).map_err(|_| "list count overflows")
    }

    fn list(&mut self) -> Result<Vec<String>, Bad> {
        let n = self.count()?;
        (0..n).map(|_| self.str()).collect()
    }

    fn time(millis: i64) -> Result<DateTime<Utc>, Bad> {
        Utc.timestamp_millis_opt(millis)
            .single()
            .ok_or("time out of range")
    }
}

fn decode_binary(id: &[u8; 16], bytes: &[u8]) -> Result<Item, Bad> {
    let mut r = Reader { bytes };
    if r.byte()? != RECORD_V1 {
        return Err("unknown record version");
    }
    let flags = r.varint()?;
    if flags & !KNOWN_FLAGS != 0 {
        return Err("unknown flags");
    }
    let first_seen = unzigzag(r.varint()?);
    let published = first_seen
        .checked_add(unzigzag(r.varint()?))
        .ok_or("published time overflows")?;
    let updated = first_seen
        .checked_add(unzigzag(r.varint()?))
        .ok_or("updated time overflows")?;
    let title = r.str()?;
    let link = if flags & HAS_LINK != 0 {
        Some(r.str()?)
    } else {
        None
    };
    let head = r.str()?;
    let shared = usize::try_from(r.varint()?).map_err(|_| "identity suffix overflows")?;
    let tail = match (&link, shared) {
        (_, 0) => "",
        (Some(link), n) => link
            .len()
            .checked_sub(n)
            .and_then(|start| link.get(start..))
            .ok_or("identity suffix is not part of the link")?,
        (None, _) => return Err("identity suffix without a link"),
    };
    let identity = head + tail;
    let mut optional = |flag: u64| -> Result<Option<String>, Bad> {
        if flags & flag != 0 {
            r.str().map(Some)
        } else {
            Ok(None)
        }
    };
    let summary = optional(HAS_SUMMARY)?;
    let author = optional(HAS_AUTHOR)?;
    let image = optional(HAS_IMAGE)?;
    let stored_title_key = optional(OWN_TITLE_KEY)?;
    let sources = r.list()?;
    let sections = r.list()?;
    let labels = r.list()?;
    let n = r.count()?;
    let mut label_keys = Vec::with_capacity(n);
    for _ in 0..n {
        let tag = r.varint()?;
        if tag == 0 {
            label_keys.push(r.str()?);
            continue;
        }
        let index = usize::try_from((tag - 1) / 2).map_err(|_| "label key index overflows")?;
        let candidate = sections
            .get(index)
            .or_else(|| {
                index
                    .checked_sub(sections.len())
                    .and_then(|i| labels.get(i))
            })
            .ok_or("label key index out of range")?;
        label_keys.push(if tag % 2 == 1 {
            candidate.clone()
        } else {
            fold_label(candidate)
        });
    }
    if !r.bytes.is_empty() {
        return Err("trailing bytes");
    }
    Ok(Item {
        id: hex(id),
        identity,
        link,
        title_key: stored_title_key.unwrap_or_else(|| title_key(&title)),
        title,
        summary,
        author,
        image,
        published: Reader::time(published)?,
        first_seen: Reader::time(first_seen)?,
        updated: Reader::time(updated)?,
        sources,
        sections,
        labels,
        label_keys,
        content: None,
    })
}

/// Whether a stored item record is still layout 4's JSON.
pub(super) fn is_legacy_record(bytes: &[u8]) -> bool {
    bytes.first() == Some(&b'{')
}

/// Decodes an item record stored under `id`: layout 5's binary record, or layout 4's JSON
/// (read while the upgrade converts them). Never panics; corrupt bytes are
/// [`StoreError::Corrupt`].
pub(super) fn decode_item(id: &[u8; 16], bytes: &[u8]) -> Result<Item, StoreError> {
    if is_legacy_record(bytes) {
        let mut item: Item = serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
            tree: "items",
            message: e.to_string(),
        })?;
        // The key is the id; a JSON copy that disagrees is what `verify` reports.
        if item.id.is_empty() {
            item.id = hex(id);
        }
        return Ok(item);
    }
    decode_binary(id, bytes).map_err(|message| StoreError::Corrupt {
        tree: "items",
        message: format!("item {}: {message}", hex(id)),
    })
}

/// Layout 4's JSON encoding of an item (upgrade tests build layout-4 stores with it).
pub(super) fn encode_legacy_item(item: &Item) -> Vec<u8> {
    encode(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
    }

    fn sample() -> Item {
        let id = item_id("link:example.com/新闻/1.shtml");
        let title = "抗疫进行时：某地发布通知".to_string();
        Item {
            id: hex(&id),
            identity: "link:example.com/新闻/1.shtml".into(),
            link: Some("https://www.example.com/新闻/1.shtml".into()),
            title_key: title_key(&title),
            title,
            summary: Some("<p>摘要</p>".into()),
            author: None,
            image: Some("https://i.example.com/1.jpg".into()),
            published: at(1_647_134_820_000),
            first_seen: at(1_647_135_000_000),
            updated: at(1_647_136_000_000),
            sources: vec!["a".into(), "b".into()],
            sections: vec!["a/x".into(), "b/y".into()],
            labels: vec!["要闻".into(), "抗疫进行时".into(), "World".into()],
            label_keys: vec![
                fold_label("a/x"),
                fold_label("抗疫进行时"),
                fold_label("b/y"),
                fold_label("World"),
                "literal key".into(),
            ],
            content: None,
        }
    }

    #[test]
    fn a_record_round_trips_and_stores_derivable_fields_once() {
        let item = sample();
        let id = item_id(&item.identity);
        let bytes = encode_item(&item);
        assert_eq!(bytes.first(), Some(&RECORD_V1));
        assert_eq!(decode_item(&id, &bytes).unwrap(), item);
        let json = encode_legacy_item(&item);
        assert!(
            bytes.len() * 2 < json.len(),
            "binary {} bytes vs JSON {}",
            bytes.len(),
            json.len()
        );
        // The identity's shared tail with the link and the hex id are not stored.
        let text = String::from_utf8_lossy(&bytes);
        assert_eq!(text.matches("新闻/1.shtml").count(), 1);
        assert!(!text.contains(&item.id));
    }

    #[test]
    fn a_layout_4_json_record_still_decodes() {
        let item = sample();
        let id = item_id(&item.identity);
        let json = encode_legacy_item(&item);
        assert!(is_legacy_record(&json));
        assert_eq!(decode_item(&id, &json).unwrap(), item);
    }

    #[test]
    fn a_title_key_that_is_not_the_titles_own_is_kept() {
        let mut item = sample();
        item.title_key = "older wording".into();
        item.link = None;
        item.identity = "title:a:older wording".into();
        let id = item_id(&item.identity);
        item.id = hex(&id);
        assert_eq!(decode_item(&id, &encode_item(&item)).unwrap(), item);
    }

    #[test]
    fn a_record_without_its_title_key_derives_it_from_the_title() {
        let item = sample();
        let id = item_id(&item.identity);
        let mut bytes = encode_item(&item);
        // Clear flag bit 4 and drop the stored key (it follows the three optional texts).
        let mut without = bytes.clone();
        let key = item.title_key.as_bytes();
        let at = without
            .windows(key.len())
            .position(|w| w == key)
            .expect("stored title key");
        without.drain(at - 1..at + key.len());
        without[1] &= !(OWN_TITLE_KEY as u8);
        assert_eq!(decode_item(&id, &without).unwrap(), item);
        bytes[1] &= !(OWN_TITLE_KEY as u8);
        assert!(
            decode_item(&id, &bytes).is_err(),
            "the key's bytes are now extra"
        );
    }

    #[test]
    fn truncated_and_flipped_records_are_errors() {
        let item = sample();
        let id = item_id(&item.identity);
        let bytes = encode_item(&item);
        for len in 0..bytes.len() {
            assert!(decode_item(&id, &bytes[..len]).is_err(), "prefix of {len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_item(&id, &longer).is_err(), "trailing byte");
        let mut version = bytes;
        version[0] = 2;
        assert!(decode_item(&id, &version).is_err(), "unknown version");
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z/:.]{0,12}",
            "[抗疫进行时要闻新闻]{0,6}",
            any::<String>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_item_round_trips(
            identity in text(),
            link in proptest::option::of(text()),
            title in text(),
            own_key in proptest::option::of(text()),
            summary in proptest::option::of(text()),
            author in proptest::option::of(text()),
            image in proptest::option::of(text()),
            times in (-62_000_000_000_000i64..250_000_000_000_000, -1_000_000_000_000i64..1_000_000_000_000, 0i64..1_000_000_000_000),
            sources in proptest::collection::vec(text(), 0..4),
            sections in proptest::collection::vec(text(), 0..4),
            labels in proptest::collection::vec(text(), 0..4),
            extra_keys in proptest::collection::vec(text(), 0..3),
        ) {
            let (first_seen, offset, later) = times;
            let mut label_keys: Vec<String> =
                sections.iter().chain(&labels).map(|l| fold_label(l)).collect();
            label_keys.extend(extra_keys);
            let item = Item {
                id: hex(&item_id(&identity)),
                identity: identity.clone(),
                link,
                title_key: own_key.unwrap_or_else(|| title_key(&title)),
                title,
                summary,
                author,
                image,
                published: at(first_seen + offset),
                first_seen: at(first_seen),
                updated: at(first_seen + later),
                sources,
                sections,
                labels,
                label_keys,
                content: None,
            };
            let id = item_id(&identity);
            prop_assert_eq!(decode_item(&id, &encode_item(&item)).unwrap(), item);
        }

        #[test]
        fn decoding_any_bytes_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            // Either outcome is fine; a panic or a hang is not.
            let _ = decode_item(&[7; 16], &bytes);
            let mut versioned = vec![RECORD_V1];
            versioned.extend_from_slice(&bytes);
            let _ = decode_item(&[7; 16], &versioned);
        }

        #[test]
        fn a_damaged_record_never_panics(flip in 0usize..400, bit in 0u8..8) {
            let item = sample();
            let mut bytes = encode_item(&item);
            let n = bytes.len();
            if let Some(byte) = bytes.get_mut(flip % n) {
                *byte ^= 1 << bit;
            }
            let _ = decode_item(&item_id(&item.identity), &bytes);
        }
    }
}
