//! Benchmark helper for `bench/run.sh`: fills stores through headwire's own store API, measures
//! filtered-feed latency in-process, and generates the synthetic portal the polling benchmark
//! fetches. Nothing here is part of headwire; it only drives the library the way the binary does.
//!
//! Subcommands (all deterministic for the same arguments):
//! - `fill --data DIR --from N --to M --start-epoch S`: appends items N..M (pages of 30 headlines,
//!   one `apply_batch_deferred` transaction per page, flushed at the end) across 1,000 sections
//!   in 10 sources. A page goes to one of 20
//!   "hot" sections one time in four, else round-robin over the 980 others, so each hot section
//!   holds ≥ 50 items from 10k items on, and every section does from 100k on.
//! - `query --data DIR --rounds R [--spread N]`: opens the store (timed), then runs
//!   `?section=X&limit=50` (store query + Atom render) over the 20 hot sections: once each on
//!   first touch, then R rounds warm (wall time per query, and the thread's CPU time per query),
//!   then N queries over all sections; prints one `key=value` line.
//! - `serve-config --out FILE`: a feeds.toml naming the same 1,000 sections (pointing at a closed
//!   port, polled once a day) for `headwire serve` over a filled store.
//! - `portal --dir DIR --port P --out FILE`: 1,000 distinct ~100 KB list pages modelled on a
//!   Chinese portal's list page (30 headlines each, plus navigation, rankings, footer and
//!   scripts), and a feeds.toml that polls them all from 127.0.0.1:P.
//! - `fulltext-portal --dir DIR --port P --out CONFDIR [--sections 20 --stories 50]`: the
//!   full-text fixture (list pages, one 30–100 KB article page per story with Chinese
//!   paragraphs, navigation, share bar, scripts and an image, and the images) and the configs
//!   polling it with `full_text` on and off and serving the result (image proxy off and on).
//! - `extract-articles --dir DIR [--pages 200]`: thread CPU per article page of decode +
//!   extraction (selector and Readability) and of the image proxy's HTML rewrite.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use clap::{Parser, Subcommand};
use headwire::normalize::Observed;
use headwire::render::{self, FeedMeta, SourceInfo};
use headwire::store::{BatchContext, Query, Store};
use headwire::text::{fold_label, title_key};
use url::Url;

/// Sections in the synthetic installation.
const SECTIONS: usize = 1000;
/// Sections per source.
const SECTIONS_PER_SOURCE: usize = 100;
/// Headlines per polled page (one store transaction).
const PAGE_ITEMS: u64 = 30;
/// Every `HOT_EVERY`-th section is hot.
const HOT_EVERY: usize = 50;
/// Seconds between consecutive items' published times.
const ITEM_SPACING_SECS: i64 = 2;

const TOPICS: [&str; 40] = [
    "时政", "国际", "财经", "科技", "军事", "社会", "体育", "文化", "健康", "教育", "汽车", "房产",
    "旅游", "娱乐", "法治", "环保", "三农", "港澳", "台湾", "观察", "评论", "数读", "人物", "历史",
    "读书", "能源", "航天", "交通", "气象", "公益", "数码", "游戏", "时尚", "美食", "家居", "职场",
    "理财", "保险", "基金", "股市",
];

const LABELS: [&str; 24] = [
    "抗疫进行时",
    "中美关系",
    "新时代新气象新作为",
    "香港",
    "乡村振兴",
    "一带一路",
    "科技前沿",
    "两会",
    "碳达峰碳中和",
    "数字经济",
    "防汛救灾",
    "冬奥会",
    "国企改革",
    "民生关注",
    "外交部发言",
    "全球疫情",
    "芯片",
    "新能源车",
    "高考",
    "航天日",
    "俄乌局势",
    "中东局势",
    "欧洲观察",
    "东亚合作",
];

const WORDS: [&str; 32] = [
    "国务院",
    "常务会议",
    "部署",
    "进一步",
    "稳定经济",
    "一揽子政策",
    "上海",
    "新增本土病例",
    "外交部",
    "回应",
    "美方",
    "最新表态",
    "专家解读",
    "数据显示",
    "同比增长",
    "发布会",
    "现场直击",
    "多地",
    "出台新规",
    "记者调查",
    "背后",
    "这家企业",
    "重磅",
    "首次",
    "全国",
    "两部门",
    "联合印发",
    "通知",
    "暴雨",
    "预警",
    "航班",
    "恢复",
];

