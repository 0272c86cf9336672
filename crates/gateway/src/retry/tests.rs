//! Unit tests of the retry decisions, with fixed random numbers and clocks.

use super::*;

const SECOND: Duration = Duration::from_secs(1);

/// 1994-11-06 08:49:37 UTC, the example date of the HTTP RFCs.
fn rfc_now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(784_111_777)
}

fn attempt(number: u32, elapsed_secs: u64) -> Attempt<'static> {
    Attempt {
        provider: "openai",
        number,
        elapsed: Duration::from_secs(elapsed_secs),
        now: rfc_now(),
    }
}

fn status(status: u16) -> Failure<'static> {
    Failure::Status {
        status,
        retry_after: None,
    }
}

fn decide(number: u32, elapsed_secs: u64, failure: Failure<'_>, r: f64) -> Decision {
    RetryPolicy::default().decide(&attempt(number, elapsed_secs), &failure, &mut || r)
}

fn give_up(decision: Decision) -> GiveUp {
    match decision {
        Decision::GiveUp(g) => g,
        Decision::Retry { after } => panic!("expected to give up, got a retry after {after:?}"),
    }
}

fn retry_after(decision: Decision) -> Duration {
    match decision {
        Decision::Retry { after } => after,
        Decision::GiveUp(g) => panic!("expected a retry, gave up: {}", g.message),
    }
}

#[test]
fn defaults_match_the_issue() {
    let p = RetryPolicy::default();
    assert_eq!(p.max_attempts, 5);
    assert_eq!(p.base_delay, SECOND);
    assert_eq!(p.max_delay, 30 * SECOND);
    assert_eq!(p.max_total, 120 * SECOND);
    assert_eq!(p.per_request_timeout, 300 * SECOND);
}

#[test]
fn transient_failures_are_retried() {
    let failures = [
        Failure::Connect,
        Failure::Timeout,
        status(408),
        status(429),
        status(500),
        status(502),
        status(503),
        status(504),
        status(529),
    ];
    for failure in failures {
        assert_eq!(
            retry_after(decide(1, 0, failure, 0.5)),
            SECOND / 2,
            "{failure:?}"
        );
    }
}

#[test]
fn client_errors_fail_at_once_with_clear_messages() {
    for code in [401, 403] {
        let g = give_up(decide(1, 0, status(code), 0.5));
        assert_eq!(g.kind, GiveUpKind::Unauthorized);
        assert!(
            g.message.contains("check the API key for provider openai"),
            "{}",
            g.message
        );
        assert!(g.message.contains(&code.to_string()), "{}", g.message);
    }
    for code in [400, 404, 409, 413, 422] {
        let g = give_up(decide(1, 0, status(code), 0.5));
        assert_eq!(g.kind, GiveUpKind::Rejected, "{code}");
        assert!(g.message.contains(&format!("HTTP {code}")), "{}", g.message);
    }
    let g = give_up(decide(1, 0, status(404), 0.5));
    assert!(g.message.contains("model name"), "{}", g.message);
    // A Retry-After on a client error changes nothing.
    let failure = Failure::Status {
        status: 400,
        retry_after: Some("1"),
    };
    assert_eq!(
        give_up(decide(1, 0, failure, 0.5)).kind,
        GiveUpKind::Rejected
    );
}

#[test]
fn backoff_doubles_up_to_max_delay_with_full_jitter() {
    let p = RetryPolicy::default();
    let caps: Vec<u64> = (1..=8)
        .map(|n| p.backoff(n, &mut || 1.0).as_secs())
        .collect();
    assert_eq!(caps, [1, 2, 4, 8, 16, 30, 30, 30]);
    assert_eq!(p.backoff(3, &mut || 0.25), SECOND);
    assert_eq!(p.backoff(3, &mut || 0.0), Duration::ZERO);
    assert_eq!(p.backoff(u32::MAX, &mut || 0.5), 15 * SECOND);
    // Out-of-range random numbers cannot stretch the wait.
    assert_eq!(p.backoff(2, &mut || 7.0), 2 * SECOND);
    assert_eq!(p.backoff(2, &mut || -1.0), Duration::ZERO);
    assert_eq!(p.backoff(2, &mut || f64::NAN), Duration::ZERO);
}

#[test]
fn never_more_than_max_attempts() {
    let p = RetryPolicy::default();
    let mut rng = SplitMix64::new(7);
    let mut calls = 0;
    let mut elapsed = Duration::ZERO;
    let last = loop {
        calls += 1;
        let at = Attempt {
            provider: "anthropic",
            number: calls,
            elapsed,
            now: rfc_now(),
        };
        match p.decide(&at, &status(503), &mut || rng.next_f64()) {
            Decision::Retry { after } => elapsed += after,
            Decision::GiveUp(g) => break g,
        }
    };
    assert_eq!(calls, 5);
    assert_eq!(last.kind, GiveUpKind::Unavailable);
    assert!(last.message.contains("5 attempt(s)"), "{}", last.message);
    assert!(last.message.contains("HTTP 503"), "{}", last.message);

    let once = RetryPolicy {
        max_attempts: 1,
        ..p
    };
    let g = give_up(once.decide(&attempt(1, 0), &Failure::Connect, &mut || 0.5));
    assert!(g.message.contains("connection error"), "{}", g.message);
}

