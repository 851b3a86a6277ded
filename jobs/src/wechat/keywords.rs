//! Values of subscribe-message keywords, fitted to the rule of each keyword type (WECHAT.md).
//! One value that breaks its rule makes WeChat refuse the whole message (47003), so values are
//! cleaned and cut here, and a value that cannot be made valid is refused before sending.
//!
//! Lengths are counted in `char`s but cut only between grapheme clusters: a cut never splits
//! a character from its accents, and text with combining marks stays within WeChat's count.
use std::str::FromStr;

use chrono::NaiveDate;
use unicode_segmentation::UnicodeSegmentation;

const THING_MAX: usize = 20;
const PHRASE_MAX: usize = 5;
const NAME_MAX_CHINESE: usize = 10;
const NAME_MAX_LETTERS: usize = 20;
const NUMBER_MAX: usize = 32;
const CHARACTER_STRING_MAX: usize = 32;
const AMOUNT_MAX_DIGITS: usize = 10;

const ELLIPSIS: &str = "…";
/// `character_string` allows only ASCII digits, letters and symbols.
const ASCII_ELLIPSIS: &str = "...";

/// The type of a keyword, named by the prefix of its name in the template (`thing1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeywordType {
    Thing,
    Phrase,
    Name,
    Number,
    CharacterString,
    Time,
    Date,
    Amount,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported subscribe-message keyword {0:?}")]
pub struct UnknownKeywordType(pub String);

impl FromStr for KeywordType {
    type Err = UnknownKeywordType;

    /// Takes a keyword name as the template shows it (`character_string2`): WeChat numbers
    /// the keywords of a template after their type.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let kind = match name.trim_end_matches(|c: char| c.is_ascii_digit()) {
            "thing" => Self::Thing,
            "phrase" => Self::Phrase,
            "name" => Self::Name,
            "number" => Self::Number,
            "character_string" => Self::CharacterString,
            "time" => Self::Time,
            "date" => Self::Date,
            "amount" => Self::Amount,
            _ => return Err(UnknownKeywordType(name.to_owned())),
        };
        Ok(kind)
    }
}

/// `raw` cleaned and fitted to the rule of `kind`, or `None` if no valid value can be made
/// from it. Text is cut with an ellipsis inside the limit; values whose meaning a cut would
/// change (numbers, amounts, times, dates) are refused instead.
pub fn format_value(kind: KeywordType, raw: &str) -> Option<String> {
    let text = clean(raw);
    if text.is_empty() {
        return None;
    }
    match kind {
        KeywordType::Thing => Some(truncate(&text, THING_MAX, ELLIPSIS)),
        KeywordType::Phrase => phrase(&text),
        KeywordType::Name => Some(name(&text)),
        KeywordType::Number => number(&half_width(&text)),
        KeywordType::CharacterString => character_string(&half_width(&text)),
        KeywordType::Time => time_or_date(&half_width(&text), Point::has_time),
        KeywordType::Date => time_or_date(&half_width(&text), Point::has_date),
        KeywordType::Amount => amount(&half_width(&text)),
    }
}

/// Drops emoji and invisible characters, turns line breaks and other white space into single
/// spaces, and trims.
fn clean(raw: &str) -> String {
    let visible: String = raw
        .graphemes(true)
        .filter(|grapheme| !is_emoji(grapheme))
        .flat_map(str::chars)
        .filter(|&c| c.is_whitespace() || !is_invisible(c))
        .collect();
    visible.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_emoji(grapheme: &str) -> bool {
    let Some(first) = grapheme.chars().next() else {
        return false;
    };
    grapheme.chars().any(|c| is_pictographic(c) || c == '\u{20E3}')
        // A presentation selector turns symbols such as ↔ or © into emoji; after a letter
        // it means nothing and is dropped as invisible instead.
        || (grapheme.contains('\u{FE0F}') && !first.is_alphanumeric())
}

/// Characters shown as emoji by default (and a few neighbours, since WeChat's own test is not
/// documented): refusing one too many symbol beats a 47003.
fn is_pictographic(c: char) -> bool {
    matches!(
        u32::from(c),
        0x1F000..=0x1FAFF
            | 0x2600..=0x27BF
            | 0x231A..=0x231B
            | 0x2328
            | 0x23CF
            | 0x23E9..=0x23F3
            | 0x23F8..=0x23FA
            | 0x24C2
            | 0x25AA..=0x25AB
            | 0x25FB..=0x25FE
            | 0x2934..=0x2935
            | 0x2B05..=0x2B07
            | 0x2B1B..=0x2B1C
            | 0x2B50
            | 0x2B55
            | 0x3030
            | 0x303D
            | 0x3297
            | 0x3299
    )
}

/// Control and format characters: nothing to see, but enough for WeChat to refuse the value.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            u32::from(c),
            0x00AD
                | 0x200B..=0x200F
                | 0x202A..=0x202E
                | 0x2060..=0x206F
                | 0xFE00..=0xFE0F
                | 0xFEFF
                | 0xFFF9..=0xFFFB
                | 0xE0000..=0xE007F
        )
}

