//! `headwire import`: an OPML export becomes feed sections in `feeds.toml`, keeping the file's
//! comments, skipping configured feeds, and a dry run changing nothing.

use headwire::app;
use headwire::config::{Config, SectionKind};

const CONFIG: &str = "# my config\n[[source]]\nid = \"mine\"   # keep this comment\n\n\
    [[source.section]]\nid = \"old\"\nurl = \"https://old.example/rss\"\nkind = \"feed\"\n";

const OPML: &str = r#"<?xml version="1.0"?>
<opml version="1.0"><head/><body>
<outline text="Tech">
  <outline text="Old" xmlUrl="https://old.example/rss"/>
  <outline text="Ars Technica" xmlUrl="https://feeds.arstechnica.com/arstechnica/index" htmlUrl="https://arstechnica.com/"/>
</outline>
<outline text="Broken" xmlUrl="not a url"/>
</body></opml>"#;

#[test]
fn imports_new_feeds_and_keeps_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("feeds.toml");
    let opml = dir.path().join("export.opml");
    std::fs::write(&config_path, CONFIG).unwrap();
    std::fs::write(&opml, OPML).unwrap();

    let dry = app::import(&config_path, &opml, None, true).unwrap();
    assert!(!dry.written);
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), CONFIG);
    assert_eq!(dry.plan.sections.len(), 1);
    assert_eq!(dry.plan.skipped.len(), 1);
    assert_eq!(dry.plan.warnings.len(), 1);
    assert!(dry.plan.warnings[0].starts_with("line 7: <outline text=\"Broken\">"));

    let done = app::import(&config_path, &opml, None, false).unwrap();
    assert!(done.written);
    let text = std::fs::read_to_string(&config_path).unwrap();
    assert!(text.starts_with(CONFIG.trim_end()), "{text}");
    let config = Config::load(&config_path).unwrap();
    let (source, section) = config.section("arstechnica-com/ars-technica").unwrap();
    assert_eq!(source.name, "arstechnica.com");
    assert!(matches!(section.kind, SectionKind::Feed));
    assert_eq!(
        section.url.as_str(),
        "https://feeds.arstechnica.com/arstechnica/index"
    );

    // A second import finds everything configured and writes nothing.
    let again = app::import(&config_path, &opml, Some("mine"), false).unwrap();
    assert!(!again.written);
    assert_eq!(again.plan.skipped.len(), 2);
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), text);
}

#[test]
fn a_broken_opml_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("feeds.toml");
    let opml = dir.path().join("bad.opml");
    std::fs::write(&config_path, CONFIG).unwrap();
    std::fs::write(
        &opml,
        "<opml>\n<body>\n<outline text=\"x\" xmlUrl=\"https://a.example/\">\n</opml>",
    )
    .unwrap();
    let err = app::import(&config_path, &opml, None, false)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("{}: line ", opml.display())),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), CONFIG);
}
