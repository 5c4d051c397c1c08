//! The regular expressions the recognisers match, built once from shared pieces (a clock
//! time, a weekday, an English month, the connectors between date and time).

use regex::Regex;
use std::sync::LazyLock;

/// Clock time with optional seconds, fraction, Chinese day-part prefix,
/// AM/PM suffix and zone.  Named groups: cnap H M S f S2 ap tz.
pub(super) const TIME: &str = r"(?:(?P<cnap>上午|下午|晚上|凌晨|早上|中午|傍晚|午前|午後)\s*)?(?P<H>\d{1,2})\s*[:时時点點]\s*(?P<M>\d{1,2})(?::(?P<S>\d{1,2})(?:[.,](?P<f>\d+))?|\s*分(?:\s*(?P<S2>\d{1,2})\s*秒)?)?(?:\s*(?P<ap>[ap]\.?\s?m\b\.?))?(?:\s*(?P<tz>z\b|(?:gmt|utc|ut)?\s?[+-]\d{2}:?\d{2}\b|(?:gmt|utc|ut)[+-]\d{1,2}\b|(?:gmt|utc|ut|[ecmp][sd]t)\b))?";

/// Optional weekday after a date: `星期日`, `周一`, `(木)`, `(周三)`.
pub(super) const WEEKDAY: &str = r"(?:\s*(?:\((?:星期|周|週)?[一二三四五六日天月火水木金土]\)|(?:星期|周|週|礼拜|禮拜)[一二三四五六日天]))?";

/// English month name or abbreviation.  Named group: mon.
pub(super) const MONTH: &str = r"\b(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?";

/// Separator between an English date and its time: `, ` ` at ` ` • ` ` - `.
pub(super) const CONNECT: &str = r"(?:\s*[,•·@|-]?\s*(?:at\s+)?)";

/// Compile a constant pattern: `{T}`, `{W}`, `{MON}`, `{C}` are expanded,
/// `\d` means ASCII digits only, matching is case-insensitive.
pub(super) fn re(pattern: &str) -> Regex {
    let full = format!(
        "(?i){}",
        pattern
            .replace("{T}", TIME)
            .replace("{W}", WEEKDAY)
            .replace("{MON}", MONTH)
            .replace("{C}", CONNECT)
            .replace(r"\d", "[0-9]")
    );
    Regex::new(&full).expect("time.rs: constant regex must compile")
}

/// `2022-03-13T09:27:00+08:00`, `2022/3/13 9:05`, `2022年3月13日 9时27分`, `2022.03.13`,
/// and `2020_07_18` as portals put it in article URLs.
pub(super) static YMD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:^|[^0-9])(?P<y>\d{4})\s*(?:[-/._]|年)\s*(?P<m>\d{1,2})\s*(?:[-/._]|月)\s*(?P<d>\d{1,2})(?:\s*日)?{W}(?:(?:\s*t\s*|[\s,]*){T})?(?:[^0-9]|$)",
    )
});
/// German `13.11.2020, 18:00 Uhr`.
pub(super) static DMY_DOT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:^|[^0-9.])(?P<d>\d{1,2})\.\s?(?P<m>\d{1,2})\.\s?(?P<y>\d{4})(?:[\s,]*(?:um\s*)?{T}(?:\s*uhr)?)?(?:[^0-9]|$)",
    )
});
/// RFC 2822 and friends: `Sun, 13 Mar 2022 09:27:00 +0800`, `13 March 2022`.
pub(super) static DMY_EN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:^|[^0-9])(?P<d>\d{1,2})(?:st|nd|rd|th)?[\s-]*{MON},?[\s-]*(?P<y>\d{4}|\d{2})(?:{C}{T})?(?:[^0-9:]|$)",
    )
});
/// `Mar 13, 2022 09:27`, `September 3, 2019 at 6:09 AM`, `May 3, 2024 • 8:00 AM EDT`.
pub(super) static MDY_EN: LazyLock<Regex> = LazyLock::new(|| {
    re(r"{MON}\s*(?P<d>\d{1,2})(?:st|nd|rd|th)?\s*,?\s*(?P<y>\d{4})(?:{C}{T})?(?:[^0-9]|$)")
});
/// asctime / Unix `date` / Java `Date.toString()`: `Mon Jan 11 12:48:13 EST 2010`.
pub(super) static ASCTIME: LazyLock<Regex> =
    LazyLock::new(|| re(r"{MON}\s+(?P<d>\d{1,2})\s+{T}\s+(?P<y>\d{4})(?:[^0-9]|$)"));
