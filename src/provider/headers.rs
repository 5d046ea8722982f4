//! Rate-limit header parsing: OpenAI-style `x-ratelimit-*` (resets as Go durations such as
//! `6m0s`, `1.5s`, `20ms`), `anthropic-ratelimit-*` (resets as RFC 3339 instants),
//! `retry-after-ms` and `retry-after` (seconds or HTTP date).
//!
//! Every duration a server names is clamped to the backend's `max_pause`; a value that is not
//! a finite, non-negative number or a date is ignored. Nothing here can panic or overflow.

use std::time::Duration;

use reqwest::header::HeaderMap;

/// What one response said about the backend's remaining budget. Durations are relative to the
/// response's arrival and never longer than the backend's `max_pause`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RateInfo {
    /// Requests left in the current window.
    pub(crate) remaining_requests: Option<u64>,
    /// Until the request window resets.
    pub(crate) reset_requests: Option<Duration>,
    /// Tokens left in the current window.
    pub(crate) remaining_tokens: Option<u64>,
    /// Until the token window resets.
    pub(crate) reset_tokens: Option<Duration>,
    /// Pause demanded by `retry-after-ms` / `retry-after`.
    pub(crate) retry_after: Option<Duration>,
}

/// Seconds as a duration no longer than `max`; `None` unless finite and non-negative.
fn clamped_secs(secs: f64, max: Duration) -> Option<Duration> {
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    // `min` first: `try_from_secs_f64` of the clamped value cannot fail.
    Duration::try_from_secs_f64(secs.min(max.as_secs_f64())).ok()
}

/// Parses a Go-style duration (`6m0s`, `1h2m3.5s`, `250ms`, `1.5s`, `0s`) or bare seconds,
/// clamped to `max`.
pub(crate) fn parse_duration(s: &str, max: Duration) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(secs) = s.parse::<f64>() {
        return clamped_secs(secs, max);
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_end == 0 {
            return None;
        }
        let value: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        // Infinite sums stay infinite and are clamped below.
        total += value * factor;
        rest = &rest[unit_end..];
    }
    clamped_secs(total, max)
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// Time from now until an instant given as an RFC 3339 (`rfc3339 = true`) or HTTP date,
/// clamped to `max`; zero for an instant in the past.
fn until_date(s: &str, rfc3339: bool, max: Duration) -> Option<Duration> {
    let at = if rfc3339 {
        chrono::DateTime::parse_from_rfc3339(s).ok()?
    } else {
        chrono::DateTime::parse_from_rfc2822(s).ok()?
    };
    // Both instants lie within chrono's ±262 000 years, so the difference cannot overflow.
    let delta = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO).min(max))
}

/// Parses `retry-after-ms`, then `retry-after` (delta seconds or an HTTP date), clamped to
/// `max`.
pub(crate) fn retry_after(h: &HeaderMap, max: Duration) -> Option<Duration> {
    if let Some(d) = header(h, "retry-after-ms")
        .and_then(|v| v.parse::<f64>().ok())
        .and_then(|ms| clamped_secs(ms / 1000.0, max))
    {
        return Some(d);
    }
    let v = header(h, "retry-after")?;
    match v.parse::<f64>() {
        Ok(secs) => clamped_secs(secs, max),
        Err(_) => until_date(v, false, max),
    }
}