fn is_han(c: char) -> bool {
    matches!(
        u32::from(c),
        0x3007 | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x323AF
    )
}

/// Letters of the Latin alphabets, ASCII digits and symbols: what `name` counts as letters.
fn is_latin(c: char) -> bool {
    c.is_ascii() || (c.is_alphabetic() && u32::from(c) < 0x0250)
}

/// Full-width digits, letters and symbols (common in Chinese input) as their ASCII forms, so
/// `１２：００` counts as a time.
fn half_width(text: &str) -> String {
    text.chars()
        .map(|c| match u32::from(c) {
            0xFF01..=0xFF5E => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            0xFFE5 => '¥',
            _ => c,
        })
        .collect()
}

/// At most `max` chars; a longer text is cut between graphemes and ends in `ellipsis`.
fn truncate(text: &str, max: usize, ellipsis: &str) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let budget = max.saturating_sub(ellipsis.chars().count());
    let mut kept = String::new();
    let mut used = 0;
    for grapheme in text.graphemes(true) {
        used += grapheme.chars().count();
        if used > budget {
            break;
        }
        kept.push_str(grapheme);
    }
    format!("{}{ellipsis}", kept.trim_end())
}

/// Chinese characters only; no ellipsis, which is not one.
fn phrase(text: &str) -> Option<String> {
    let han: String = text.chars().filter(|&c| is_han(c)).collect();
    (!han.is_empty()).then(|| truncate(&han, PHRASE_MAX, ""))
}

/// Any character outside the Latin alphabets makes the name count as Chinese.
fn name(text: &str) -> String {
    let max = if text.chars().all(is_latin) {
        NAME_MAX_LETTERS
    } else {
        NAME_MAX_CHINESE
    };
    truncate(text, max, ELLIPSIS)
}

/// Digits with at most one decimal point; thousands separators and spaces are dropped. Too
/// long is refused: a cut number is a different number.
fn number(text: &str) -> Option<String> {
    let compact: String = text.chars().filter(|&c| c != ',' && c != ' ').collect();
    let (int, frac) = match compact.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (compact.as_str(), None),
    };
    let valid = is_digits(int) && frac.is_none_or(is_digits) && compact.len() <= NUMBER_MAX;
    valid.then_some(compact)
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn character_string(text: &str) -> Option<String> {
    let ascii: String = text.chars().filter(char::is_ascii_graphic).collect();
    (!ascii.is_empty()).then(|| truncate(&ascii, CHARACTER_STRING_MAX, ASCII_ELLIPSIS))
}

/// One time or date, or a range of two joined by `~`; every point must satisfy `required`.
fn time_or_date(text: &str, required: fn(&Point) -> bool) -> Option<String> {
    let points: Vec<&str> = text.split('~').map(str::trim).collect();
    if points.len() > 2 {
        return None;
    }
    for point in &points {
        if !required(&Point::parse(point)?) {
            return None;
        }
    }
    Some(points.join("~"))
}

/// A point in time as WeChat writes it: `15:01`, `2026年11月8日`, `2026-11-08`, or a date and
/// a time separated by a space.
struct Point {
    date: bool,
    time: bool,
}

impl Point {
    fn parse(text: &str) -> Option<Self> {
        let (date, time) = match text.split_once(' ') {
            Some((date, time)) => (is_date(date), is_time(time)),
            None if is_time(text) => (false, true),
            None => (is_date(text), false),
        };
        let both_or_one = if text.contains(' ') {
            date && time
        } else {
            date || time
        };
        both_or_one.then_some(Self { date, time })
    }

    fn has_time(&self) -> bool {
        self.time
    }

    fn has_date(&self) -> bool {
        self.date
    }
}