/// Year-less CJK: `3月13日 09:27`, `10月23日17:26`, `3月13号`.
pub(super) static MD_CJK: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?:^|[^0-9])(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号號]?{W}(?:[\s,]*{T})?(?:[^0-9]|$)")
});
/// Year-less numeric: `03-13 09:27`, `07/14`, `[03-13]`, `7/18(月)23:59`.
/// Without a clock time the date must not run into a letter, so headline
/// fragments such as `2-1法国`, `8-10岁`, `10-15万` are not taken for dates.
pub(super) static MD_NUM: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:^|[^0-9])(?P<m>\d{1,2})\s*[-/]\s*(?P<d>\d{1,2}){W}(?:[\s,]*{T}(?:[^0-9]|$)|(?:[^0-9\p{L}]|$))",
    )
});
/// Year-less English: `Mar 13`, `Mar 13, 09:27`.
pub(super) static MD_EN: LazyLock<Regex> =
    LazyLock::new(|| re(r"{MON}\s*(?P<d>\d{1,2})(?:st|nd|rd|th)?(?:{C}{T})?(?:[^0-9]|$)"));
/// Year-less English: `13 Mar`, `13 March 09:27`.
pub(super) static DM_EN: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?:^|[^0-9])(?P<d>\d{1,2})(?:st|nd|rd|th)?\s*{MON}(?:{C}{T})?"));
/// `刚刚`, `just now`.
pub(super) static JUST_NOW: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"刚刚|剛剛|刚才|剛才|たった今|\bjust now\b|\bmoments? ago\b|\ba moment ago\b|\bgerade eben\b",
    )
});
/// `3小时前`, `半小时前`, `5分前` (Japanese), `1周前`.
pub(super) static AGO_CJK: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?P<n>\d+|[半一二两兩三四五六七八九十])\s*(?P<u>秒钟|秒鐘|秒|分钟|分鐘|分|个小时|個小時|個鐘|小时|小時|時間|天|日|个星期|個星期|星期|周|週|个月|個月|ヶ月|か月|カ月|年)\s*(?:之|以)?前",
    )
});
/// `5 minutes ago`, `an hour ago`, `2h ago`.
pub(super) static AGO_EN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:^|[^0-9a-z])(?P<n>\d+|an?|one)\s*(?P<u>seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|wks?|w|months?|mos?|years?|yrs?|y)\s+ago\b",
    )
});
/// German `vor 5 Minuten`.
pub(super) static AGO_DE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\bvor\s+(?P<n>\d+|einer|einem|einen|eine)\s+(?P<u>sekunden?|minuten?|stunden?|tagen?|tag|wochen?|monaten?|monat|jahren?|jahr)\b",
    )
});
/// `今天 09:27`, `昨天`, `yesterday at 3:04 PM`, `heute, 18:00 Uhr`.
pub(super) static DAY_WORD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?P<w>前天|昨天|今天|一昨日|昨日|今日|\byesterday\b|\btoday\b|\bvorgestern\b|\bgestern\b|\bheute\b)(?:[\s,]*(?:at\s+|um\s+)?{T}(?:\s*uhr)?)?",
    )
});
/// A clock time with nothing else numeric around it: `18:00`, `12:05PM`, `下午 3:27`.
pub(super) static BARE_TIME: LazyLock<Regex> =
    LazyLock::new(|| re(r"^[^0-9]*?{T}(?:\s*uhr)?[^0-9]*$"));
