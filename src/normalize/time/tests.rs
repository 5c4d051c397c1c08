//! Tests of time parsing: tables of printed forms, zones, DST edges and the believable range.

use super::input::normalize;
use super::patterns::{
    AGO_CJK, AGO_DE, AGO_EN, ASCTIME, BARE_TIME, DAY_WORD, DMY_DOT, DMY_EN, DM_EN, JUST_NOW,
    MDY_EN, MD_CJK, MD_EN, MD_NUM, YMD,
};
use super::zone::{numeric_offset, tz_offset};
use super::*;
use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use regex::Regex;
use std::sync::LazyLock;

use chrono_tz::America::New_York as NY;
use chrono_tz::Asia::Shanghai as SH;
use chrono_tz::Europe::Berlin as BE;
use TimeKind::*;
use TimePrecision::*;

/// Mon 2022-03-14 06:00 UTC = 14:00 in Shanghai, 02:00 EDT in New York,
/// 07:00 CET in Berlin (US DST began 2022-03-13 02:00 local).
const NOW: &str = "2022-03-14T06:00:00Z";

#[derive(Debug, Clone, Copy)]
enum Exp {
    Ok(&'static str, TimePrecision, TimeKind),
    Future,
    Old,
    Bad,
    Empty,
}

struct Row {
    input: &'static str,
    zone: Tz,
    now: &'static str,
    format: Option<&'static str>,
    exp: Exp,
}

const fn r(input: &'static str, zone: Tz, exp: Exp) -> Row {
    Row {
        input,
        zone,
        now: NOW,
        format: None,
        exp,
    }
}
const fn rn(input: &'static str, zone: Tz, now: &'static str, exp: Exp) -> Row {
    Row {
        input,
        zone,
        now,
        format: None,
        exp,
    }
}
const fn rf(input: &'static str, zone: Tz, format: &'static str, exp: Exp) -> Row {
    Row {
        input,
        zone,
        now: NOW,
        format: Some(format),
        exp,
    }
}
const fn ok(utc: &'static str, p: TimePrecision, k: TimeKind) -> Exp {
    Exp::Ok(utc, p, k)
}

const ROWS: &[Row] = &[
    // --- RFC 3339 / ISO ---
    r(
        "2022-03-13T09:27:00+08:00",
        SH,
        ok("2022-03-13T01:27:00Z", Exact, Absolute),
    ),
    r(
        "2022-03-13T01:27:00Z",
        NY,
        ok("2022-03-13T01:27:00Z", Exact, Absolute),
    ),
    r(
        "2022-03-13T09:27:00.123456+08:00",
        NY,
        ok("2022-03-13T01:27:00.123456Z", Exact, Absolute),
    ),
    r(
        "2022-03-13T01:27:00.5Z",
        SH,
        ok("2022-03-13T01:27:00.5Z", Exact, Absolute),
    ),
    r(
        "2022-03-13T01:27:00.1234567891Z",
        SH,
        ok("2022-03-13T01:27:00.123456789Z", Exact, Absolute),
    ),
    r(
        "2021-12-23T18:54:10",
        NY,
        ok("2021-12-23T23:54:10Z", Exact, Absolute),
    ),
    rn(
        "2022-12-23T18:54:10",
        NY,
        "2022-12-24T00:30:00Z",
        ok("2022-12-23T23:54:10Z", Exact, Absolute),
    ),
    r(
        "2019-08-21T03:01:36-07:00",
        SH,
        ok("2019-08-21T10:01:36Z", Exact, Absolute),
    ),
    r(
        "2018-04-09T13:46:28.000Z",
        SH,
        ok("2018-04-09T13:46:28Z", Exact, Absolute),
    ),
    // --- numeric Chinese-portal forms ---
    r(
        "2022-03-13 09:27",
        SH,
        ok("2022-03-13T01:27:00Z", Exact, Absolute),
    ),
    r(
        "2022-03-13 09:42:07",
        SH,
        ok("2022-03-13T01:42:07Z", Exact, Absolute),
    ),
    r(
        "2022/03/13 09:27",
        SH,
        ok("2022-03-13T01:27:00Z", Exact, Absolute),
    ),
    r(
        "2022.03.13 09:27",
        SH,
        ok("2022-03-13T01:27:00Z", Exact, Absolute),
    ),
    // Dates carried in article URLs (guancha: `/politics/2020_07_18_558136.shtml`).
    r(
        "/politics/2020_07_18_558136.shtml",
        SH,
        ok("2020-07-17T16:00:00Z", Day, DateOnly),
    ),
    r(
        "https://news.sina.com.cn/c/2019-11-24/doc-iihnzahi2943593.shtml",
        SH,
        ok("2019-11-23T16:00:00Z", Day, DateOnly),
    ),
    r(
        "2022-3-3 9:05",
        SH,
        ok("2022-03-03T01:05:00Z", Exact, Absolute),
    ),
    r(
        "2022-3-3 9:05",
        NY,
        ok("2022-03-03T14:05:00Z", Exact, Absolute),
    ),
    r(
        "2022年3月13日 09:27",
        SH,
        ok("2022-03-13T01:27:00Z", Exact, Absolute),
    ),
    r(
        "2022年03月13日09:27",
        SH,
        ok("2022-03-13T01:27:00Z", Exact, Absolute),
    ),
    r(
        "2022年3月13日 9时27分",
        SH,
        ok("2022-03-13T01:27:00Z", Exact, Absolute),
    ),
    r(
        "2022年3月13日 9时27分30秒",
        SH,
        ok("2022-03-13T01:27:30Z", Exact, Absolute),
    ),
    r(
        "2022年3月13日 下午3:27",
        SH,
        ok("2022-03-13T07:27:00Z", Exact, Absolute),
    ),
    r(
        "2022年03月13日 星期日 09:27",
        SH,
        ok("2022-03-13T01:27:00Z", Exact, Absolute),
    ),
    r(
        "2016年7月14日(木) 09:27",
        SH,
        ok("2016-07-14T01:27:00Z", Exact, Absolute),
    ),
    r(
        "2019年06月15日08:18\u{a0}\u{a0}来源：人民网",
        SH,
        ok("2019-06-15T00:18:00Z", Exact, Absolute),
    ),
    r(
        "2019年06月15日08:18&nbsp;&nbsp;来源：",
        SH,
        ok("2019-06-15T00:18:00Z", Exact, Absolute),
    ),
    // --- with noise ---
    r(
        "最后更新: 2022-03-13 09:42:07",
        SH,
        ok("2022-03-13T01:42:07Z", Exact, Absolute),
    ),
    r(
        "(2020-08-16 22:26:38)",
        SH,
        ok("2020-08-16T14:26:38Z", Exact, Absolute),
    ),
    r(
        "发布时间：2022-03-13 09:27",
        SH,
        ok("2022-03-13T01:27:00Z", Exact, Absolute),
    ),
    r(
        "来源：新华社 2022-03-13",
        SH,
        ok("2022-03-12T16:00:00Z", Day, DateOnly),
    ),
    r("[03-13]", SH, ok("2022-03-12T16:00:00Z", Day, YearLess)),
    r(
        "  2022-03-13 09:27  阅读(123) ",
        SH,
        ok("2022-03-13T01:27:00Z", Exact, Absolute),
    ),
    // --- RFC 2822 / 822 with deviations ---
    r(
        "Sun, 13 Mar 2022 09:27:00 +0800",
        NY,
        ok("2022-03-13T01:27:00Z", Exact, Absolute),
    ),
    r(
        "Sun, 13 Mar 2022 09:27:00 GMT",
        SH,
        ok("2022-03-13T09:27:00Z", Exact, Absolute),
    ),
    r(
        "13 Mar 2022 09:27:00 +0800",
        NY,
        ok("2022-03-13T01:27:00Z", Exact, Absolute),
    ),
    r(
        "Fri, 13 Mar 2022 09:27:00 GMT",
        SH,
        ok("2022-03-13T09:27:00Z", Exact, Absolute),
    ),
    r(
        "Sun, 6 Mar 2022 09:27:00 EST",
        SH,
        ok("2022-03-06T14:27:00Z", Exact, Absolute),
    ),
    r(
        "Sun, 13 Mar 22 09:27:00 PST",
        SH,
        ok("2022-03-13T17:27:00Z", Exact, Absolute),
    ),
    r(
        "Sun, 13 Mar 2022 09:27 EDT",
        SH,
        ok("2022-03-13T13:27:00Z", Exact, Absolute),
    ),
    r(
        "Mon, 13 Sept 2021 09:27:00 UT",
        SH,
        ok("2021-09-13T09:27:00Z", Exact, Absolute),
    ),
    r(
        "Sun, 13 June 2021 09:27:00 CDT",
        SH,
        ok("2021-06-13T14:27:00Z", Exact, Absolute),
    ),
    r(
        "Sun, 13 February 2022 09:27:00 MST",
        SH,
        ok("2022-02-13T16:27:00Z", Exact, Absolute),
    ),
    r(
        "Sun, 13 Mar 2022 09:27:00 MDT",
        SH,
        ok("2022-03-13T15:27:00Z", Exact, Absolute),
    ),
    r(
        "Sun, 13 Mar 2022 09:27:00 PDT",
        SH,
        ok("2022-03-13T16:27:00Z", Exact, Absolute),
    ),
    r(
        "Sun, 13 Mar 2022 09:27:00 Z",
        NY,
        ok("2022-03-13T09:27:00Z", Exact, Absolute),
    ),
    r(
        "Sun, 13 Mar 2022 09:27:00 UTC",
        NY,
        ok("2022-03-13T09:27:00Z", Exact, Absolute),
    ),
    r(
        "Sun,  13  Mar   2022  09:27:00   +08:00  ",
        NY,
        ok("2022-03-13T01:27:00Z", Exact, Absolute),
    ),
    r(
        "Sun, 13 Mar 2022 09:27:00 +0000 (UTC) trailing junk",
        SH,
        ok("2022-03-13T09:27:00Z", Exact, Absolute),
    ),
    r(
        "Sun, 13 Mar 2022 09:27:00 CST",
        NY,
        ok("2022-03-13T15:27:00Z", Exact, Absolute),
    ),
    r(
        "Sun, 13 Mar 2022 09:27:00 CST",
        SH,
        ok("2022-03-13T01:27:00Z", Exact, Absolute),
    ),
    r(
        "Sun, 13 Mar 2022 09:27:00",
        NY,
        ok("2022-03-13T13:27:00Z", Exact, Absolute),
    ),
    r(
        "13-Mar-2022 09:27 GMT+8",
        NY,
        ok("2022-03-13T01:27:00Z", Exact, Absolute),
    ),
    // --- English prose dates ---
    r(
        "Mar 13, 2022 09:27",
        NY,
        ok("2022-03-13T13:27:00Z", Exact, Absolute),
    ),
    r(
        "13 March 2022",
        SH,
        ok("2022-03-12T16:00:00Z", Day, DateOnly),
    ),
    r(
        "March 13th, 2022",
        NY,
        ok("2022-03-13T05:00:00Z", Day, DateOnly),
    ),
    r(
        "Posted on September 3, 2019 at 6:09 AM",
        NY,
        ok("2019-09-03T10:09:00Z", Exact, Absolute),
    ),
    r(
        "May 3, 2021 • 8:00 AM EDT",
        SH,
        ok("2021-05-03T12:00:00Z", Exact, Absolute),
    ),
    r(
        "Mon Jan 11 12:48:13 EST 2010",
        SH,
        ok("2010-01-11T17:48:13Z", Exact, Absolute),
    ),
    r(
        "Sun Mar 13 09:27:00 CST 2022",
        SH,
        ok("2022-03-13T01:27:00Z", Exact, Absolute),
    ),
    r(
        "13.11.2020, 18:00 Uhr",
        BE,
        ok("2020-11-13T17:00:00Z", Exact, Absolute),
    ),
    // --- date only ---
    r("2022-03-13", SH, ok("2022-03-12T16:00:00Z", Day, DateOnly)),
    r(
        "2022年3月13日",
        SH,
        ok("2022-03-12T16:00:00Z", Day, DateOnly),
    ),
    r("2022/3/13", NY, ok("2022-03-13T05:00:00Z", Day, DateOnly)),
    r("3月13日", SH, ok("2022-03-12T16:00:00Z", Day, YearLess)),
    // --- year-less ---
    r(
        "03-13 09:27",
        SH,
        ok("2022-03-13T01:27:00Z", Exact, YearLess),
    ),
    r(
        "3月13日 09:27",
        SH,
        ok("2022-03-13T01:27:00Z", Exact, YearLess),
    ),
    r(
        "10月23日17:26",
        SH,
        ok("2021-10-23T09:26:00Z", Exact, YearLess),
    ),
    r("07/14", SH, ok("2021-07-13T16:00:00Z", Day, YearLess)),
    r("03-13", NY, ok("2022-03-13T05:00:00Z", Day, YearLess)),
    r(
        "7/18(月)23:59",
        SH,
        ok("2021-07-18T15:59:00Z", Exact, YearLess),
    ),
    r(
        "03-15 09:00",
        SH,
        ok("2022-03-15T01:00:00Z", Exact, YearLess),
    ),
    r("02-29", SH, ok("2020-02-28T16:00:00Z", Day, YearLess)),
    r("3月13号", SH, ok("2022-03-12T16:00:00Z", Day, YearLess)),
    r("7/19(火)", SH, ok("2021-07-18T16:00:00Z", Day, YearLess)),
    r("德国2-1法国", SH, Exp::Bad),
    r("8-10岁", SH, Exp::Bad),
    r("Mar 13", SH, ok("2022-03-12T16:00:00Z", Day, YearLess)),
    rn(
        "12-31 23:00",
        SH,
        "2022-01-02T04:00:00Z",
        ok("2021-12-31T15:00:00Z", Exact, YearLess),
    ),
    rn(
        "12-31 23:00",
        NY,
        "2022-01-02T04:00:00Z",
        ok("2022-01-01T04:00:00Z", Exact, YearLess),
    ),
    // --- relative ---
    r("刚刚", SH, ok("2022-03-14T06:00:00Z", Exact, Relative)),
    r("30秒前", SH, ok("2022-03-14T05:59:30Z", Exact, Relative)),
    r("5分钟前", NY, ok("2022-03-14T05:55:00Z", Exact, Relative)),
    r("3小时前", SH, ok("2022-03-14T03:00:00Z", Exact, Relative)),
    r("半小时前", SH, ok("2022-03-14T05:30:00Z", Exact, Relative)),
    r("2天前", SH, ok("2022-03-12T06:00:00Z", Exact, Relative)),
    r("1周前", SH, ok("2022-03-07T06:00:00Z", Exact, Relative)),
    r(
        "今天 09:27",
        SH,
        ok("2022-03-14T01:27:00Z", Exact, Relative),
    ),
    rn(
        "昨天 23:50",
        SH,
        "2022-03-14T16:05:00Z",
        ok("2022-03-14T15:50:00Z", Exact, Relative),
    ),
    r(
        "前天 08:00",
        SH,
        ok("2022-03-12T00:00:00Z", Exact, Relative),
    ),
    r("今天", SH, ok("2022-03-13T16:00:00Z", Day, Relative)),
    r("昨天", NY, ok("2022-03-13T05:00:00Z", Day, Relative)),
    r(
        "5 minutes ago",
        NY,
        ok("2022-03-14T05:55:00Z", Exact, Relative),
    ),
    r("1 min ago", SH, ok("2022-03-14T05:59:00Z", Exact, Relative)),
    r(
        "an hour ago",
        SH,
        ok("2022-03-14T05:00:00Z", Exact, Relative),
    ),
    r(
        "3 hours ago",
        NY,
        ok("2022-03-14T03:00:00Z", Exact, Relative),
    ),
    r(
        "2 days ago",
        SH,
        ok("2022-03-12T06:00:00Z", Exact, Relative),
    ),
    r("2h ago", SH, ok("2022-03-14T04:00:00Z", Exact, Relative)),
    r("yesterday", SH, ok("2022-03-12T16:00:00Z", Day, Relative)),
    r(
        "today 09:27",
        NY,
        ok("2022-03-14T13:27:00Z", Exact, Relative),
    ),
    r(
        "Yesterday at 3:04 PM",
        NY,
        ok("2022-03-13T19:04:00Z", Exact, Relative),
    ),
    r("just now", NY, ok("2022-03-14T06:00:00Z", Exact, Relative)),
    r(
        "gestern, 17:35 Uhr",
        BE,
        ok("2022-03-13T16:35:00Z", Exact, Relative),
    ),
    r(
        "vor 5 Minuten",
        BE,
        ok("2022-03-14T05:55:00Z", Exact, Relative),
    ),
    // --- full-width ---
    r(
        "１２：３０",
        SH,
        ok("2022-03-14T04:30:00Z", Exact, YearLess),
    ),
    r(
        "今天 １２：３０",
        SH,
        ok("2022-03-14T04:30:00Z", Exact, Relative),
    ),
    r("３小时前", SH, ok("2022-03-14T03:00:00Z", Exact, Relative)),
    r(
        "２０２２年３月１３日　０９：２７",
        SH,
        ok("2022-03-13T01:27:00Z", Exact, Absolute),
    ),
    r(
        "２０２２－０３－１３",
        SH,
        ok("2022-03-12T16:00:00Z", Day, DateOnly),
    ),
    // --- bare clock times ---
    r("12:05PM", NY, ok("2022-03-13T16:05:00Z", Exact, YearLess)),
    r("01:30", NY, ok("2022-03-14T05:30:00Z", Exact, YearLess)),
    r("下午 3:27", SH, ok("2022-03-13T07:27:00Z", Exact, YearLess)),
    // --- machine ---
    r("1647134820", SH, ok("2022-03-13T01:27:00Z", Exact, Machine)),
    r(
        "1647134820123",
        NY,
        ok("2022-03-13T01:27:00.123Z", Exact, Machine),
    ),
    r(
        "１６４７１３４８２０",
        SH,
        ok("2022-03-13T01:27:00Z", Exact, Machine),
    ),
    r("9999999999", SH, Exp::Future),
    r("9999999999999999999", SH, Exp::Bad),
    // --- per-section format ---
    rf(
        "发布于 2022年03月13日 09:27 来源",
        SH,
        "%Y年%m月%d日 %H:%M",
        ok("2022-03-13T01:27:00Z", Exact, CustomFormat),
    ),
    rf(
        "2022/13/03",
        SH,
        "%Y/%d/%m",
        ok("2022-03-12T16:00:00Z", Day, CustomFormat),
    ),
    rf(
        "09:27",
        SH,
        "%H:%M",
        ok("2022-03-14T01:27:00Z", Exact, CustomFormat),
    ),
    rf(
        "03-13 09:27",
        SH,
        "%m-%d %H:%M",
        ok("2022-03-13T01:27:00Z", Exact, CustomFormat),
    ),
    rf(
        "2022-03-13 09:27 +0000",
        NY,
        "%Y-%m-%d %H:%M %z",
        ok("2022-03-13T09:27:00Z", Exact, CustomFormat),
    ),
    rf(
        "2022-03-13 09:27",
        SH,
        "%d.%m.%Y",
        ok("2022-03-13T01:27:00Z", Exact, Absolute),
    ),
    rf(
        "2022-03-13 09:27",
        SH,
        "",
        ok("2022-03-13T01:27:00Z", Exact, Absolute),
    ),
    rf(
        "2022-03-13 09:27",
        SH,
        "%Q%",
        ok("2022-03-13T01:27:00Z", Exact, Absolute),
    ),
    // --- DST edges ---
    r(
        "2022-03-13 02:30",
        NY,
        ok("2022-03-13T07:30:00Z", Exact, Absolute),
    ),
    r(
        "2021-11-07 01:30",
        NY,
        ok("2021-11-07T05:30:00Z", Exact, Absolute),
    ),
    r("2022-03-27 02:30", BE, Exp::Future),
    r(
        "2021-03-28 02:30",
        BE,
        ok("2021-03-28T01:30:00Z", Exact, Absolute),
    ),
    // --- future ---
    r("2022-03-16 09:00", SH, Exp::Future),
    r("2023-01-01", SH, Exp::Future),
    r(
        "2022-03-15 01:59",
        NY,
        ok("2022-03-15T05:59:00Z", Exact, Absolute),
    ),
    r("2022-03-15 02:01", NY, Exp::Future),
    // --- too old: placeholders, wrong centuries, absurd relative counts ---
    r("0000000000", SH, Exp::Old),
    r("0000000000000", SH, Exp::Old),
    r("631151999", SH, Exp::Bad),
    r("0631151999", NY, Exp::Old),
    r("0631152000", NY, ok("1990-01-01T00:00:00Z", Exact, Machine)),
    r("1970-01-01 08:00", SH, Exp::Old),
    r("0000-01-01", SH, Exp::Old),
    r("0001-01-01 00:00", SH, Exp::Old),
    r(
        "1990-01-01 00:00 +0000",
        SH,
        ok("1990-01-01T00:00:00Z", Exact, Absolute),
    ),
    r("1990-01-01 07:59", SH, Exp::Old),
    r("Sun, 13 Mar 89 09:27:00 GMT", SH, Exp::Old),
    r("99999年前", SH, Exp::Old),
    r("36年前", SH, Exp::Old),
    r("30年前", SH, ok("1992-03-21T06:00:00Z", Exact, Relative)),
    r("9999 years ago", NY, Exp::Old),
    r("vor 100 Jahren", BE, Exp::Old),
    rf("0000|01|01", SH, "%Y|%m|%d", Exp::Old),
    rf("-0044|03|15", SH, "%Y|%m|%d", Exp::Old),
    rf("+12000|03|15", SH, "%Y|%m|%d", Exp::Future),
    rf("1", SH, "%s", Exp::Old),
    // --- characters whose case folding is ASCII: `ſ` is `s`, `K` (Kelvin) is `K` ---
    r(
        "Sun, 13 Mar 2022 09:27:00 Pſt",
        SH,
        ok("2022-03-13T17:27:00Z", Exact, Absolute),
    ),
    r(
        "13 Mar 2022 09:27 eſt",
        SH,
        ok("2022-03-13T14:27:00Z", Exact, Absolute),
    ),
    r("yeſterday", SH, ok("2022-03-12T16:00:00Z", Day, Relative)),
    r("2 wKs ago", SH, ok("2022-02-28T06:00:00Z", Exact, Relative)),
    r("vorgeſtern", BE, ok("2022-03-11T23:00:00Z", Day, Relative)),
    // --- huge numbers ---
    r("99999999999天前", SH, Exp::Bad),
    r("9223372036854775807秒前", SH, Exp::Bad),
    r("18446744073709551616 hours ago", SH, Exp::Bad),
    r("99999999999999999999", SH, Exp::Bad),
    r("９９９９９９９９９９９天前", SH, Exp::Bad),
    // --- rejects ---
    r("", SH, Exp::Empty),
    r(" \u{3000}\t\n", SH, Exp::Empty),
    r("abc", SH, Exp::Bad),
    r("2022-13-45 99:99", SH, Exp::Bad),
    r("2022-02-30", SH, Exp::Bad),
    r("发布时间：", SH, Exp::Bad),
    r("25:61", SH, Exp::Bad),
    r("Sun, 13 Foo 2022 09:27:00 GMT", SH, Exp::Bad),
    r("明天", SH, Exp::Bad),
];

fn dt(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("bad test timestamp {s}: {e}"))
}