/// `H:MM` or `HH:MM`, 24-hour.
fn is_time(text: &str) -> bool {
    let Some((hour, minute)) = text.split_once(':') else {
        return false;
    };
    matches!(hour.len(), 1 | 2)
        && minute.len() == 2
        && in_range(hour, 0..=23)
        && in_range(minute, 0..=59)
}

fn is_date(text: &str) -> bool {
    is_iso_date(text) || is_chinese_date(text)
}

/// `2026-11-08`.
fn is_iso_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let [year, month, day] = parts[..] else {
        return false;
    };
    year.len() == 4 && month.len() == 2 && day.len() == 2 && is_real_date(year, month, day)
}

/// `2026年11月8日`.
fn is_chinese_date(text: &str) -> bool {
    let Some((year, rest)) = text.split_once('年') else {
        return false;
    };
    let Some((month, day)) = rest.strip_suffix('日').and_then(|md| md.split_once('月')) else {
        return false;
    };
    year.len() == 4
        && matches!(month.len(), 1 | 2)
        && matches!(day.len(), 1 | 2)
        && is_real_date(year, month, day)
}

fn is_real_date(year: &str, month: &str, day: &str) -> bool {
    let (Some(year), Some(month), Some(day)) = (parse_u32(year), parse_u32(month), parse_u32(day))
    else {
        return false;
    };
    i32::try_from(year)
        .ok()
        .and_then(|year| NaiveDate::from_ymd_opt(year, month, day))
        .is_some()
}

fn in_range(digits: &str, range: std::ops::RangeInclusive<u32>) -> bool {
    parse_u32(digits).is_some_and(|n| range.contains(&n))
}

/// Only plain ASCII digits: `str::parse` would also take a sign.
fn parse_u32(digits: &str) -> Option<u32> {
    is_digits(digits).then(|| digits.parse().ok()).flatten()
}

/// Fen as an integer (`1200`), or yuan after a currency sign (`¥12`, `¥12.5`, `¥1,200.00`),
/// as `¥12.00`. A bare decimal is refused: yuan or fen cannot be told apart.
fn amount(text: &str) -> Option<String> {
    let fen = match text.strip_prefix('¥') {
        Some(yuan) => parse_yuan(yuan.trim())?,
        None => parse_fen(text)?,
    };
    let formatted = format!("¥{}.{:02}", fen / 100, fen % 100);
    let digits = formatted.chars().filter(char::is_ascii_digit).count();
    (digits <= AMOUNT_MAX_DIGITS).then_some(formatted)
}

fn parse_fen(text: &str) -> Option<u64> {
    is_digits(text).then(|| text.parse().ok()).flatten()
}

fn parse_yuan(text: &str) -> Option<u64> {
    let compact: String = text.chars().filter(|&c| c != ',').collect();
    let (yuan, cents) = match compact.split_once('.') {
        Some((yuan, cents)) if is_digits(cents) && cents.len() <= 2 => (yuan, cents),
        Some(_) => return None,
        None => (compact.as_str(), "0"),
    };
    let cents: u64 = format!("{cents:0<2}").parse().ok()?;
    parse_fen(yuan)?.checked_mul(100)?.checked_add(cents)
}

#[cfg(test)]
mod tests {
    use super::KeywordType::*;
    use super::*;

    fn check(kind: KeywordType, cases: &[(&str, Option<&str>)]) {
        for &(raw, expected) in cases {
            assert_eq!(
                format_value(kind, raw).as_deref(),
                expected,
                "{kind:?} {raw:?}"
            );
        }
    }

    fn han(n: usize) -> String {
        "汉".repeat(n)
    }

    fn letters(n: usize) -> String {
        "a".repeat(n)
    }

    #[test]
    fn keyword_names_give_their_type() {
        let cases = [
            ("thing1", Ok(Thing)),
            ("thing", Ok(Thing)),
            ("thing12", Ok(Thing)),
            ("phrase6", Ok(Phrase)),
            ("name7", Ok(Name)),
            ("number8", Ok(Number)),
            ("character_string2", Ok(CharacterString)),
            ("time3", Ok(Time)),
            ("date4", Ok(Date)),
            ("amount5", Ok(Amount)),
            ("letter1", Err(UnknownKeywordType("letter1".into()))),
            ("1thing", Err(UnknownKeywordType("1thing".into()))),
            ("Thing1", Err(UnknownKeywordType("Thing1".into()))),
            ("", Err(UnknownKeywordType(String::new()))),
        ];
        for (name, expected) in cases {
            assert_eq!(name.parse::<KeywordType>(), expected, "{name:?}");
        }
    }