#[derive(Parser)]
#[command(about = "headwire benchmark helper (see bench/run.sh)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Append items `from..to` to the store at `data`.
    Fill {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
        /// Unix time of item 0's published time.
        #[arg(long)]
        start_epoch: i64,
    },
    /// Time store open and `?section=X&limit=50` (query + Atom render) on the hot sections.
    Query {
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value_t = 100)]
        rounds: usize,
        /// Then this many queries rotating over all 1,000 sections (mostly cache misses at
        /// scale); needs ≥ 100k items so every section holds 50.
        #[arg(long, default_value_t = 0)]
        spread: usize,
    },
    /// Time `?q=` searches the way the server runs them (`Store::query` with folded words,
    /// limit 50, no deadline): words no story holds (every search text read), a headline's
    /// unique number (one story, anywhere in time) and common headline words (50 found
    /// early); `rounds` of each.
    Search {
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value_t = 20)]
        rounds: usize,
        /// Items in the store (the unique numbers are drawn from 0..items).
        #[arg(long)]
        items: u64,
    },
    /// Write a feeds.toml for `headwire serve` over a filled store.
    ServeConfig {
        #[arg(long)]
        out: PathBuf,
        /// The first N sections poll live pages on 127.0.0.1:`live_port` (`live-pages`).
        #[arg(long, default_value_t = 0)]
        live: usize,
        #[arg(long, default_value_t = 9)]
        live_port: u16,
        /// Poll interval of the live sections.
        #[arg(long, default_value = "60s")]
        live_interval: String,
        /// `[server] cache_mb`.
        #[arg(long, default_value_t = 32)]
        cache_mb: u64,
    },
    /// Write the list pages of the first `sections` sections as of `tick`: each tick one new
    /// story on top of every page, the rest slide down (files replaced atomically).
    LivePages {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        sections: usize,
        #[arg(long)]
        tick: u64,
        #[arg(long, default_value_t = 30 * 1024)]
        page_bytes: usize,
    },
    /// Generate the polling fixture: list pages and the feeds.toml that polls them.
    Portal {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        port: u16,
        #[arg(long)]
        out: PathBuf,
        /// Approximate page size in bytes.
        #[arg(long, default_value_t = 100 * 1024)]
        page_bytes: usize,
    },
    /// Generate the full-text fixture under DIR/ft: `sections` list pages of `stories`
    /// headlines, every story's article page (30–100 KB) and the images they show; and
    /// feeds.toml files for polling it with full text on and off and for serving the result.
    FulltextPortal {
        #[arg(long)]
        dir: PathBuf,
        /// Port of the web server that serves DIR.
        #[arg(long)]
        port: u16,
        #[arg(long, default_value_t = 20)]
        sections: usize,
        #[arg(long, default_value_t = 50)]
        stories: usize,
        /// `[poll] full_text_per_poll`.
        #[arg(long, default_value_t = 50)]
        per_poll: usize,
        /// Directory the configs are written to: poll-on.toml, poll-off.toml, serve.toml and
        /// serve-img.toml (the last with the image proxy on, 127.0.0.1 allowed).
        #[arg(long)]
        out: PathBuf,
    },
    /// In-process cost of the full-text work on the fixture's article pages (DIR/ft from
    /// `fulltext-portal`): decode + extract with the fixture's selector, decode + extract with
    /// no selector (the Readability fallback), and the image proxy's rewrite of one article
    /// body and of one plain-text summary; thread CPU per call.
    ExtractArticles {
        #[arg(long)]
        dir: PathBuf,
        /// Pages to use (the first N in name order).
        #[arg(long, default_value_t = 200)]
        pages: usize,
    },
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    match Cli::parse().command {
        Command::Fill {
            data,
            from,
            to,
            start_epoch,
        } => fill(&data, from, to, start_epoch),
        Command::Query {
            data,
            rounds,
            spread,
        } => query(&data, rounds, spread),
        Command::Search {
            data,
            rounds,
            items,
        } => search(&data, rounds, items),
        Command::ServeConfig {
            out,
            live,
            live_port,
            live_interval,
            cache_mb,
        } => serve_config(&out, live, live_port, &live_interval, cache_mb),
        Command::LivePages {
            dir,
            sections,
            tick,
            page_bytes,
        } => live_pages(&dir, sections, tick, page_bytes),
        Command::Portal {
            dir,
            port,
            out,
            page_bytes,
        } => portal(&dir, port, &out, page_bytes),
        Command::FulltextPortal {
            dir,
            port,
            sections,
            stories,
            per_poll,
            out,
        } => fulltext_portal(&dir, port, sections, stories, per_poll, &out),
        Command::ExtractArticles { dir, pages } => extract_articles(&dir, pages),
    }
}

/// The section a page of the fill goes to (see the module doc).
fn section_of_page(page: u64) -> usize {
    let round = page / 4;
    if page % 4 == 0 {
        hot_sections()[(round as usize) % (SECTIONS / HOT_EVERY)]
    } else {
        let quiet = (3 * round + page % 4 - 1) as usize % (SECTIONS - SECTIONS / HOT_EVERY);
        // The quiet-th section that is not hot.
        let skipped = quiet / (HOT_EVERY - 1) + 1;
        quiet + skipped
    }
}

fn hot_sections() -> Vec<usize> {
    (0..SECTIONS).step_by(HOT_EVERY).collect()
}

fn source_id(section: usize) -> String {
    format!("portal{}", section / SECTIONS_PER_SOURCE)
}

fn section_id(section: usize) -> String {
    format!("sec{section:04}")
}

fn section_name(section: usize) -> String {
    format!("{}{section:04}", TOPICS[section % TOPICS.len()])
}

/// A deterministic headline of 14–26 characters, unique through its number.
fn headline(n: u64) -> String {
    let mut h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut title = String::new();
    for _ in 0..4 {
        title.push_str(WORDS[(h % WORDS.len() as u64) as usize]);
        h /= WORDS.len() as u64;
    }
    let _ = write!(title, "（{n}）");
    title
}

fn fill(
    data: &Path,
    from: u64,
    to: u64,
    start_epoch: i64,
) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::open(data)?;
    let started = Instant::now();
    let mut n = from;
    let mut pages = 0u64;
    while n < to {
        let page = n / PAGE_ITEMS;
        let end = ((page + 1) * PAGE_ITEMS).min(to);
        let section = section_of_page(page);
        let source = source_id(section);
        let id = section_id(section);
        let name = section_name(section);
        let key = format!("{source}/{id}");
        let host = format!("{source}.example.cn");
        let batch: Vec<Observed> = (n..end).map(|i| observed(i, &host, start_epoch)).collect();
        let now = Utc
            .timestamp_opt(start_epoch + end as i64 * ITEM_SPACING_SECS + 300, 0)
            .single()
            .ok_or("bad --start-epoch")?;
        let ctx = BatchContext {
            source_id: &source,
            section_key: &key,
            section_name: &name,
            title_window: Some(chrono::Duration::hours(48)),
            now,
        };
        // One transaction per page, as a poll does; durable at the final flush rather than per
        // page (the poller flushes each page; that cost is measured by the polling benchmark).
        let outcome = store.apply_batch_deferred(&ctx, &batch)?;
        if outcome.new != batch.len() {
            return Err(format!(
                "page {page}: {} of {} items were new; the fill must only add",
                outcome.new,
                batch.len()
            )
            .into());
        }
        n = end;
        pages += 1;
    }
    store.flush()?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fill from={from} to={to} pages={pages} secs={secs:.2} items_per_sec={:.0}",
        (to - from) as f64 / secs.max(1e-9)
    );
    Ok(())
}