#[test]
fn total_budget_is_never_exceeded() {
    let p = RetryPolicy {
        max_attempts: 100,
        ..RetryPolicy::default()
    };
    // Every call takes 20s and times out at the server; waits are at their cap.
    let mut elapsed = Duration::ZERO;
    let mut calls = 0;
    let last = loop {
        calls += 1;
        elapsed += 20 * SECOND;
        let at = Attempt {
            provider: "gemini",
            number: calls,
            elapsed,
            now: rfc_now(),
        };
        match p.decide(&at, &status(504), &mut || 1.0) {
            Decision::Retry { after } => {
                elapsed += after;
                assert!(elapsed <= p.max_total, "{elapsed:?}");
            }
            Decision::GiveUp(g) => break g,
        }
    };
    // 20+1, +20+2, +20+4, +20+8 = 95s; then 115s + 16s > 120s.
    assert_eq!(calls, 5);
    assert!(
        last.message.contains("120s retry budget"),
        "{}",
        last.message
    );
    assert!(last.message.contains("provider gemini"), "{}", last.message);
}

#[test]
fn exhausted_rate_limits_are_reported_as_such() {
    let g = give_up(decide(5, 10, status(429), 0.5));
    assert_eq!(g.kind, GiveUpKind::RateLimited);
    assert!(g.message.contains("429"), "{}", g.message);
    assert_eq!(
        give_up(decide(5, 10, Failure::Timeout, 0.5)).kind,
        GiveUpKind::Unavailable
    );
    let timeout = give_up(decide(5, 10, Failure::Timeout, 0.5)).message;
    assert!(timeout.contains("300s"), "{timeout}");
}

#[test]
fn retry_after_seconds_is_honoured_and_capped() {
    let with = |value: &'static str| Failure::Status {
        status: 429,
        retry_after: Some(value),
    };
    assert_eq!(retry_after(decide(1, 0, with("7"), 0.0)), 7 * SECOND);
    assert_eq!(retry_after(decide(1, 0, with(" 0 "), 0.9)), Duration::ZERO);
    assert_eq!(retry_after(decide(1, 0, with("120"), 0.0)), 30 * SECOND);
    assert_eq!(
        retry_after(decide(1, 0, with("99999999999999999999999"), 0.0)),
        30 * SECOND
    );
    // Unreadable values fall back to backoff.
    assert_eq!(retry_after(decide(2, 0, with("soon"), 0.5)), SECOND);
    assert_eq!(retry_after(decide(2, 0, with("-5"), 0.5)), SECOND);
    // A wait that would end past the budget gives up instead.
    let g = give_up(decide(2, 100, with("25"), 0.0));
    assert_eq!(g.kind, GiveUpKind::RateLimited);
    assert!(g.message.contains("budget"), "{}", g.message);
    assert_eq!(retry_after(decide(2, 100, with("20"), 0.0)), 20 * SECOND);
}

#[test]
fn retry_after_http_date_is_relative_to_now() {
    let failure = Failure::Status {
        status: 503,
        retry_after: Some("Sun, 06 Nov 1994 08:49:49 GMT"),
    };
    assert_eq!(retry_after(decide(1, 0, failure, 0.9)), 12 * SECOND);
    let past = Failure::Status {
        status: 503,
        retry_after: Some("Sun, 06 Nov 1994 08:00:00 GMT"),
    };
    assert_eq!(retry_after(decide(1, 0, past, 0.9)), Duration::ZERO);
    let far = Failure::Status {
        status: 503,
        retry_after: Some("Mon, 07 Nov 1994 08:49:37 GMT"),
    };
    assert_eq!(retry_after(decide(1, 0, far, 0.9)), 30 * SECOND);
}

#[test]
fn http_dates_parse_exactly() {
    let secs =
        |s: &str| parse_http_date(s).map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_secs());
    assert_eq!(secs("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
    assert_eq!(secs("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
    assert_eq!(secs("Tue, 29 Feb 2000 12:00:00 GMT"), Some(951_825_600));
    assert_eq!(secs("Wed, 31 Dec 2025 23:59:59 GMT"), Some(1_767_225_599));
    for bad in [
        "",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Thu, 29 Feb 2001 00:00:00 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Wed, 31 Dec 1969 23:59:59 GMT",
    ] {
        assert_eq!(secs(bad), None, "{bad:?}");
    }
}

#[test]
fn splitmix_is_deterministic_and_in_range() {
    let mut a = SplitMix64::new(42);
    let mut b = SplitMix64::new(42);
    let xs: Vec<f64> = (0..1000).map(|_| a.next_f64()).collect();
    let ys: Vec<f64> = (0..1000).map(|_| b.next_f64()).collect();
    assert_eq!(xs, ys);
    assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    assert!((mean - 0.5).abs() < 0.05, "{mean}");
    assert_ne!(SplitMix64::new(1).next_u64(), SplitMix64::new(2).next_u64());
    // Reference value of SplitMix64 seeded with 0.
    assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
}
