//! The Prometheus text exposition format (version 0.0.4) of the registry's families.

use std::fmt::Write as _;

use super::registry::{Family, Kind, Labels, Value};

/// Renders `families` (each with its HELP and TYPE lines).
pub(super) fn render<'a>(families: impl Iterator<Item = &'a Family>) -> String {
    let mut out = String::new();
    for family in families {
        let def = family.def;
        let kind = match def.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram(_) => "histogram",
        };
        let _ = writeln!(out, "# HELP {} {}", def.name, escape_help(def.help));
        let _ = writeln!(out, "# TYPE {} {kind}", def.name);
        for (labels, value) in &family.values {
            match (value, def.kind) {
                (Value::Number(n), _) => sample(&mut out, def.name, labels, None, *n),
                (Value::Histogram { counts, sum, count }, Kind::Histogram(bounds)) => {
                    let bucket = format!("{}_bucket", def.name);
                    for (bound, n) in bounds.iter().zip(counts) {
                        let le = bound.to_string();
                        sample(&mut out, &bucket, labels, Some(&le), *n as f64);
                    }
                    sample(&mut out, &bucket, labels, Some("+Inf"), *count as f64);
                    sample(&mut out, &format!("{}_sum", def.name), labels, None, *sum);
                    let name = format!("{}_count", def.name);
                    sample(&mut out, &name, labels, None, *count as f64);
                }
                (Value::Histogram { .. }, _) => {}
            }
        }
    }
    out
}

fn sample(out: &mut String, name: &str, labels: &Labels, le: Option<&str>, value: f64) {
    let mut pairs: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_value(v)))
        .collect();
    if let Some(le) = le {
        pairs.push(format!("le=\"{le}\""));
    }
    let _ = match pairs.is_empty() {
        true => writeln!(out, "{name} {value}"),
        false => writeln!(out, "{name}{{{}}} {value}", pairs.join(",")),
    };
}

fn escape_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use crate::metrics::{Def, Metrics};

    const THINGS: Def = Def::counter("aide_things_total", "Things.");
    const PLAIN: Def = Def::gauge("aide_plain", "Plain.");
    const TIME: Def = Def::histogram("aide_time_seconds", "Time.", &[0.5, 2.0]);

    #[test]
    fn every_kind_renders_in_the_text_format() {
        let metrics = Metrics::new();
        metrics.add(&THINGS, &[("kind", "a\"b")], 2.0);
        metrics.inc(&THINGS, &[("kind", "a\"b")]);
        metrics.set(&PLAIN, &[], 5.0);
        metrics.set(&PLAIN, &[], 4.5);
        metrics.observe(&TIME, &[("call", "x")], 0.1);
        metrics.observe(&TIME, &[("call", "x")], 1.0);
        metrics.observe(&TIME, &[("call", "x")], 9.0);
        assert_eq!(metrics.get(&THINGS, &[("kind", "a\"b")]), 3.0);
        assert_eq!(metrics.get(&TIME, &[("call", "x")]), 3.0);
        assert_eq!(
            metrics.render(),
            "# HELP aide_plain Plain.\n# TYPE aide_plain gauge\naide_plain 4.5\n\
             # HELP aide_things_total Things.\n# TYPE aide_things_total counter\n\
             aide_things_total{kind=\"a\\\"b\"} 3\n\
             # HELP aide_time_seconds Time.\n# TYPE aide_time_seconds histogram\n\
             aide_time_seconds_bucket{call=\"x\",le=\"0.5\"} 1\n\
             aide_time_seconds_bucket{call=\"x\",le=\"2\"} 2\n\
             aide_time_seconds_bucket{call=\"x\",le=\"+Inf\"} 3\n\
             aide_time_seconds_sum{call=\"x\"} 10.1\n\
             aide_time_seconds_count{call=\"x\"} 3\n"
        );
    }

    #[test]
    fn a_declared_series_is_there_at_zero() {
        let metrics = Metrics::new();
        metrics.declare(&THINGS, &[]);
        assert!(metrics.render().ends_with("aide_things_total 0\n"));
        metrics.inc(&THINGS, &[]);
        assert_eq!(metrics.get(&THINGS, &[]), 1.0);
    }
}
