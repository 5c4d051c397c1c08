//! Appending sections to `feeds.toml` without disturbing it (`suggest --write`, `import`).
//!
//! The file is edited as a document (`toml_edit`), so every comment, blank line and key order
//! the user wrote stays. A new section goes after the last section of its source (a new source
//! at the end of the file). The result is validated with the real config parser before it
//! replaces the original, and it is written to a temporary file in the same directory and
//! renamed over the original, so a crash or a bad edit never leaves a half-written config; a
//! running `serve --watch` (or a SIGHUP) then picks the new sections up.

use std::io::Write;
use std::path::{Path, PathBuf};

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table};

use crate::config::{Config, ConfigError};
use crate::text::one_line;

/// A section to append, with its source's settings for when the source is new.
#[derive(Debug, Clone)]
pub struct NewSection {
    /// Id of the source it belongs to (created when missing).
    pub source_id: String,
    /// Keys of a newly created source besides `id` (e.g. `name`, `timezone`).
    pub new_source: Vec<(String, String)>,
    /// The section's keys in order: `id`, `name`, `url`, `kind` or selectors…
    pub keys: Vec<(String, String)>,
    /// A comment line written above the section (without `#`).
    pub comment: Option<String>,
}

impl NewSection {
    /// The section id (the `id` key).
    pub fn id(&self) -> &str {
        self.keys
            .iter()
            .find(|(k, _)| k == "id")
            .map_or("", |(_, v)| v.as_str())
    }
}

/// The section as a `[[source.section]]` block, for previews (`import --dry-run`).
pub fn render_block(new: &NewSection) -> String {
    let mut out = format!("# source: {}\n[[source.section]]\n", new.source_id);
    for (key, value) in &new.keys {
        out.push_str(&format!(
            "{key} = {}\n",
            toml_edit::Value::from(value.as_str())
        ));
    }
    out
}

/// Why an edit was not made; the original file is untouched in every case.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The file is not TOML headwire can edit.
    #[error("{path}: cannot edit: {message}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The section already exists.
    #[error("{path}: section `{key}` already exists; pick another SOURCE/SECTION")]
    Exists {
        /// The file.
        path: PathBuf,
        /// `source/section`.
        key: String,
    },
    /// The edited file would not validate (nothing was written).
    #[error("the edited config would not validate, {path} was left unchanged:\n{error}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The problems.
        error: ConfigError,
    },
}

/// The new text of `original` with `sections` appended, validated as a config named `path`.
pub fn append_to_text(
    original: &str,
    path: &Path,
    sections: &[NewSection],
) -> Result<String, EditError> {
    let unsupported = |message: String| EditError::Unsupported {
        path: path.to_path_buf(),
        message,
    };
    let mut doc: DocumentMut = original
        .parse()
        .map_err(|e: toml_edit::TomlError| unsupported(one_line(&e.to_string())))?;
    for new in sections {
        let sources = doc
            .entry("source")
            .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()))
            .as_array_of_tables_mut()
            .ok_or_else(|| unsupported("`source` is not written as [[source]] tables".into()))?;
        let existing = sources
            .iter()
            .position(|t| t.get("id").and_then(Item::as_str) == Some(new.source_id.as_str()));
        let source = match existing.and_then(|i| sources.get_mut(i)) {
            Some(source) => source,
            None => {
                let mut table = Table::new();
                table.decor_mut().set_prefix("\n");
                table.insert("id", toml_edit::value(new.source_id.as_str()));
                for (key, value) in &new.new_source {
                    table.insert(key, toml_edit::value(value.as_str()));
                }
                sources.push(table);
                let last = sources.len().saturating_sub(1);
                sources
                    .get_mut(last)
                    .ok_or_else(|| unsupported("could not add the source".into()))?
            }
        };
        let list = source
            .entry("section")
            .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()))
            .as_array_of_tables_mut()
            .ok_or_else(|| {
                unsupported(format!(
                    "source `{}` does not write its sections as [[source.section]]",
                    new.source_id
                ))
            })?;
        if list
            .iter()
            .any(|t| t.get("id").and_then(Item::as_str) == Some(new.id()))
        {
            return Err(EditError::Exists {
                path: path.to_path_buf(),
                key: format!("{}/{}", new.source_id, new.id()),
            });
        }
        let mut table = Table::new();
        let prefix = match &new.comment {
            Some(c) => format!("\n# {}\n", c.replace(['\n', '\r'], " ")),
            None => "\n".to_string(),
        };
        table.decor_mut().set_prefix(prefix);
        for (key, value) in &new.keys {
            table.insert(key, toml_edit::value(value.as_str()));
        }
        list.push(table);
    }
    let text = doc.to_string();
    Config::parse(&text, path).map_err(|error| EditError::Invalid {
        path: path.to_path_buf(),
        error,
    })?;
    Ok(text)
}