/// Reads every rate-limit header this module knows from a response.
pub(crate) fn parse_rate_info(h: &HeaderMap, max: Duration) -> RateInfo {
    let num = |name: &str| header(h, name).and_then(|v| v.parse::<u64>().ok());
    let dur = |name: &str| header(h, name).and_then(|v| parse_duration(v, max));
    let at = |name: &str| header(h, name).and_then(|v| until_date(v, true, max));
    RateInfo {
        remaining_requests: num("x-ratelimit-remaining-requests")
            .or_else(|| num("anthropic-ratelimit-requests-remaining")),
        reset_requests: dur("x-ratelimit-reset-requests")
            .or_else(|| at("anthropic-ratelimit-requests-reset")),
        remaining_tokens: num("x-ratelimit-remaining-tokens")
            .or_else(|| num("anthropic-ratelimit-tokens-remaining"))
            .or_else(|| num("anthropic-ratelimit-input-tokens-remaining")),
        reset_tokens: dur("x-ratelimit-reset-tokens")
            .or_else(|| at("anthropic-ratelimit-tokens-reset"))
            .or_else(|| at("anthropic-ratelimit-input-tokens-reset")),
        retry_after: retry_after(h, max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use reqwest::header::HeaderValue;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn go_durations() {
        let p = |s| parse_duration(s, 2 * HOUR);
        assert_eq!(p("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(p("1h2m3.5s"), Some(Duration::from_secs_f64(3723.5)));
        assert_eq!(p("20ms"), Some(Duration::from_millis(20)));
        assert_eq!(p("17"), Some(Duration::from_secs(17)));
        assert_eq!(p("bogus"), None);
        assert_eq!(p("5x"), None);
        assert_eq!(p("99999999999999h"), Some(2 * HOUR));
        assert_eq!(p("1e30"), Some(2 * HOUR));
        assert_eq!(p("-3"), None);
        assert_eq!(p("NaN"), None);
    }

    fn map(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert(*k, v);
            }
        }
        h
    }

    #[test]
    fn both_header_families_and_retry_after() {
        let h = map(&[
            ("x-ratelimit-remaining-requests", "7"),
            ("x-ratelimit-reset-tokens", "6m0s"),
            ("retry-after-ms", "1500"),
        ]);
        let r = parse_rate_info(&h, HOUR);
        assert_eq!(r.remaining_requests, Some(7));
        assert_eq!(r.reset_tokens, Some(Duration::from_secs(360)));
        assert_eq!(r.retry_after, Some(Duration::from_millis(1500)));

        let reset = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc3339();
        let a = map(&[
            ("anthropic-ratelimit-tokens-remaining", "900"),
            ("anthropic-ratelimit-tokens-reset", &reset),
            ("retry-after", "2"),
        ]);
        let r = parse_rate_info(&a, HOUR);
        assert_eq!(r.remaining_tokens, Some(900));
        let d = r.reset_tokens.unwrap_or_default();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        assert_eq!(r.retry_after, Some(Duration::from_secs(2)));
    }

    /// Hostile values: huge, negative, not a number, far-future and past dates, garbage.
    #[test]
    fn hostile_values_are_clamped_or_ignored() {
        let max = Duration::from_secs(5);
        let ra = |v: &str| retry_after(&map(&[("retry-after", v)]), max);
        assert_eq!(ra("1e30"), Some(max));
        assert_eq!(ra("-1"), None);
        assert_eq!(ra("NaN"), None);
        assert_eq!(ra("inf"), None);
        assert_eq!(ra("Fri, 31 Dec 9999 23:59:59 GMT"), Some(max));
        assert_eq!(ra("Thu, 01 Jan 1970 00:00:00 GMT"), Some(Duration::ZERO));
        assert_eq!(ra("soon"), None);
        let ms = |v: &str| retry_after(&map(&[("retry-after-ms", v)]), max);
        assert_eq!(ms("1e300"), Some(max));
        assert_eq!(ms("250"), Some(Duration::from_millis(250)));
        let r = parse_rate_info(
            &map(&[
                ("x-ratelimit-remaining-requests", "18446744073709551616"),
                ("x-ratelimit-remaining-tokens", "18446744073709551615"),
                ("x-ratelimit-reset-requests", "9999999999h9999999m"),
                ("anthropic-ratelimit-tokens-reset", "9999-12-31T23:59:59Z"),
            ]),
            max,
        );
        assert_eq!(r.remaining_requests, None);
        assert_eq!(r.remaining_tokens, Some(u64::MAX));
        assert_eq!(r.reset_requests, Some(max));
        assert_eq!(r.reset_tokens, Some(max), "the far-future RFC 3339 reset");
        let r = parse_rate_info(
            &map(&[("anthropic-ratelimit-requests-reset", "9999-12-31T23:59:59Z")]),
            max,
        );
        assert_eq!(r.reset_requests, Some(max));
    }

    proptest! {
        /// Any header value: no panic, and every duration within the clamp.
        #[test]
        fn any_header_value_is_a_value_within_the_clamp(
            v in "\\PC{0,40}",
            name in prop::sample::select(vec![
                "retry-after", "retry-after-ms", "x-ratelimit-reset-requests",
                "x-ratelimit-reset-tokens", "x-ratelimit-remaining-requests",
                "anthropic-ratelimit-requests-reset", "anthropic-ratelimit-tokens-remaining",
            ]),
            max_ms in 0u64..10_000_000,
        ) {
            let max = Duration::from_millis(max_ms);
            let r = parse_rate_info(&map(&[(name, &v)]), max);
            for d in [r.reset_requests, r.reset_tokens, r.retry_after].into_iter().flatten() {
                prop_assert!(d <= max);
            }
        }

        /// Numbers of every magnitude and sign, as the servers may write them.
        #[test]
        fn any_number_is_clamped(x in any::<f64>(), unit in prop::sample::select(vec!["", "s", "ms", "h", "m"])) {
            let max = Duration::from_secs(3600);
            let text = format!("{x}{unit}");
            if let Some(d) = parse_duration(&text, max) {
                prop_assert!(d <= max);
            }
            if let Some(d) = retry_after(&map(&[("retry-after", &text)]), max) {
                prop_assert!(d <= max);
            }
        }
    }
}
