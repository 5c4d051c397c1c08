//! The one XML writer both feed formats use (RSS in [`super::rss`], Atom in [`super::atom`]).
//!
//! Why not the `rss` and `atom_syndication` crates: measured with `examples/render_cost.rs`
//! (the same 50-item documents written both ways, release build, three runs on a loaded
//! 2-core machine), the `rss` crate took 1.34–1.51× the time of this writer and
//! `atom_syndication` 1.56–1.62×; what the crate adds came to 20–27% (RSS) and 30–31% (Atom)
//! of an uncached request (store query plus render), over the 20% the project accepts for
//! letting a crate write its documents. So both formats are written here, by one writer, and
//! the crates stay on the reading side (the tests parse every document with them).
//!
//! Rules owned here: every text and attribute value goes through
//! [`crate::text::push_xml_escaped`] (escaped, and the characters XML 1.0 forbids removed), so
//! nothing a page or feed held can make a document ill-formed; element and attribute names
//! are the renderers' own constants. Writing into a `String` cannot fail, so no renderer has
//! an error to handle or to hide.

use crate::text::push_xml_escaped;

/// An XML document being written, one element per line.
pub(super) struct XmlWriter {
    out: String,
}

impl XmlWriter {
    /// A document with room for about `capacity` bytes, its declaration written.
    pub(super) fn new(capacity: usize) -> XmlWriter {
        let mut out = String::with_capacity(capacity);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        XmlWriter { out }
    }

    fn tag(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attrs {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            push_xml_escaped(&mut self.out, value);
            self.out.push('"');
        }
    }

    /// `<name attrs…>`, for an element whose children follow.
    pub(super) fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.tag(name, attrs);
        self.out.push_str(">\n");
    }

    /// `</name>`.
    pub(super) fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    /// `<name attrs…/>`.
    pub(super) fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.tag(name, attrs);
        self.out.push_str("/>\n");
    }

    /// `<name attrs…>text</name>`, the text escaped.
    pub(super) fn text(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.tag(name, attrs);
        self.out.push('>');
        push_xml_escaped(&mut self.out, text);
        self.close(name);
    }

    /// `<name attrs…>` then `parts`, each escaped, one after the other, then `</name>`: the
    /// same bytes as [`XmlWriter::text`] with the parts joined, without joining them first.
    pub(super) fn text_parts(&mut self, name: &str, attrs: &[(&str, &str)], parts: &[&str]) {
        self.tag(name, attrs);
        self.out.push('>');
        for part in parts {
            push_xml_escaped(&mut self.out, part);
        }
        self.close(name);
    }

    /// The document.
    pub(super) fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_escaped_well_formed_elements() {
        let mut w = XmlWriter::new(64);
        w.open("feed", &[("xmlns", "urn:x")]);
        w.text("title", &[("type", "a\"b")], "A & <B>\u{1}");
        w.empty("link", &[("href", "https://x/?a=1&b=2")]);
        w.close("feed");
        w.text_parts("id", &[], &["urn:", "a&b", "", "<c>"]);
        assert_eq!(
            w.finish(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"urn:x\">\n\
             <title type=\"a&quot;b\">A &amp; &lt;B&gt;</title>\n\
             <link href=\"https://x/?a=1&amp;b=2\"/>\n</feed>\n<id>urn:a&amp;b&lt;c&gt;</id>\n"
        );
    }
}