fn observed(n: u64, host: &str, start_epoch: i64) -> Observed {
    let title = headline(n);
    let published = Utc
        .timestamp_opt(start_epoch + n as i64 * ITEM_SPACING_SECS, 0)
        .single();
    let day = published.map_or_else(|| "2022_03_13".into(), |t| t.format("%Y_%m_%d").to_string());
    let path = format!("/{}/{day}_{n}.shtml", TOPICS[(n % 7) as usize]);
    let link = format!("https://www.{host}{path}");
    Observed {
        identity: format!("link:{host}{path}"),
        title_key: title_key(&title),
        summary: (n % 3 == 0).then(|| {
            format!(
                "<p>{}，{}。</p>",
                headline(n.wrapping_add(7)),
                headline(n.wrapping_add(13))
            )
        }),
        author: (n % 5 == 0).then(|| "本报记者".to_string()),
        image: (n % 2 == 0).then(|| format!("https://i.{host}/news/{day}/{n}.jpg")),
        guid: None,
        published,
        page_labels: vec![LABELS[(n % LABELS.len() as u64) as usize].to_string()],
        link: Some(link),
        title,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3
}

/// A `Vm*` figure of this process in kB (0 when /proc is not there).
fn proc_status_kb(name: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time this thread has used, in seconds, from /proc/thread-self/stat (user + system, in
/// USER_HZ = 100 ticks a second): unlike wall time it does not grow when other processes take
/// the core, which is what makes a per-query cost comparable across runs on a shared machine.
fn thread_cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/thread-self/stat")
        .ok()
        .and_then(|stat| {
            let after_name = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = after_name.split_whitespace().collect();
            let user: f64 = fields.get(11)?.parse().ok()?;
            let system: f64 = fields.get(12)?.parse().ok()?;
            Some((user + system) / 100.0)
        })
        .unwrap_or(0.0)
}

fn query(data: &Path, rounds: usize, spread: usize) -> Result<(), Box<dyn std::error::Error>> {
    let opened = Instant::now();
    let store = Store::open(data)?;
    let open_ms = opened.elapsed().as_secs_f64() * 1e3;
    let rss_open_kb = proc_status_kb("VmRSS:");
    let lookup = |id: &str| {
        Some(SourceInfo {
            id: id.to_string(),
            name: format!("门户 {id}"),
            url: Some(format!("https://www.{id}.example.cn/")),
        })
    };
    let hot = hot_sections();
    let mut items_seen = usize::MAX;
    let mut run = |section: usize| -> Result<Duration, Box<dyn std::error::Error>> {
        let started = Instant::now();
        let q = Query {
            // What the server asks the store for `?section=secNNNN`: the section's key.
            labels: vec![fold_label(&format!(
                "{}/{}",
                source_id(section),
                section_id(section)
            ))],
            limit: 50,
            ..Query::default()
        };
        let items = store.query(&q, &|_| true)?;
        let meta = FeedMeta {
            title: format!("headwire — {}", section_name(section)),
            site_url: "http://127.0.0.1:8080/".into(),
            self_url: format!(
                "http://127.0.0.1:8080/feed.atom?section={}&limit=50",
                section_id(section)
            ),
            id: format!("urn:headwire:feed:{section}"),
            updated: items
                .iter()
                .map(|i| i.updated)
                .max()
                .unwrap_or_else(Utc::now),
            ttl_minutes: 10,
        };
        let body = render::atom::render(&items, &meta, &lookup);
        std::hint::black_box(body);
        items_seen = items_seen.min(items.len());
        Ok(started.elapsed())
    };
    let mut first: Vec<Duration> = Vec::new();
    for &s in &hot {
        first.push(run(s)?);
    }
    let mut warm: Vec<Duration> = Vec::new();
    let cpu_before = thread_cpu_secs();
    for _ in 0..rounds {
        for &s in &hot {
            warm.push(run(s)?);
        }
    }
    let warm_cpu_ms = (thread_cpu_secs() - cpu_before) * 1e3 / warm.len().max(1) as f64;
    let mut spread_times: Vec<Duration> = Vec::new();
    for i in 0..spread {
        // A stride coprime with 1,000 visits every section once per 1,000 queries.
        spread_times.push(run(i * 337 % SECTIONS)?);
    }
    first.sort();
    warm.sort();
    spread_times.sort();
    let mean = warm.iter().map(Duration::as_secs_f64).sum::<f64>() / warm.len().max(1) as f64;
    let disk: String = store
        .extra_stats()?
        .into_iter()
        .find(|(k, _)| k == "disk bytes")
        .map(|(_, v)| v)
        .unwrap_or_default();
    println!(
        "query open_ms={open_ms:.1} first_median_ms={:.3} first_max_ms={:.3} warm_median_ms={:.3} warm_p99_ms={:.3} warm_mean_ms={:.3} warm_cpu_ms={warm_cpu_ms:.3} queries={} spread_median_ms={:.3} spread_p99_ms={:.3} spread_queries={} min_items={items_seen} sled_disk_bytes={disk} rss_open_kb={rss_open_kb} hwm_kb={}",
        percentile(&first, 50.0),
        percentile(&first, 100.0),
        percentile(&warm, 50.0),
        percentile(&warm, 99.0),
        mean * 1e3,
        warm.len(),
        percentile(&spread_times, 50.0),
        percentile(&spread_times, 99.0),
        spread_times.len(),
        proc_status_kb("VmHWM:"),
    );
    Ok(())
}

fn search(data: &Path, rounds: usize, items: u64) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::open(data)?;
    let run = |words: Vec<String>| -> Result<(Duration, usize), Box<dyn std::error::Error>> {
        let started = Instant::now();
        let q = Query {
            words,
            limit: 50,
            ..Query::default()
        };
        let found = store.query(&q, &|_| true)?.len();
        Ok((started.elapsed(), found))
    };
    // One untimed pass so the first class does not pay for warming sled's cache alone.
    run(vec![fold_label("热身")])?;
    let mut none = Vec::new();
    let mut rare = Vec::new();
    let mut common = Vec::new();
    let mut found_rare = 0usize;
    for round in 0..rounds as u64 {
        let (t, found) = run(vec![fold_label(&format!("无此词{round}"))])?;
        if found != 0 {
            return Err(format!("a word no story holds matched {found}").into());
        }
        none.push(t);
        // A stride that lands all over the store's time range.
        let n = round.wrapping_mul(7_919).wrapping_add(13) % items.max(1);
        let (t, found) = run(vec![fold_label(&format!("（{n}）"))])?;
        found_rare += found;
        rare.push(t);
        let (t, _) = run(vec![fold_label(WORDS[(round as usize) % WORDS.len()])])?;
        common.push(t);
    }
    let mut all: Vec<Duration> = none.iter().chain(&rare).chain(&common).copied().collect();
    for v in [&mut none, &mut rare, &mut common, &mut all] {
        v.sort();
    }
    println!(
        "search none_median_ms={:.3} none_p99_ms={:.3} rare_median_ms={:.3} rare_p99_ms={:.3} common_median_ms={:.3} common_p99_ms={:.3} all_p99_ms={:.3} queries={} rare_found={found_rare} hwm_kb={}",
        percentile(&none, 50.0),
        percentile(&none, 99.0),
        percentile(&rare, 50.0),
        percentile(&rare, 99.0),
        percentile(&common, 50.0),
        percentile(&common, 99.0),
        percentile(&all, 99.0),
        all.len(),
        proc_status_kb("VmHWM:"),
    );
    Ok(())
}

const SELECTORS: &str = r#"item = "ul.new-left-list > li"
title = "h4.module-title a"
link = "h4.module-title a@href"
time = ".module-interact span"
label = ".module-interact a.interact-key"
summary = "p.module-artile"
image = "a.fl img@src"
"#;

fn serve_config(
    out: &Path,
    live: usize,
    live_port: u16,
    live_interval: &str,
    cache_mb: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut toml = format!(
        "# Generated by `cargo run --example bench -- serve-config`: the 1,000 sections of the\n\
         # filled benchmark store. Sections beyond the first {live} point at a closed port and are\n\
         # polled once a day, so they do not change while the store is measured; the first {live}\n\
         # poll live pages every {live_interval}.\n\
         [server]\nlisten = \"127.0.0.1:8080\"\nbase_url = \"http://127.0.0.1:8080\"\ncache_mb = {cache_mb}\n\n\
         [store]\npath = \"data\"\n\n\
         [poll]\nconcurrency = 64\nper_host = 64\nhost_delay = \"0\"\n\n",
    );
    for source in 0..SECTIONS / SECTIONS_PER_SOURCE {
        let first = source * SECTIONS_PER_SOURCE;
        let sid = source_id(first);
        let _ = write!(
            toml,
            "[[source]]\nid = \"{sid}\"\nname = \"门户 {sid}\"\nurl = \"https://www.{sid}.example.cn/\"\ntimezone = \"Asia/Shanghai\"\ninterval = \"1d\"\n\n"
        );
        for section in first..first + SECTIONS_PER_SOURCE {
            let (url, interval) = if section < live {
                (
                    format!(
                        "http://127.0.0.1:{live_port}/live/{}.html",
                        section_id(section)
                    ),
                    format!("interval = \"{live_interval}\"\n"),
                )
            } else {
                (
                    format!("http://127.0.0.1:9/{sid}/{}.html", section_id(section)),
                    String::new(),
                )
            };
            let _ = write!(
                toml,
                "[[source.section]]\nid = \"{}\"\nname = \"{}\"\nurl = \"{url}\"\n{interval}{SELECTORS}\n",
                section_id(section),
                section_name(section),
            );
        }
    }
    std::fs::write(out, toml)?;
    Ok(())
}

fn portal(
    dir: &Path,
    port: u16,
    out: &Path,
    page_bytes: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let pages = dir.join("s");
    std::fs::create_dir_all(&pages)?;
    let shanghai = FixedOffset::east_opt(8 * 3600).ok_or("offset")?;
    let now = Utc::now().with_timezone(&shanghai);
    let mut total = 0usize;
    for section in 0..SECTIONS {
        let html = list_page(
            section,
            now,
            page_bytes,
            (section * 1000) as u64 + PAGE_ITEMS - 1,
        );
        total += html.len();
        std::fs::write(pages.join(format!("{}.html", section_id(section))), html)?;
    }
    let mut toml = format!(
        "# Generated by `cargo run --example bench -- portal`: 1,000 list pages on one host.\n\
         [server]\nlisten = \"127.0.0.1:8080\"\n\n[store]\npath = \"data\"\n\n\
         [poll]\nconcurrency = 64\nper_host = 64\nhost_delay = \"0\"\n\n\
         [[source]]\nid = \"portal\"\nname = \"示例门户\"\nurl = \"http://127.0.0.1:{port}/\"\n\
         timezone = \"Asia/Shanghai\"\ninterval = \"10m\"\nstrip_params = [\"s\"]\n\n"
    );
    for section in 0..SECTIONS {
        let _ = write!(
            toml,
            "[[source.section]]\nid = \"{}\"\nname = \"{}\"\nurl = \"http://127.0.0.1:{port}/s/{}.html\"\n{SELECTORS}\n",
            section_id(section),
            section_name(section),
            section_id(section),
        );
    }
    std::fs::write(out, toml)?;
    println!(
        "portal pages={SECTIONS} mean_bytes={} dir={}",
        total / SECTIONS,
        pages.display()
    );
    Ok(())
}

fn live_pages(
    dir: &Path,
    sections: usize,
    tick: u64,
    page_bytes: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let shanghai = FixedOffset::east_opt(8 * 3600).ok_or("offset")?;
    let now = Utc::now().with_timezone(&shanghai);
    for section in 0..sections.min(SECTIONS) {
        // Story numbers far from the fill's, one new one per tick.
        let newest = 100_000_000 + section as u64 * 1_000_000 + tick + PAGE_ITEMS - 1;
        let html = list_page(section, now, page_bytes, newest);
        let name = format!("{}.html", section_id(section));
        let temporary = dir.join(format!(".{name}.tmp"));
        std::fs::write(&temporary, html)?;
        std::fs::rename(&temporary, dir.join(name))?;
    }
    Ok(())
}

/// One list page in the shape of a portal channel page: head with styles and scripts, a big
/// navigation bar, the 30-headline list, rankings in a side column, a footer full of links.
/// Its headlines are stories `newest`, `newest - 1`, … (newest on top).
fn list_page(section: usize, now: DateTime<FixedOffset>, page_bytes: usize, newest: u64) -> String {
    list_page_with(section, now, page_bytes, newest, &ListShape::default()).0
}

/// What differs between the polling fixture's list pages and the full-text fixture's.
struct ListShape<'a> {
    /// Headlines on the page.
    items: usize,
    /// Path prefix of the story links ("" → `/secNNNN/…`).
    prefix: &'a str,
    /// Thumbnail URL of story `id`, or the portal's CDN URL when `None`.
    image: Option<&'a dyn Fn(u64) -> String>,
}

