//! Bounded retries of provider calls: which failures are worth another try, how long to wait
//! (exponential backoff with full jitter, or the provider's `Retry-After`), and when to stop.
//!
//! Pure logic: the caller measures time, supplies "now" for HTTP-date `Retry-After` values
//! and the random numbers for jitter, so every decision is reproducible in tests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Limits of the retry loop of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Provider calls per request, the first included (1 = never retry).
    pub max_attempts: u32,
    /// Backoff cap of the first retry; doubles with every retry.
    pub base_delay: Duration,
    /// Longest single wait, `Retry-After` included.
    pub max_delay: Duration,
    /// No retry starts later than this after the first attempt started.
    pub max_total: Duration,
    /// Timeout of one provider call (applied by the HTTP client).
    pub per_request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_total: Duration::from_secs(120),
            per_request_timeout: Duration::from_secs(300),
        }
    }
}

/// How one provider call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure<'a> {
    /// The connection could not be made or broke (DNS, refused, reset, TLS).
    Connect,
    /// No answer within the per-request timeout.
    Timeout,
    /// The provider answered with a non-success status.
    Status {
        /// HTTP status code.
        status: u16,
        /// The `Retry-After` header's value, if any.
        retry_after: Option<&'a str>,
    },
}

/// Where the retry loop stands when a call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt<'a> {
    /// Provider name, for messages.
    pub provider: &'a str,
    /// Calls made so far, the failed one included (1 after the first failure).
    pub number: u32,
    /// Time since the first attempt started.
    pub elapsed: Duration,
    /// Wall-clock now, to read HTTP-date `Retry-After` values.
    pub now: SystemTime,
}

/// What to do after a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Call again after waiting this long.
    Retry {
        /// The wait.
        after: Duration,
    },
    /// Stop and report.
    GiveUp(GiveUp),
}

/// Why the gateway stopped trying, with a message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiveUp {
    /// The class of the failure, which picks the gRPC status.
    pub kind: GiveUpKind,
    /// What happened and what to do, naming the provider.
    pub message: String,
}

/// Classes of final failure, one per gRPC status the gateway answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUpKind {
    /// 401 or 403: the key is wrong or lacks access (PERMISSION_DENIED).
    Unauthorized,
    /// The provider rejected the request itself: 400, 404, 422, other 4xx (INVALID_ARGUMENT).
    Rejected,
    /// Retries ran out on rate limits, 429 (RESOURCE_EXHAUSTED).
    RateLimited,
    /// Retries ran out on connection errors, timeouts, 408 or 5xx (UNAVAILABLE).
    Unavailable,
}

impl RetryPolicy {
    /// Decides what follows a failed call. Retries only connection errors, timeouts, 408,
    /// 429 and 5xx; never beyond `max_attempts` calls, and never when the wait would end past
    /// `max_total`. `rng` returns uniform numbers in `[0, 1)` for the jitter.
    pub fn decide(
        &self,
        attempt: &Attempt<'_>,
        failure: &Failure<'_>,
        rng: &mut dyn FnMut() -> f64,
    ) -> Decision {
        let provider = attempt.provider;
        let (kind, what) = match *failure {
            Failure::Connect => (GiveUpKind::Unavailable, "a connection error".to_owned()),
            Failure::Timeout => (
                GiveUpKind::Unavailable,
                format!(
                    "no answer within {}s",
                    self.per_request_timeout.as_secs_f64()
                ),
            ),
            Failure::Status { status: 429, .. } => {
                (GiveUpKind::RateLimited, "HTTP 429 (rate limited)".into())
            }
            Failure::Status { status, .. } if status == 408 || (500..=599).contains(&status) => {
                (GiveUpKind::Unavailable, format!("HTTP {status}"))
            }
            Failure::Status { status, .. } => return Decision::GiveUp(rejection(provider, status)),
        };
        let number = attempt.number.max(1);
        let secs = attempt.elapsed.as_secs_f64();
        if number >= self.max_attempts {
            return Decision::GiveUp(GiveUp {
                kind,
                message: format!(
                    "provider {provider}: gave up after {number} attempt(s) in {secs:.1}s; \
                     last failure: {what}"
                ),
            });
        }
        let retry_after = match failure {
            Failure::Status {
                retry_after: Some(value),
                ..
            } => parse_retry_after(value, attempt.now),
            _ => None,
        };
        let after = match retry_after {
            Some(wait) => wait.min(self.max_delay),
            None => self.backoff(number, rng),
        };
        if attempt.elapsed.saturating_add(after) > self.max_total {
            return Decision::GiveUp(GiveUp {
                kind,
                message: format!(
                    "provider {provider}: gave up after {number} attempt(s) in {secs:.1}s: \
                     waiting {:.1}s more would pass the {}s retry budget; last failure: {what}",
                    after.as_secs_f64(),
                    self.max_total.as_secs_f64()
                ),
            });
        }
        Decision::Retry { after }
    }

