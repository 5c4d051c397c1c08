//! `headwire check`: tune selectors on a saved page without a database — charset decision,
//! extracted rows, warnings, and the exit code.

mod common;

use std::process::Command;

use common::{list_page, Story};

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let text = r#"
[store]
path = "must-not-be-created"

[[source]]
id = "portal"
name = "Portal"
timezone = "Asia/Shanghai"

[[source.section]]
id = "news"
name = "要闻"
url = "https://news.example.cn/list/"
item = "ul.list > li"
title = "h4.module-title a"
time = ".module-interact span"
label = "a.interact-key"
summary = "p.summary"
"#;
    let path = dir.join("feeds.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_headwire"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn check_reads_a_gbk_page_with_a_lying_meta_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    // GBK bytes, declared as gb2312 (GBK is the superset real pages need: 镕 is not in GB2312).
    let html = list_page(
        "要闻",
        &[
            Story::new("朱镕基题词 & 纪念", "/a/1.html?s=1", "2022-03-13 09:27").label("国内"),
            Story::new("三小时前的新闻", "/a/2.html", "3小时前"),
            Story::new("看不懂的时间", "/a/3.html", "某日某时"),
        ],
    )
    .replace("charset=\"utf-8\"", "charset=\"gb2312\"");
    let (bytes, _, _) = encoding_rs::GBK.encode(&html);
    let page = dir.path().join("page.html");
    std::fs::write(&page, &bytes).unwrap();

    let (code, out) = run(&[
        "check",
        "portal/news",
        "--config",
        config.to_str().unwrap(),
        "--file",
        page.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("charset: gb18030"), "{out}");
    assert!(out.contains("朱镕基题词 & 纪念"), "{out}");
    assert!(out.contains("https://news.example.cn/a/1.html"), "{out}");
    assert!(
        out.contains("2022-03-13 09:27 → 2022-03-13T01:27:00Z"),
        "{out}"
    );
    assert!(out.contains("labels: 国内"), "{out}");
    assert!(out.contains("某日某时 → (not understood"), "{out}");
    assert!(out.contains("warning: 1 times not understood"), "{out}");
    assert!(out.contains("warning: `summary` matched nothing"), "{out}");
    assert!(out.contains("3 items extracted"), "{out}");
    assert!(
        !dir.path().join("must-not-be-created").exists(),
        "check stores nothing"
    );
}

#[test]
fn check_fails_when_nothing_is_extracted_or_the_section_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let page = dir.path().join("empty.html");
    std::fs::write(&page, "<html><body><p>no list here</p></body></html>").unwrap();
    let (code, out) = run(&[
        "check",
        "portal/news",
        "--config",
        config.to_str().unwrap(),
        "--file",
        page.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(out.contains("selector matched nothing"), "{out}");

    let (code, out) = run(&["check", "portal/nope", "--config", config.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(out.contains("no section `portal/nope`"), "{out}");
    assert!(
        out.contains("portal/news"),
        "lists the known sections: {out}"
    );
}

#[test]
fn invalid_config_is_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feeds.toml");
    std::fs::write(
        &path,
        "[[source]]\nid = \"p\"\ntimezone = \"Asia/Nowhere\"\n[[source.section]]\nid = \"s\"\nurl = \"https://x/\"\nitem = \"li\"\ntitle = \"a\"\n",
    )
    .unwrap();
    let (code, out) = run(&["poll", "--once", "--config", path.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(
        out.contains(&format!("{}:3: source[0] (p).timezone", path.display())),
        "{out}"
    );
}

#[test]
fn check_says_why_a_printed_time_was_not_believed() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let html = list_page(
        "要闻",
        &[
            Story::new("正常的新闻", "/a/1.html", "2022-03-13 09:27"),
            Story::new("零时间的新闻", "/a/2.html", "1970-01-01 08:00"),
            Story::new("未来的新闻", "/a/3.html", "2099-12-31 23:59"),
        ],
    );
    let page = dir.path().join("page.html");
    std::fs::write(&page, html).unwrap();
    let (code, out) = run(&[
        "check",
        "portal/news",
        "--config",
        config.to_str().unwrap(),
        "--file",
        page.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("1970-01-01 08:00 → (before 1990, not believed: first-seen used)"),
        "{out}"
    );
    assert!(
        out.contains(
            "2099-12-31 23:59 → (more than a day in the future, not believed: first-seen used)"
        ),
        "{out}"
    );
    assert!(
        out.contains("warning: 1 times before 1990 were not believed"),
        "{out}"
    );
    assert!(
        out.contains("warning: 1 times more than a day in the future"),
        "{out}"
    );
}