#[test]
fn table() {
    let mut failures = Vec::new();
    for row in ROWS {
        let ctx = TimeContext {
            zone: row.zone,
            now: dt(row.now),
            format: row.format,
        };
        let got = parse_time(row.input, &ctx);
        let good = match (row.exp, &got) {
            (Exp::Ok(utc, p, k), Ok(pt)) => pt.utc == dt(utc) && pt.precision == p && pt.kind == k,
            (Exp::Future, Err(TimeError::InFuture { .. })) => true,
            (Exp::Old, Err(TimeError::TooOld { .. })) => true,
            (Exp::Bad, Err(TimeError::NotUnderstood(_))) => true,
            (Exp::Empty, Err(TimeError::Empty)) => true,
            _ => false,
        };
        if !good {
            failures.push(format!(
                "{:?} in {} (format {:?}): expected {:?}, got {:?}",
                row.input, row.zone, row.format, row.exp, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(ROWS.len() >= 70, "only {} rows", ROWS.len());
}

#[test]
fn errors_carry_text() {
    let ctx = TimeContext::new(SH, dt(NOW));
    assert_eq!(
        parse_time("  abc ", &ctx),
        Err(TimeError::NotUnderstood("abc".into()))
    );
    assert_eq!(
        parse_time("2022-03-16 09:00", &ctx),
        Err(TimeError::InFuture {
            text: "2022-03-16 09:00".into(),
            utc: dt("2022-03-16T01:00:00Z")
        })
    );
    let long = "x".repeat(1000);
    match parse_time(&long, &ctx) {
        Err(TimeError::NotUnderstood(t)) => assert_eq!(t.chars().count(), MAX_ERROR_TEXT),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn context_helpers() {
    let ctx = TimeContext::new(SH, dt(NOW)).with_format("%Y|%m|%d");
    assert_eq!(ctx.format, Some("%Y|%m|%d"));
    let p = parse_time("2022|03|13", &ctx).map(|p| (p.utc, p.kind));
    assert_eq!(p, Ok((dt("2022-03-12T16:00:00Z"), CustomFormat)));
}

#[test]
fn resolve_published_cases() {
    let day = ParsedTime {
        utc: dt("2022-03-12T16:00:00Z"), // 2022-03-13 00:00 in Shanghai
        precision: Day,
        kind: DateOnly,
    };
    // first seen on the same Shanghai day → first_seen wins
    for seen in [
        "2022-03-13T05:00:00Z",
        "2022-03-12T16:30:00Z",
        "2022-03-13T15:59:59Z",
    ] {
        assert_eq!(resolve_published(&day, dt(seen), SH), dt(seen), "{seen}");
    }
    // different local day → midnight
    for seen in [
        "2022-03-12T15:59:00Z",
        "2022-03-13T16:00:00Z",
        "2022-03-20T00:00:00Z",
    ] {
        assert_eq!(resolve_published(&day, dt(seen), SH), day.utc, "{seen}");
    }
    // same UTC instant but judged in New York the day differs
    // (day.utc is 2022-03-12 11:00 in New York)
    assert_eq!(
        resolve_published(&day, dt("2022-03-12T20:00:00Z"), NY),
        dt("2022-03-12T20:00:00Z")
    );
    assert_eq!(
        resolve_published(&day, dt("2022-03-13T05:00:00Z"), NY),
        day.utc
    );
    // exact times are kept as they are
    let exact = ParsedTime {
        utc: dt("2022-03-13T01:27:00Z"),
        precision: Exact,
        kind: Absolute,
    };
    assert_eq!(
        resolve_published(&exact, dt("2022-03-13T05:00:00Z"), SH),
        exact.utc
    );
    // end to end
    let ctx = TimeContext::new(SH, dt(NOW));
    let p = parse_time("今天", &ctx).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resolve_published(&p, ctx.now, SH), ctx.now);
}

#[test]
fn each_regex_recognises_its_example() {
    let cases: [(&LazyLock<Regex>, &str); 15] = [
        (&YMD, "2022-03-13 09:27"),
        (&DMY_DOT, "13.11.2020, 18:00 Uhr"),
        (&DMY_EN, "Sun, 13 Mar 2022 09:27:00 GMT"),
        (&MDY_EN, "Mar 13, 2022 09:27"),
        (&ASCTIME, "Mon Jan 11 12:48:13 EST 2010"),
        (&MD_CJK, "3月13日 09:27"),
        (&MD_NUM, "03-13 09:27"),
        (&MD_EN, "Mar 13"),
        (&DM_EN, "13 March"),
        (&JUST_NOW, "刚刚"),
        (&AGO_CJK, "3小时前"),
        (&AGO_EN, "5 minutes ago"),
        (&AGO_DE, "vor 5 Minuten"),
        (&DAY_WORD, "昨天 23:50"),
        (&BARE_TIME, "12:05PM"),
    ];
    for (regex, example) in cases {
        assert!(regex.is_match(example), "{} / {example}", regex.as_str());
        assert!(!regex.is_match("headline"), "{}", regex.as_str());
    }
}

#[test]
fn normalize_full_width_and_space() {
    assert_eq!(
        normalize("\u{200B} ２０２２－０３－１３　１２：３０ "),
        "2022-03-13 12:30"
    );
    assert_eq!(normalize("a&nbsp;&nbsp;b\t\nc"), "a b c");
}

#[test]
fn zone_prefix_and_folded_letters_stay_on_char_boundaries() {
    assert_eq!(numeric_offset("utc+8"), Some(8 * 3600));
    assert_eq!(numeric_offset("GMT-05:30"), Some(-(5 * 3600 + 30 * 60)));
    // One ASCII letter, then a multi-byte character: slicing two bytes would split it, and a
    // folded `ſ` must not read as the `s` of `pst`.
    for tz in ["pſt", "uſ", "gſt", "u\u{212A}", "ut", "g", ""] {
        assert_eq!(numeric_offset(tz), None, "{tz:?}");
    }
    for tz in ["pſt", "uſ", "gſt", "u\u{212A}", "g", ""] {
        assert_eq!(tz_offset(tz, SH, NaiveDateTime::MIN), None, "{tz:?}");
    }
    assert_eq!(normalize("Pſt \u{212A}"), "Pst K");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]

    /// Any short zone text, ASCII or not, is read without panicking, and whatever offset comes
    /// back is a real one: under a day, and never from a non-ASCII name without digits (zone
    /// names are ASCII; `ſ` or `K` inside must never pass for `s` or `K`).
    #[test]
    fn zone_texts_give_real_offsets_or_none(tz in "(gmt|utc|ut|[ecmpz]|[sd]t|ſ|\u{212A}|[+-]|[0-9]|:|é){0,6}") {
        let at = NaiveDateTime::MIN;
        for offset in [numeric_offset(&tz), tz_offset(&tz, SH, at)].into_iter().flatten() {
            proptest::prop_assert!(offset.abs() < 86_400, "{tz:?} gave {offset}");
            proptest::prop_assert!(
                tz.is_ascii() || tz.contains(|c: char| c.is_ascii_digit()),
                "{tz:?} gave {offset}"
            );
        }
    }
}

#[test]
fn results_are_within_believable_years() {
    // The first believable instant parses; one second before it is too old.
    let ctx = TimeContext::new(SH, dt(NOW));
    assert_eq!(
        parse_time("1990-01-01T00:00:00Z", &ctx).map(|p| p.utc),
        Ok(EARLIEST_BELIEVABLE)
    );
    assert!(matches!(
        parse_time("1989-12-31T23:59:59Z", &ctx),
        Err(TimeError::TooOld { .. })
    ));
    // With an absurd clock, printable years still bound the result.
    let ctx = TimeContext::new(SH, DateTime::<Utc>::MAX_UTC).with_format("%Y|%m|%d");
    assert!(matches!(
        parse_time("+20000|01|01", &ctx),
        Err(TimeError::InFuture { .. })
    ));
    assert!(parse_time("9999|01|01", &ctx).is_ok());
    let ctx = TimeContext::new(SH, DateTime::<Utc>::MIN_UTC);
    assert!(matches!(
        parse_time("2022-03-13", &ctx),
        Err(TimeError::InFuture { .. })
    ));
    let ctx = TimeContext::new(SH, dt(NOW));
    assert_eq!(
        parse_time(" 1970-01-01 ", &ctx),
        Err(TimeError::TooOld {
            text: "1970-01-01".into(),
            utc: dt("1969-12-31T16:00:00Z"),
        })
    );
}

#[test]
fn samoa_skipped_day_does_not_panic() {
    // Pacific/Apia skipped 2011-12-30 entirely.
    let ctx = TimeContext::new(chrono_tz::Pacific::Apia, dt("2012-01-05T00:00:00Z"));
    let p = parse_time("2011-12-30 12:00", &ctx);
    assert!(p.is_ok(), "{p:?}");
}