    #[test]
    fn every_type_refuses_empty_and_invisible_values() {
        let kinds = [
            Thing,
            Phrase,
            Name,
            Number,
            CharacterString,
            Time,
            Date,
            Amount,
        ];
        for kind in kinds {
            check(
                kind,
                &[
                    ("", None),
                    ("   ", None),
                    ("\r\n\t", None),
                    ("\u{200B}\u{7}", None),
                    ("🎉👍", None),
                ],
            );
        }
    }

    #[test]
    fn thing() {
        let at_limit = han(THING_MAX);
        let past_limit = han(THING_MAX + 1);
        let cut = format!("{}…", han(THING_MAX - 1));
        let ascii_past = letters(THING_MAX + 5);
        let ascii_cut = format!("{}…", letters(THING_MAX - 1));
        // A naive cut would keep the "e" and lose its accent.
        let accent_on_edge = format!("{}e\u{301}bc", letters(18));
        let accent_cut = format!("{}…", letters(18));
        let space_on_edge = format!("{} bcdef", letters(18));
        check(
            Thing,
            &[
                ("心愿已认领", Some("心愿已认领")),
                (&at_limit, Some(&at_limit)),
                (&past_limit, Some(&cut)),
                (&letters(THING_MAX), Some(&letters(THING_MAX))),
                (&ascii_past, Some(&ascii_cut)),
                (&accent_on_edge, Some(&accent_cut)),
                (&space_on_edge, Some(&accent_cut)),
                ("第一行\n第二行", Some("第一行 第二行")),
                ("a\r\nb", Some("a b")),
                ("  a \n\n b  ", Some("a b")),
                ("ab\u{7}c\u{200B}d", Some("abcd")),
                ("活动🎉开始", Some("活动开始")),
                ("Party 🎉 time", Some("Party time")),
                ("👨‍👩‍👧 家庭", Some("家庭")),
                ("🇨🇳中国", Some("中国")),
                ("1️⃣号楼", Some("号楼")),
                ("❤️爱心", Some("爱心")),
                ("好\u{FE0F}的", Some("好的")),
                ("café", Some("café")),
            ],
        );
        // Emoji are dropped before counting, so they cost no room.
        let with_emoji = format!("{}😀", han(THING_MAX));
        check(Thing, &[(&with_emoji, Some(&at_limit))]);
    }

    #[test]
    fn phrase() {
        check(
            Phrase,
            &[
                ("已完成", Some("已完成")),
                ("审核未通过", Some("审核未通过")),
                ("审核未通过了", Some("审核未通过")),
                ("已 完成!", Some("已完成")),
                ("完成✅", Some("完成")),
                ("第1名", Some("第名")),
                ("OK", None),
                ("123", None),
                ("…", None),
            ],
        );
    }

    #[test]
    fn name() {
        let han_cut = format!("{}…", han(NAME_MAX_CHINESE - 1));
        let letters_cut = format!("{}…", letters(NAME_MAX_LETTERS - 1));
        let mixed = format!("张{}", letters(NAME_MAX_CHINESE));
        let mixed_cut = format!("张{}…", letters(NAME_MAX_CHINESE - 2));
        check(
            Name,
            &[
                ("张三", Some("张三")),
                (&han(NAME_MAX_CHINESE), Some(&han(NAME_MAX_CHINESE))),
                (&han(NAME_MAX_CHINESE + 1), Some(&han_cut)),
                ("John Smith", Some("John Smith")),
                (&letters(NAME_MAX_LETTERS), Some(&letters(NAME_MAX_LETTERS))),
                (&letters(NAME_MAX_LETTERS + 1), Some(&letters_cut)),
                ("José Núñez", Some("José Núñez")),
                ("张John", Some("张John")),
                (&mixed, Some(&mixed_cut)),
                ("李\n四", Some("李 四")),
                ("王五😀", Some("王五")),
            ],
        );
    }

    #[test]
    fn number() {
        let at_limit = "9".repeat(NUMBER_MAX);
        let decimal_at_limit = format!("{}.5", "9".repeat(NUMBER_MAX - 2));
        check(
            Number,
            &[
                ("12", Some("12")),
                ("0", Some("0")),
                ("12.50", Some("12.50")),
                ("1,234", Some("1234")),
                (" 1 234 ", Some("1234")),
                ("１２", Some("12")),
                (&at_limit, Some(&at_limit)),
                (&"9".repeat(NUMBER_MAX + 1), None),
                (&decimal_at_limit, Some(&decimal_at_limit)),
                (&format!("{}.5", "9".repeat(NUMBER_MAX - 1)), None),
                ("abc", None),
                ("12a", None),
                ("1.2.3", None),
                ("12.", None),
                (".5", None),
                ("-5", None),
                ("+5", None),
                ("1\n2", Some("12")),
            ],
        );
    }

