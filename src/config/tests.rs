//! Tests of loading and validating `feeds.toml`: good configs, and every problem reported with its line.

use super::error::ConfigError;
use super::*;

const GOOD: &str = r#"
[server]
listen = "127.0.0.1:9000"
base_url = "http://news.local/"

[[source]]
id = "guancha"
name = "观察者网"
timezone = "Asia/Shanghai"
interval = "10m"
strip_params = ["s"]

[[source.section]]
id = "politics"
name = "时政"
url = "https://www.example.com/politics/"
item = "ul.list > li"
title = ["h4 a", "a"]
link = "h4 a@href"
time = ".time"
label = "a.key"
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/etc/headwire/feeds.toml"))
}

#[test]
fn parses_a_good_config() {
    let config = parse(GOOD).unwrap();
    assert_eq!(config.server.listen, "127.0.0.1:9000");
    assert_eq!(config.store_path, PathBuf::from("/etc/headwire/data"));
    let (source, section) = config.section("guancha/politics").unwrap();
    assert_eq!(source.timezone, chrono_tz::Asia::Shanghai);
    assert_eq!(section.interval, Duration::from_secs(600));
    assert_eq!(section.name, "时政");
    match &section.kind {
        SectionKind::Html(rules) => assert_eq!(rules.title.len(), 2),
        SectionKind::Feed => panic!("html expected"),
    }
    assert_eq!(config.poll.concurrency, 16);
    assert_eq!(config.poll.per_host, 2);
    assert_eq!(
        config.store.title_window,
        Some(Duration::from_secs(48 * 3600))
    );
    assert_eq!(config.store.cache_bytes, 32 * 1024 * 1024);
}

/// Each broken config names the file, the line and the key of the problem.
#[test]
fn problems_name_file_line_and_key() {
    let cases: &[(&str, &str, usize, &str)] = &[
        (
            "timezone = \"Asia/Shanghai\"",
            "timezone = \"Asia/Shang\"",
            9,
            "timezone",
        ),
        (
            "interval = \"10m\"",
            "interval = \"10 parsecs\"",
            10,
            "interval",
        ),
        (
            "item = \"ul.list > li\"",
            "item = \"ul.list >> li\"",
            17,
            "item",
        ),
        ("link = \"h4 a@href\"", "link = \"h4 a@\"", 19, "link"),
        ("id = \"politics\"", "id = \"Politics!\"", 14, "id"),
        (
            "url = \"https://www.example.com/politics/\"",
            "url = \"ftp://x/\"",
            16,
            "url",
        ),
    ];
    for (from, to, line, key) in cases {
        let text = GOOD.replacen(from, to, 1);
        let err = parse(&text).unwrap_err();
        assert_eq!(err.problems.len(), 1, "{to}: {err}");
        let problem = &err.problems[0];
        assert_eq!(problem.line, Some(*line), "{to}: {err}");
        assert!(problem.key.ends_with(key), "{to}: key {}", problem.key);
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!("/etc/headwire/feeds.toml:{line}: ")),
            "{shown}"
        );
        assert_eq!(shown.lines().count(), 1, "one line per problem: {shown}");
    }
}

#[test]
fn store_cache_size_is_set_in_mib_and_checked() {
    let with = |value: &str| {
        GOOD.replacen(
            "[[source]]",
            &format!("[store]\ncache_mb = {value}\n\n[[source]]"),
            1,
        )
    };
    let config = parse(&with("256")).unwrap();
    assert_eq!(config.store.cache_bytes, 256 * 1024 * 1024);
    for bad in ["0", "-5", "100000"] {
        let err = parse(&with(bad)).unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.starts_with("/etc/headwire/feeds.toml:7: store.cache_mb: "),
            "{shown}"
        );
        assert!(shown.contains("out of range; use 1 to 65536"), "{shown}");
    }
    let err = parse(&with("\"big\"")).unwrap_err();
    assert!(err.to_string().contains(":7:"), "{err}");
}