impl Default for ListShape<'_> {
    fn default() -> Self {
        ListShape {
            items: PAGE_ITEMS as usize,
            prefix: "",
            image: None,
        }
    }
}

/// [`list_page`] with a given shape; also returns each story's number and link path.
fn list_page_with(
    section: usize,
    now: DateTime<FixedOffset>,
    page_bytes: usize,
    newest: u64,
    shape: &ListShape<'_>,
) -> (String, Vec<(u64, String)>) {
    let mut stories = Vec::with_capacity(shape.items);
    let name = section_name(section);
    let mut h = String::with_capacity(page_bytes + 16 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"keywords\" content=\"{name},新闻,资讯,示例门户\">\n\
         <meta name=\"description\" content=\"示例门户{name}频道，提供最新{name}新闻。\">\n\
         <title>{name}_示例门户</title>\n"
    );
    for css in ["reset", "common", "header", "list", "footer"] {
        let _ = writeln!(
            h,
            "<link rel=\"stylesheet\" href=\"//static.portal.example.cn/css/{css}.css?v=20220313\">"
        );
    }
    h.push_str("<style>\n");
    for i in 0..60 {
        let _ = writeln!(
            h,
            ".mod-{i} .item-{i}{{margin:0 {i}px;padding:4px 8px;font-size:14px;line-height:22px;color:#3{:02x}3{:02x}}}",
            i % 200,
            (i * 7) % 200
        );
    }
    h.push_str("</style>\n<script>\nvar _hmt=_hmt||[];(function(){var hm=document.createElement(\"script\");hm.src=\"https://hm.example.cn/hm.js?0123456789abcdef\";var s=document.getElementsByTagName(\"script\")[0];s.parentNode.insertBefore(hm,s);})();\n");
    for i in 0..40 {
        let _ = writeln!(
            h,
            "window.__CONF_{i}__={{channel:\"{}\",slot:{i},ad:\"/ad/{}/{i}.js\",rate:0.{:03}}};",
            section_id(section),
            section,
            (section * 31 + i) % 1000
        );
    }
    h.push_str("</script>\n</head>\n<body>\n<div class=\"header\">\n<div class=\"logo\"><a href=\"/\"><img src=\"//static.portal.example.cn/img/logo.png\" alt=\"示例门户\"></a></div>\n<ul class=\"nav\">\n");
    for i in 0..120 {
        let _ = writeln!(
            h,
            "<li class=\"nav-item\"><a href=\"/{}/list_{}.shtml\" target=\"_blank\">{}</a></li>",
            section_id(i * 7 % SECTIONS),
            i % 9 + 1,
            TOPICS[i % TOPICS.len()]
        );
    }
    let _ = write!(
        h,
        "</ul>\n</div>\n<div class=\"content clearfix\">\n<div class=\"left\">\n\
         <div class=\"crumbs\"><a href=\"/\">首页</a> &gt; <span>{name}</span></div>\n\
         <ul class=\"new-left-list\">\n"
    );
    for k in 0..shape.items {
        let n = newest.saturating_sub(k as u64);
        let title = headline(n);
        let id = 600_000 + n;
        let t = now - chrono::Duration::minutes((k * 37 + section % 60) as i64);
        let path = format!(
            "{}/{}/{}_{id}.shtml",
            shape.prefix,
            section_id(section),
            t.format("%Y_%m_%d")
        );
        stories.push((n, path.clone()));
        let image = match shape.image {
            Some(f) => f(id),
            None => format!(
                "https://i.portal.example.cn/news/{}/{id}.jpg",
                t.format("%Y/%m/%d")
            ),
        };
        let _ = write!(
            h,
            "<li>\n  <a class=\"fl\" href=\"{path}\" target=\"_blank\"><img src=\"{image}\" alt=\"{title}\"></a>\n\
             \x20 <div class=\"right fn\">\n\
             \x20   <h4 class=\"module-title\"><a href=\"{path}?s=lbbt\" target=\"_blank\">{title}</a></h4>\n\
             \x20   <p class=\"module-artile\">{}，{}，{}。</p>\n\
             \x20   <div class=\"module-interact\">\n\
             \x20     <span>{}</span>\n\
             \x20     <a href=\"{path}\" class=\"interact-attention\" target=\"_blank\">{}</a>\n\
             \x20     <a href=\"{path}#comment\" class=\"interact-comment\" target=\"_blank\">{}</a>\n\
             \x20     <a href=\"/topic/{}?s=lbbq\" class=\"interact-key\" target=\"_blank\">{}</a>\n\
             \x20   </div>\n\
             \x20   <div class=\"resemble-art c_hidden\">· <a href=\"/{}/{}.shtml\" target=\"_blank\">{}</a></div>\n\
             \x20 </div>\n</li>\n",
            headline(n + 11),
            headline(n + 17),
            headline(n + 23),
            t.format("%Y-%m-%d %H:%M"),
            (n * 7919) % 100_000,
            (n * 31) % 500,
            n % LABELS.len() as u64,
            LABELS[(n % LABELS.len() as u64) as usize],
            section_id(section),
            id + 1,
            headline(n + 29),
        );
    }
    h.push_str("</ul>\n<div class=\"pages\">");
    for p in 1..=20 {
        let _ = write!(h, "<a href=\"list_{p}.shtml\">{p}</a>");
    }
    h.push_str("</div>\n</div>\n<div class=\"right\">\n");
    // Rankings, more links and ads until the page reaches its size, less the footer.
    let mut block = 0usize;
    while h.len() + 9 * 1024 < page_bytes {
        let _ = write!(
            h,
            "<div class=\"mod-{block} rank\"><h3 class=\"title\">{}排行</h3>\n<ul class=\"rank-list\">\n",
            TOPICS[(section + block) % TOPICS.len()]
        );
        for r in 0..15 {
            let n = (section * 100_000 + block * 100 + r + 50_000) as u64;
            let _ = writeln!(
                h,
                "<li class=\"item-{r}\"><em>{}</em><a href=\"/{}/{}.shtml\" target=\"_blank\" title=\"{t}\">{t}</a><span class=\"hot\">{}</span></li>",
                r + 1,
                TOPICS[r % TOPICS.len()],
                700_000 + n,
                (n * 13) % 9999,
                t = headline(n),
            );
        }
        h.push_str("</ul>\n<div class=\"ad\"><a href=\"https://ad.example.cn/c?x=1\"><img src=\"//ad.example.cn/300x250.jpg\" alt=\"广告\"></a></div>\n</div>\n");
        block += 1;
    }
    h.push_str("</div>\n</div>\n<div class=\"footer\">\n<ul class=\"links\">\n");
    for i in 0..80 {
        let _ = writeln!(
            h,
            "<li><a href=\"https://partner{i}.example.org/\" target=\"_blank\">合作伙伴{i}</a></li>"
        );
    }
    h.push_str("</ul>\n<p>违法和不良信息举报电话：010-00000000 举报邮箱：jubao@portal.example.cn</p>\n<p>Copyright © 2022 示例门户 版权所有</p>\n</div>\n<script src=\"//static.portal.example.cn/js/jquery.min.js\"></script>\n<script>$(function(){$('.lazy').each(function(){var s=$(this).data('original');if(s){this.src=s;}});});</script>\n</body>\n</html>\n");
    (h, stories)
}

