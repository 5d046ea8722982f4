//! Rate-limit header parsing: OpenAI-style `x-ratelimit-*` (resets as Go durations such as
//! `6m0s`, `1.5s`, `20ms`), `anthropic-ratelimit-*` (resets as RFC 3339 instants),
//! `retry-after-ms` and `retry-after` (seconds or HTTP date).

use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;

/// What one response said about the backend's remaining budget.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RateInfo {
    /// Requests left in the current window.
    pub remaining_requests: Option<u64>,
    /// When the request window resets.
    pub reset_requests: Option<Instant>,
    /// Tokens left in the current window.
    pub remaining_tokens: Option<u64>,
    /// When the token window resets.
    pub reset_tokens: Option<Instant>,
    /// Pause demanded by `retry-after-ms` / `retry-after`.
    pub retry_after: Option<Duration>,
}

/// Parses a Go-style duration: `6m0s`, `1h2m3.5s`, `250ms`, `1.5s`, `0s`, or bare seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(secs) = s.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
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
        total += value * factor;
        rest = &rest[unit_end..];
    }
    Some(Duration::from_secs_f64(total))
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

fn rfc3339_to_instant(s: &str, now: Instant) -> Option<Instant> {
    let at = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    let delta = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(now + delta.to_std().unwrap_or(Duration::ZERO))
}

/// Parses `retry-after-ms`, then `retry-after` (delta seconds or an HTTP date).
pub fn retry_after(h: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = header(h, "retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let v = header(h, "retry-after")?;
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

/// Reads every rate-limit header this module knows from a response.
pub fn parse_rate_info(h: &HeaderMap, now: Instant) -> RateInfo {
    // Most responses carry none of them: one pass over the names instead of a dozen lookups.
    let relevant = h.keys().any(|k| {
        let k = k.as_str();
        k.starts_with("x-ratelimit-")
            || k.starts_with("anthropic-ratelimit-")
            || k.starts_with("retry-after")
    });
    if !relevant {
        return RateInfo::default();
    }
    let num = |name: &str| header(h, name).and_then(|v| v.parse::<u64>().ok());
    let dur = |name: &str| header(h, name).and_then(parse_duration).map(|d| now + d);
    let at = |name: &str| header(h, name).and_then(|v| rfc3339_to_instant(v, now));
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
        retry_after: retry_after(h),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(
            parse_duration("1h2m3.5s"),
            Some(Duration::from_secs_f64(3723.5))
        );
        assert_eq!(parse_duration("20ms"), Some(Duration::from_millis(20)));
        assert_eq!(parse_duration("17"), Some(Duration::from_secs(17)));
        assert_eq!(parse_duration("bogus"), None);
        assert_eq!(parse_duration("5x"), None);
    }

    #[test]
    fn both_header_families_and_retry_after() {
        let now = Instant::now();
        let mut h = HeaderMap::new();
        h.insert(
            "x-ratelimit-remaining-requests",
            HeaderValue::from_static("7"),
        );
        h.insert("x-ratelimit-reset-tokens", HeaderValue::from_static("6m0s"));
        h.insert("retry-after-ms", HeaderValue::from_static("1500"));
        let r = parse_rate_info(&h, now);
        assert_eq!(r.remaining_requests, Some(7));
        assert_eq!(r.reset_tokens, Some(now + Duration::from_secs(360)));
        assert_eq!(r.retry_after, Some(Duration::from_millis(1500)));

        let mut a = HeaderMap::new();
        let reset = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc3339();
        a.insert(
            "anthropic-ratelimit-tokens-remaining",
            HeaderValue::from_static("900"),
        );
        a.insert(
            "anthropic-ratelimit-tokens-reset",
            HeaderValue::from_str(&reset).unwrap_or(HeaderValue::from_static("")),
        );
        a.insert("retry-after", HeaderValue::from_static("2"));
        let r = parse_rate_info(&a, now);
        assert_eq!(r.remaining_tokens, Some(900));
        let d = r
            .reset_tokens
            .map(|t| t.duration_since(now))
            .unwrap_or_default();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        assert_eq!(r.retry_after, Some(Duration::from_secs(2)));
    }
}