    /// The backoff before retry `number` (1 = the first retry): uniform in
    /// `[0, min(max_delay, base_delay * 2^(number-1)))` — "full jitter".
    pub fn backoff(&self, number: u32, rng: &mut dyn FnMut() -> f64) -> Duration {
        let doublings = number.max(1) - 1;
        let factor = 2u32.checked_pow(doublings).unwrap_or(u32::MAX);
        let cap = self
            .base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        let r = rng();
        let r = if r.is_finite() {
            r.clamp(0.0, 1.0)
        } else {
            0.0
        };
        cap.mul_f64(r)
    }
}

fn rejection(provider: &str, status: u16) -> GiveUp {
    let (kind, message) = match status {
        401 | 403 => (
            GiveUpKind::Unauthorized,
            format!(
                "provider {provider} answered HTTP {status}: check the API key for provider \
                 {provider}"
            ),
        ),
        404 => (
            GiveUpKind::Rejected,
            format!(
                "provider {provider} answered HTTP 404: check the model name and the \
                 provider's base URL"
            ),
        ),
        400 | 422 => (
            GiveUpKind::Rejected,
            format!(
                "provider {provider} rejected the request (HTTP {status}); retrying cannot help"
            ),
        ),
        _ => (
            GiveUpKind::Rejected,
            format!("provider {provider} answered HTTP {status}, which is not retried"),
        ),
    };
    GiveUp { kind, message }
}

/// Reads a `Retry-After` value: delay seconds (`"7"`) or an HTTP-date
/// (`"Sun, 06 Nov 1994 08:49:37 GMT"`), the latter relative to `now` (a date in the past
/// means no wait). Anything else is `None`, and the caller falls back to backoff.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses the preferred HTTP-date form (RFC 9110 IMF-fixdate, as in RFC 1123):
/// `Sun, 06 Nov 1994 08:49:37 GMT`. The obsolete RFC 850 and asctime forms are not read.
pub fn parse_http_date(value: &str) -> Option<SystemTime> {
    let rest = match value.trim().split_once(',') {
        Some((weekday, rest)) if weekday.len() == 3 => rest,
        _ => return None,
    };
    let parts: Vec<&str> = rest.split_whitespace().collect();
    let [day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: u32 = parse_digits(day, 1, 2)?;
    let month = MONTHS.iter().position(|m| m == month)? as u32 + 1;
    let year: i64 = parse_digits(year, 4, 4)?;
    let mut hms = time.split(':');
    let (h, m, s) = (hms.next()?, hms.next()?, hms.next()?);
    if hms.next().is_some() {
        return None;
    }
    let (h, m, s): (u64, u64, u64) = (
        parse_digits(h, 2, 2)?,
        parse_digits(m, 2, 2)?,
        parse_digits(s, 2, 2)?,
    );
    if day == 0 || day > days_in_month(year, month) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
    let secs = days * 86_400 + h * 3_600 + m * 60 + s;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn parse_digits<T: std::str::FromStr>(s: &str, min: usize, max: usize) -> Option<T> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn days_in_month(year: i64, month: u32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A tiny seeded generator (SplitMix64) for jitter, so callers need no global RNG: seed it
/// per request (e.g. from the request id) and pass `&mut || rng.next_f64()` to `decide`.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform number in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests;