/// Article body selector of the full-text fixture (what a user would configure).
const CONTENT_SELECTOR: &str = "div.article-content";
/// Distinct images of the full-text fixture (stories share them).
const FT_IMAGES: u64 = 16;

fn fulltext_portal(
    dir: &Path,
    port: u16,
    sections: usize,
    stories: usize,
    per_poll: usize,
    out: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = dir.join("ft");
    std::fs::create_dir_all(root.join("s"))?;
    std::fs::create_dir_all(root.join("img"))?;
    std::fs::create_dir_all(out)?;
    for i in 0..FT_IMAGES {
        std::fs::write(
            root.join(format!("img/{i}.jpg")),
            fake_jpeg(i, 24 * 1024 + (i as usize * 2731) % (40 * 1024)),
        )?;
    }
    let shanghai = FixedOffset::east_opt(8 * 3600).ok_or("offset")?;
    let now = Utc::now().with_timezone(&shanghai);
    let image = |id: u64| format!("/ft/img/{}.jpg", id % FT_IMAGES);
    let shape = ListShape {
        items: stories,
        prefix: "/ft",
        image: Some(&image),
    };
    let (mut list_bytes, mut article_bytes, mut articles) = (0usize, 0usize, 0usize);
    let (mut min_article, mut max_article) = (usize::MAX, 0usize);
    for section in 0..sections.min(SECTIONS) {
        let newest = 200_000_000 + section as u64 * 10_000 + stories as u64;
        let (html, links) = list_page_with(section, now, 100 * 1024, newest, &shape);
        list_bytes += html.len();
        std::fs::write(root.join(format!("s/{}.html", section_id(section))), html)?;
        std::fs::create_dir_all(root.join(section_id(section)))?;
        for (n, path) in links {
            let page = article_page(section, n, &image(600_000 + n));
            article_bytes += page.len();
            min_article = min_article.min(page.len());
            max_article = max_article.max(page.len());
            articles += 1;
            let file = path.trim_start_matches("/ft/");
            std::fs::write(root.join(file), page)?;
        }
    }
    let sections = sections.min(SECTIONS);
    let head = |server: &str, poll_extra: &str| {
        format!(
            "# Generated by `cargo run --example bench -- fulltext-portal`: {sections} sections of \
             {stories} stories on 127.0.0.1:{port}.\n{server}\n[store]\npath = \"data\"\n\n\
             [poll]\nconcurrency = 64\nper_host = 64\nhost_delay = \"0\"\n{poll_extra}\n\
             [[source]]\nid = \"ftportal\"\nname = \"示例门户\"\nurl = \"http://127.0.0.1:{port}/\"\n\
             timezone = \"Asia/Shanghai\"\ninterval = \"10m\"\nstrip_params = [\"s\"]\n\n"
        )
    };
    let write_config = |name: &str,
                        server: &str,
                        full_text: bool,
                        list_port: u16,
                        interval: &str| {
        let mut toml = head(server, &format!("full_text_per_poll = {per_poll}\n"));
        for section in 0..sections {
            let _ = write!(
                toml,
                "[[source.section]]\nid = \"{}\"\nname = \"{}\"\nurl = \"http://127.0.0.1:{list_port}/ft/s/{}.html\"\n{interval}{}{SELECTORS}\n",
                section_id(section),
                section_name(section),
                section_id(section),
                if full_text {
                    format!("full_text = true\ncontent = \"{CONTENT_SELECTOR}\"\n")
                } else {
                    String::new()
                },
            );
        }
        std::fs::write(out.join(name), toml)
    };
    let plain = "[server]\nlisten = \"127.0.0.1:8080\"\n";
    write_config("poll-on.toml", plain, true, port, "")?;
    write_config("poll-off.toml", plain, false, port, "")?;
    // Serving: the list pages point at a closed port (nothing changes while measured); the
    // stored stories' links and images still point at the fixture server.
    let serve = "[server]\nlisten = \"127.0.0.1:8080\"\nbase_url = \"http://127.0.0.1:8080\"\n";
    write_config("serve.toml", serve, true, 9, "interval = \"1d\"\n")?;
    let serve_img = format!("{serve}image_proxy = true\nimage_proxy_private = true\n");
    write_config("serve-img.toml", &serve_img, true, 9, "interval = \"1d\"\n")?;
    println!(
        "fulltext-portal sections={sections} stories={articles} list_mean_bytes={} article_mean_bytes={} article_min_bytes={min_article} article_max_bytes={max_article} images={FT_IMAGES}",
        list_bytes / sections.max(1),
        article_bytes / articles.max(1),
    );
    Ok(())
}

