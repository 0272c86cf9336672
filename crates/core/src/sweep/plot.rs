//! The report's plot: one task's best score so far against the step, one line per cell
//! (seed and arm), as a self-contained SVG (no scripts, no external references) that the
//! report directory holds and the web UI can show.

use std::fmt::Write as _;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 360.0;
const MARGIN: f64 = 48.0;
/// Line colours, one per series in turn.
const COLOURS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
];

/// One line: a label and its (step, score) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(u32, f64)>,
}

/// The SVG of `series` under `title`; an empty plot says there is nothing to show.
pub fn score_by_step(title: &str, metric: &str, series: &[Series]) -> String {
    let points: Vec<(u32, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|(_, v)| v.is_finite())
        .collect();
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{MARGIN}\" y=\"20\" font-size=\"14\">{}</text>\n",
        escape(title)
    );
    if points.is_empty() {
        let _ = writeln!(
            svg,
            "<text x=\"{MARGIN}\" y=\"{}\">no scored step yet</text>\n</svg>",
            HEIGHT / 2.0
        );
        return svg;
    }
    let max_step = points.iter().map(|(s, _)| *s).max().unwrap_or(0).max(1);
    let (low, high) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, v)| {
            (lo.min(*v), hi.max(*v))
        });
    let span = if high > low { high - low } else { 1.0 };
    let x = |step: u32| MARGIN + f64::from(step) / f64::from(max_step) * (WIDTH - 2.0 * MARGIN);
    let y = |v: f64| HEIGHT - MARGIN - (v - low) / span * (HEIGHT - 2.0 * MARGIN);
    let _ = writeln!(
        svg,
        "<line x1=\"{MARGIN}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"black\"/>\n\
         <line x1=\"{MARGIN}\" y1=\"{MARGIN}\" x2=\"{MARGIN}\" y2=\"{b}\" stroke=\"black\"/>\n\
         <text x=\"{r}\" y=\"{}\" text-anchor=\"end\">step (0–{max_step})</text>\n\
         <text x=\"4\" y=\"{}\">{high:.4}</text>\n<text x=\"4\" y=\"{b}\">{low:.4}</text>\n\
         <text x=\"4\" y=\"{}\">{}</text>",
        HEIGHT - 12.0,
        MARGIN,
        HEIGHT / 2.0,
        escape(metric),
        b = HEIGHT - MARGIN,
        r = WIDTH - MARGIN,
    );
    for (i, s) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = s
            .points
            .iter()
            .filter(|(_, v)| v.is_finite())
            .map(|(step, v)| format!("{:.1},{:.1}", x(*step), y(*v)))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>\n\
             <text x=\"{}\" y=\"{}\" fill=\"{colour}\">{}</text>",
            path.join(" "),
            WIDTH - MARGIN + 4.0,
            MARGIN + 14.0 * i as f64,
            escape(&s.label)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// Text safe inside SVG elements and attributes.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_series_is_a_line_and_text_is_escaped() {
        let svg = score_by_step(
            "house <prices>",
            "rmse",
            &[
                Series {
                    label: "seed 0 · a&b".into(),
                    points: vec![(0, 3.0), (5, 2.0), (9, 1.5)],
                },
                Series {
                    label: "seed 1".into(),
                    points: vec![(0, 2.5), (9, f64::NAN)],
                },
            ],
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("house &lt;prices&gt;") && svg.contains("a&amp;b"));
        assert!(!svg.contains("NaN") && svg.ends_with("</svg>\n"));
        assert!(score_by_step("t", "rmse", &[]).contains("no scored step yet"));
    }
}