/// Appends `sections` to the config file at `path` atomically (temp file + rename) after
/// validating the result. Returns the new text.
pub fn append_to_file(path: &Path, sections: &[NewSection]) -> Result<String, EditError> {
    let io = |source: std::io::Error| EditError::Io {
        path: path.to_path_buf(),
        source,
    };
    let original = std::fs::read_to_string(path).map_err(io)?;
    let text = append_to_text(&original, path, sections)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "feeds.toml".into());
    let temp = dir.join(format!(".{name}.headwire-{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&temp, meta.permissions())?;
        }
        std::fs::rename(&temp, path)
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&temp);
        return Err(io(e));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "# my feeds\n\n[[source]]\nid = \"a\"   # first\ntimezone = \"UTC\"\n\n# the only section\n[[source.section]]\nid = \"one\"\nurl = \"https://a.example/\"\nkind = \"feed\"\n\n[[source]]\nid = \"b\"\n\n[[source.section]]\nid = \"x\"\nurl = \"https://b.example/\"\nkind = \"feed\"\n";

    fn feed(source: &str, id: &str) -> NewSection {
        NewSection {
            source_id: source.into(),
            new_source: vec![("name".into(), "New \"quoted\"".into())],
            keys: vec![
                ("id".into(), id.into()),
                ("url".into(), format!("https://{id}.example/feed")),
                ("kind".into(), "feed".into()),
            ],
            comment: Some("added by a test".into()),
        }
    }

    #[test]
    fn appends_after_the_sources_last_section_keeping_comments() {
        let path = Path::new("/x/feeds.toml");
        let text = append_to_text(CONFIG, path, &[feed("a", "two"), feed("c", "three")]).unwrap();
        assert!(
            text.starts_with("# my feeds\n\n[[source]]\nid = \"a\"   # first\n"),
            "{text}"
        );
        assert!(
            text.contains("# the only section\n[[source.section]]\nid = \"one\""),
            "{text}"
        );
        let config = Config::parse(&text, path).unwrap();
        let keys: Vec<String> = config.sections().map(|(s, sec)| sec.key(s)).collect();
        assert_eq!(keys, ["a/one", "a/two", "b/x", "c/three"]);
        assert_eq!(config.sources[2].name, "New \"quoted\"");
        // The new section sits right after a/one, before [[source]] b.
        let two = text.find("id = \"two\"").unwrap();
        let b = text.find("id = \"b\"").unwrap();
        assert!(two < b, "{text}");
        assert!(
            text.contains("# added by a test\n[[source.section]]\nid = \"two\""),
            "{text}"
        );
    }

    #[test]
    fn refuses_duplicates_and_invalid_results() {
        let path = Path::new("/x/feeds.toml");
        let err = append_to_text(CONFIG, path, &[feed("a", "one")]).unwrap_err();
        assert!(err.to_string().contains("`a/one` already exists"), "{err}");
        let mut bad = feed("a", "Bad Id");
        bad.keys.push(("item".into(), "li".into()));
        let err = append_to_text(CONFIG, path, &[bad]).unwrap_err();
        assert!(matches!(err, EditError::Invalid { .. }), "{err}");
        let err = append_to_text("source = 3\n", path, &[feed("a", "b")]).unwrap_err();
        assert!(matches!(err, EditError::Unsupported { .. }), "{err}");
    }

    #[test]
    fn file_edits_are_atomic_and_leave_bad_edits_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feeds.toml");
        std::fs::write(&path, CONFIG).unwrap();
        let text = append_to_file(&path, &[feed("b", "y")]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        assert!(append_to_file(&path, &[feed("b", "y")]).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temp file is left behind");
    }
}