/// A JPEG-shaped file of `len` bytes (SOI, JFIF header, a comment segment of filler, EOI):
/// the proxy only looks at the answer's type and size.
fn fake_jpeg(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0,
    ];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while v.len() + 4 + 2 < len {
        let chunk = (len - v.len() - 6).min(60_000);
        v.extend_from_slice(&[0xFF, 0xFE]);
        v.extend_from_slice(&((chunk + 2) as u16).to_be_bytes());
        for _ in 0..chunk {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.push((x >> 24) as u8);
        }
    }
    v.extend_from_slice(&[0xFF, 0xD9]);
    v
}

/// Deterministic Chinese prose: `chars` characters or so of news-like sentences.
fn prose(seed: u64, chars: usize) -> String {
    const FILL: [&str; 24] = [
        "的",
        "在",
        "和",
        "对",
        "将",
        "已经",
        "表示",
        "今年以来",
        "有关负责人",
        "进一步加强",
        "相关部门",
        "据介绍",
        "目前",
        "工作",
        "持续推进",
        "记者了解到",
        "方面",
        "情况",
        "取得积极进展",
        "同时",
        "此外",
        "按照要求",
        "不断完善",
        "切实做好",
    ];
    let mut h = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut s = String::new();
    let mut n = 0usize;
    let mut since_stop = 0usize;
    while n < chars {
        h ^= h << 13;
        h ^= h >> 7;
        h ^= h << 17;
        let w = if h % 3 == 0 {
            WORDS[(h >> 8) as usize % WORDS.len()]
        } else {
            FILL[(h >> 8) as usize % FILL.len()]
        };
        s.push_str(w);
        n += w.chars().count();
        since_stop += 1;
        if since_stop > 6 + (h >> 20) as usize % 8 {
            s.push_str(if (h >> 30) % 4 == 0 { "。" } else { "，" });
            n += 1;
            since_stop = 0;
        }
    }
    s.push('。');
    s
}