#[test]
fn render_cache_size_is_set_in_mib_and_checked() {
    assert_eq!(
        parse(GOOD).unwrap().server.render_cache_bytes,
        DEFAULT_RENDER_CACHE_BYTES
    );
    let with = |value: &str| GOOD.replacen("[server]", &format!("[server]\ncache_mb = {value}"), 1);
    assert_eq!(
        parse(&with("128")).unwrap().server.render_cache_bytes,
        128 * 1024 * 1024
    );
    let err = parse(&with("0")).unwrap_err().to_string();
    assert!(err.contains("server.cache_mb: 0 is out of range"), "{err}");
}

#[test]
fn unknown_keys_are_rejected_with_their_line() {
    let text = GOOD.replacen("label = \"a.key\"", "lable = \"a.key\"", 1);
    let err = parse(&text).unwrap_err();
    assert_eq!(err.problems[0].line, Some(21), "{err}");
    assert!(err.to_string().contains("lable"), "{err}");
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let mut text = GOOD.replacen(
        "timezone = \"Asia/Shanghai\"",
        "timezone = \"Mars/Base\"",
        1,
    );
    text.push_str(
            "\n[[source]]\nid = \"guancha\"\n\n[[source.section]]\nid = \"a\"\nurl = \"https://x/\"\nitem = \"li\"\n",
        );
    let err = parse(&text).unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains("Mars/Base"), "{shown}");
    assert!(shown.contains("duplicate source id"), "{shown}");
    assert!(shown.contains("needs `title`"), "{shown}");
    assert!(err.problems.len() >= 3, "{shown}");
}

#[test]
fn duplicate_section_ids_and_feed_selectors_are_rejected() {
    let mut text = GOOD.to_string();
    text.push_str("\n[[source.section]]\nid = \"politics\"\nurl = \"https://x/\"\nkind = \"feed\"\nitem = \"li\"\n");
    let shown = parse(&text).unwrap_err().to_string();
    assert!(shown.contains("duplicate section id"), "{shown}");
    assert!(shown.contains("not used by kind = \"feed\""), "{shown}");
}

#[test]
fn keep_and_block_rules_are_validated_per_entry() {
    let text = GOOD.replacen(
        "strip_params = [\"s\"]",
        "strip_params = [\"s\"]\nblock = [\"广告\"]",
        1,
    ) + "keep = [\n  \"ok\",\n  \"re:(open\",\n  \"\",\n]\n";
    let err = parse(&text).unwrap_err();
    let shown = err.to_string();
    assert_eq!(err.problems.len(), 2, "{shown}");
    assert_eq!(err.problems[0].line, Some(25), "{shown}");
    assert!(err.problems[0].key.ends_with(".keep[1]"), "{shown}");
    assert!(shown.contains("`re:(open` is not a valid regex"), "{shown}");
    assert_eq!(err.problems[1].line, Some(26), "{shown}");
    assert!(shown.contains("is empty"), "{shown}");

    let text = GOOD.replacen(
        "strip_params = [\"s\"]",
        "strip_params = [\"s\"]\nblock = [\"广告\", \"re:^live:\"]",
        1,
    );
    let config = parse(&text).unwrap();
    let (_, section) = config.section("guancha/politics").unwrap();
    assert_eq!(
        section.rules.block.len(),
        2,
        "the source's rules apply to its sections"
    );
    assert_eq!(section.rules.block[1].as_str(), "re:^live:");
    assert!(section.rules.keep.is_empty());
    let err = parse(&GOOD.replacen("label = ", "block = \"one\"\nlabel = ", 1)).unwrap_err();
    assert!(err.to_string().contains(":21:"), "{err}");
}

#[test]
fn toml_syntax_errors_carry_a_line() {
    let err = parse("[server]\nlisten = \n").unwrap_err();
    assert_eq!(err.problems[0].line, Some(2), "{err}");
}

#[test]
fn empty_configs_name_what_is_missing() {
    let shown = parse("").unwrap_err().to_string();
    assert!(shown.contains("no [[source]]"), "{shown}");
}