    #[test]
    fn character_string() {
        let at_limit = "A1".repeat(CHARACTER_STRING_MAX / 2);
        let past_limit = format!("{at_limit}Z");
        let cut = format!("{}...", &at_limit[..CHARACTER_STRING_MAX - 3]);
        check(
            CharacterString,
            &[
                ("LL-2026-0001", Some("LL-2026-0001")),
                ("#A1_b2!", Some("#A1_b2!")),
                (&at_limit, Some(&at_limit)),
                (&past_limit, Some(&cut)),
                ("订单 LL 01", Some("LL01")),
                ("ＡＢ１", Some("AB1")),
                ("中文", None),
                ("LL\n01", Some("LL01")),
                ("LL🎉01", Some("LL01")),
            ],
        );
    }

    #[test]
    fn time() {
        check(
            Time,
            &[
                ("15:01", Some("15:01")),
                ("9:05", Some("9:05")),
                ("0:00", Some("0:00")),
                ("23:59", Some("23:59")),
                ("24:00", None),
                ("15:60", None),
                ("15:1", None),
                ("150:01", None),
                ("15:01:30", None),
                ("15：01", Some("15:01")),
                ("2026年11月8日 15:01", Some("2026年11月8日 15:01")),
                ("2026-11-08 15:01", Some("2026-11-08 15:01")),
                ("2026年11月8日\n15:01", Some("2026年11月8日 15:01")),
                ("15:01~16:30", Some("15:01~16:30")),
                ("15:01 ~ 16:30", Some("15:01~16:30")),
                ("15:01～16:30", Some("15:01~16:30")),
                (
                    "2026年11月8日 15:01~2026年11月9日 09:00",
                    Some("2026年11月8日 15:01~2026年11月9日 09:00"),
                ),
                ("15:01~16:30~17:00", None),
                ("15:01~", None),
                ("2026-11-08", None),
                ("2026年11月8日", None),
                ("15:01 2026-11-08", None),
                ("2026年2月30日 15:01", None),
                ("明天 15:01", None),
                ("明天", None),
                ("15:01🎉", Some("15:01")),
            ],
        );
    }

    #[test]
    fn date() {
        check(
            Date,
            &[
                ("2026-11-08", Some("2026-11-08")),
                ("2026年11月8日", Some("2026年11月8日")),
                ("2026年1月08日", Some("2026年1月08日")),
                ("2026年11月8日 15:01", Some("2026年11月8日 15:01")),
                ("2026-11-08 15:01", Some("2026-11-08 15:01")),
                ("2026-11-08~2026-11-10", Some("2026-11-08~2026-11-10")),
                ("2028-02-29", Some("2028-02-29")),
                ("2026-02-29", None),
                ("2026-13-01", None),
                ("2026-11-8", None),
                ("26-11-08", None),
                ("2026年11月", None),
                ("11月8日", None),
                ("15:01", None),
                ("2026-11-08 25:00", None),
                ("２０２６-１１-０８", Some("2026-11-08")),
            ],
        );
    }

    #[test]
    fn amount() {
        check(
            Amount,
            &[
                ("1200", Some("¥12.00")),
                ("5", Some("¥0.05")),
                ("0", Some("¥0.00")),
                ("¥12.00", Some("¥12.00")),
                ("¥12", Some("¥12.00")),
                ("¥12.5", Some("¥12.50")),
                ("¥ 12.5", Some("¥12.50")),
                ("￥12.50", Some("¥12.50")),
                ("¥1,200.00", Some("¥1200.00")),
                ("9999999999", Some("¥99999999.99")),
                ("10000000000", None),
                ("¥99999999.99", Some("¥99999999.99")),
                ("¥100000000", None),
                ("99999999999999999999999", None),
                ("12.00", None),
                ("¥12.345", None),
                ("¥12.", None),
                ("¥", None),
                ("¥-1", None),
                ("-100", None),
                ("abc", None),
                ("$12", None),
                ("12\n00", None),
            ],
        );
    }
}