/// One story page in the shape of a portal article page: head with styles and big inline
/// scripts, navigation, breadcrumb, title and byline, share bar, the body (`div.article-content`:
/// 8–40 paragraphs, a picture with caption), editor line, related stories, comment box,
/// footer. 30–100 KB depending on the story.
fn article_page(section: usize, n: u64, image: &str) -> String {
    let title = headline(n);
    let name = section_name(section);
    let target = 30 * 1024 + (n.wrapping_mul(7919) % (70 * 1024)) as usize;
    let mut h = String::with_capacity(target + 8 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"keywords\" content=\"{name},{title}\">\n\
         <meta name=\"description\" content=\"{}\">\n<title>{title}_{name}_示例门户</title>\n",
        headline(n + 3)
    );
    for css in ["reset", "common", "header", "article", "footer"] {
        let _ = writeln!(h, "<link rel=\"stylesheet\" href=\"//static.portal.example.cn/css/{css}.css?v=20220313\">");
    }
    h.push_str("<script>\nvar _hmt=_hmt||[];(function(){var hm=document.createElement(\"script\");hm.src=\"https://hm.example.cn/hm.js?0123456789abcdef\";var s=document.getElementsByTagName(\"script\")[0];s.parentNode.insertBefore(hm,s);})();\n");
    for i in 0..60 {
        let _ = writeln!(
            h,
            "window.__ART_{i}__={{id:{n},channel:\"{}\",slot:{i},ad:\"/ad/{section}/{i}.js\",track:\"https://log.example.cn/t?c={section}&s={i}&r=0.{:04}\"}};",
            section_id(section),
            (n as usize * 31 + i) % 10_000
        );
    }
    h.push_str("</script>\n</head>\n<body>\n<div class=\"header\">\n<div class=\"logo\"><a href=\"/\"><img src=\"//static.portal.example.cn/img/logo.png\" alt=\"示例门户\"></a></div>\n<ul class=\"nav\">\n");
    for i in 0..80 {
        let _ = writeln!(
            h,
            "<li class=\"nav-item\"><a href=\"/{}/list_1.shtml\" target=\"_blank\">{}</a></li>",
            section_id(i * 7 % SECTIONS),
            TOPICS[i % TOPICS.len()]
        );
    }
    let _ = write!(
        h,
        "</ul>\n</div>\n<div class=\"content clearfix\">\n<div class=\"left\">\n\
         <div class=\"crumbs\"><a href=\"/\">首页</a> &gt; <a href=\"/ft/s/{}.html\">{name}</a> &gt; <span>正文</span></div>\n\
         <h1 class=\"article-title\">{title}</h1>\n\
         <div class=\"article-info\"><span class=\"source\">来源：示例日报</span><span class=\"time\">2022-03-13 10:{:02}</span><span class=\"author\">作者：本报记者</span></div>\n\
         <div class=\"share-bar\"><span>分享到：</span><a class=\"share-wx\" href=\"javascript:void(0)\">微信</a><a class=\"share-wb\" href=\"https://service.weibo.example.com/share?url=x\" target=\"_blank\">微博</a><a class=\"share-qq\" href=\"https://connect.qq.example.com/share?url=x\" target=\"_blank\">QQ空间</a><a class=\"font-big\" href=\"javascript:void(0)\">A+</a><a class=\"font-small\" href=\"javascript:void(0)\">A-</a><a class=\"print\" href=\"javascript:window.print()\">打印</a></div>\n\
         <div class=\"article-content\">\n",
        section_id(section),
        n % 60
    );
    // The story: 1,500–5,000 characters of text (4.5–15 KB); the chrome around it makes up
    // the rest of the page, as on real portal pages.
    let body_chars = 1500 + (n.wrapping_mul(2_654_435_761) % 3500) as usize;
    let mut written = 0usize;
    let mut p = 0u64;
    while written < body_chars {
        if p == 2 {
            let _ = write!(
                h,
                "<p style=\"text-align: center;\"><img src=\"{image}\" alt=\"{title}\" width=\"600\"></p>\n<p class=\"pic-caption\" style=\"text-align: center;\">图为{}现场。（示例日报记者 摄）</p>\n",
                headline(n + 5)
            );
        }
        let chars = 120 + ((n + p).wrapping_mul(2654435761) % 200) as usize;
        let _ = writeln!(h, "<p>　　{}</p>", prose(n * 1000 + p, chars));
        written += chars;
        p += 1;
    }
    let _ = write!(
        h,
        "<p class=\"editor\">（责任编辑：示例）</p>\n</div>\n\
         <div class=\"share-bar bottom\"><a class=\"share-wx\" href=\"javascript:void(0)\">微信</a><a class=\"share-wb\" href=\"#\">微博</a><a class=\"like\" href=\"javascript:void(0)\">点赞 {}</a></div>\n\
         <div class=\"related\"><h3>相关新闻</h3>\n<ul>\n",
        (n * 13) % 999
    );
    for r in 0..12 {
        let _ = writeln!(
            h,
            "<li><a href=\"/ft/{}/2022_03_13_{}.shtml\" target=\"_blank\">{}</a><span>2022-03-13</span></li>",
            section_id(section),
            700_000 + n * 20 + r,
            headline(n * 20 + r + 7)
        );
    }
    h.push_str("</ul>\n</div>\n<div class=\"comment-box\" id=\"comment\"><textarea placeholder=\"我来说两句\"></textarea><button>发表评论</button></div>\n</div>\n<div class=\"right\">\n");
    // Rankings and ads until the page reaches its size, less the footer.
    let mut block = 0usize;
    while block < 3 || h.len() + 6 * 1024 < target {
        let _ = write!(
            h,
            "<div class=\"rank\"><h3>{}排行</h3>\n<ul>\n",
            TOPICS[(section + block) % TOPICS.len()]
        );
        for r in 0..10 {
            let _ = writeln!(
                h,
                "<li><em>{}</em><a href=\"/ft/{}/{}.shtml\" target=\"_blank\">{}</a></li>",
                r + 1,
                TOPICS[r % TOPICS.len()],
                800_000 + n * 40 + (block * 10 + r) as u64,
                headline(n * 40 + (block * 10 + r) as u64)
            );
        }
        h.push_str("</ul>\n<div class=\"ad\"><a href=\"https://ad.example.cn/c?x=1\"><img src=\"//ad.example.cn/300x250.jpg\" alt=\"广告\"></a></div>\n</div>\n");
        block += 1;
    }
    h.push_str("</div>\n</div>\n<div class=\"footer\">\n<ul class=\"links\">\n");
    for i in 0..60 {
        let _ = writeln!(h, "<li><a href=\"https://partner{i}.example.org/\" target=\"_blank\">合作伙伴{i}</a></li>");
    }
    h.push_str("</ul>\n<p>违法和不良信息举报电话：010-00000000</p>\n<p>Copyright © 2022 示例门户 版权所有</p>\n</div>\n<script src=\"//static.portal.example.cn/js/jquery.min.js\"></script>\n<script>$(function(){$('.share-wx').on('click',function(){$('#qr').show();});$('.font-big').on('click',function(){$('.article-content').css('font-size','18px');});});</script>\n</body>\n</html>\n");
    h
}

