//! ISO-8601 timestamps as Step Functions reads and writes them: parsing for Choice and Wait
//! (RFC 3339, upper-case `T`, an offset), formatting for the context object.

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since the Unix epoch, or `None` if `text` is not an RFC 3339 date-time.
pub fn parse(text: &str) -> Option<i64> {
    // chrono also accepts a space or a lower-case `t` as the separator, and a lower-case
    // `z`; AWS does not ("Wait workflow state": "an uppercase T must separate the date and
    // time portions, and an uppercase Z must denote that a numeric time zone offset is not
    // present").
    if text.as_bytes().get(10) != Some(&b'T') || text.ends_with('z') {
        return None;
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Renders epoch milliseconds as `2024-01-02T03:04:05.678Z`.
pub fn format(epoch_ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(epoch_ms)
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_strictly() {
        assert_eq!(parse("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse("1970-01-01T00:00:00.5Z"), Some(500));
        assert_eq!(parse("1970-01-01 00:00:00Z"), None);
        assert_eq!(parse("1970-01-01t00:00:00Z"), None);
        assert_eq!(parse("1970-01-01T00:00:00z"), None);
        assert_eq!(parse("2016-13-05T21:29:29Z"), None);
        assert_eq!(parse("2016-12-05T25:29:29Z"), None);
        assert_eq!(parse("05-12-2016T21:29:29Z"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn formats_with_millis() {
        assert_eq!(format(1_500), "1970-01-01T00:00:01.500Z");
    }
}