fn extract_articles(dir: &Path, pages: usize) -> Result<(), Box<dyn std::error::Error>> {
    use headwire::decode::{decode, DocKind};
    use headwire::fulltext::extract_article;
    use headwire::imageproxy::ProxyRoute;
    let root = dir.join("ft");
    let mut files: Vec<PathBuf> = Vec::new();
    for section in std::fs::read_dir(&root)? {
        let section = section?.path();
        if section
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("sec"))
        {
            for page in std::fs::read_dir(&section)? {
                files.push(page?.path());
            }
        }
    }
    files.sort();
    files.truncate(pages);
    let bodies: Vec<(Url, Vec<u8>)> = files
        .iter()
        .map(|f| {
            let rel = f
                .strip_prefix(dir)
                .unwrap_or(f)
                .to_string_lossy()
                .into_owned();
            let url = Url::parse(&format!("http://127.0.0.1:8081/{rel}")).expect("url");
            Ok((url, std::fs::read(f)?))
        })
        .collect::<Result<_, std::io::Error>>()?;
    if bodies.is_empty() {
        return Err("no article pages under DIR/ft/sec*/".into());
    }
    let bytes: usize = bodies.iter().map(|(_, b)| b.len()).sum();
    let selector = vec![CONTENT_SELECTOR.to_string()];
    let mut articles = Vec::new();
    let per_call_ms = |cpu: f64, n: usize| cpu * 1e3 / n.max(1) as f64;
    let t = thread_cpu_secs();
    for (url, body) in &bodies {
        let decoded = decode(body, Some("text/html"), DocKind::Html);
        articles.push(extract_article(&decoded.text, url, Some(&selector))?.html);
    }
    let selector_ms = per_call_ms(thread_cpu_secs() - t, bodies.len());
    let t = thread_cpu_secs();
    let mut auto_ok = 0usize;
    for (url, body) in &bodies {
        let decoded = decode(body, Some("text/html"), DocKind::Html);
        auto_ok += usize::from(extract_article(&decoded.text, url, None).is_ok());
    }
    let readability_ms = per_call_ms(thread_cpu_secs() - t, bodies.len());
    let route = ProxyRoute::new(&Url::parse("http://127.0.0.1:8080/img/")?, [7; 32])?;
    // CPU time is counted in 10 ms ticks: enough calls to make the per-call figure meaningful.
    let t = thread_cpu_secs();
    for _ in 0..10 {
        for ((url, _), html) in bodies.iter().zip(&articles) {
            std::hint::black_box(route.rewrite_html(html, url));
        }
    }
    let rewrite_content_ms = per_call_ms(thread_cpu_secs() - t, 10 * bodies.len());
    let summary = format!("{}，{}，{}。", headline(1), headline(2), headline(3));
    let rounds = 20_000;
    let t = thread_cpu_secs();
    for i in 0..rounds {
        std::hint::black_box(route.rewrite_html(&summary, &bodies[i % bodies.len()].0));
    }
    let rewrite_summary_us = per_call_ms(thread_cpu_secs() - t, rounds) * 1e3;
    let article_bytes: usize = articles.iter().map(String::len).sum();
    println!(
        "extract pages={} page_mean_bytes={} article_mean_bytes={} selector_ms={selector_ms:.3} readability_ms={readability_ms:.3} readability_ok={auto_ok} rewrite_content_ms={rewrite_content_ms:.3} rewrite_summary_us={rewrite_summary_us:.2}",
        bodies.len(),
        bytes / bodies.len(),
        article_bytes / articles.len().max(1),
    );
    Ok(())
}
