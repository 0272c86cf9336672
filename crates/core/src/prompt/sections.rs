//! The section texts shared by several prompts: task description, response format,
//! implementation guideline, package list, data overview, people's guidance, code and output
//! blocks.
//!
//! Each fact is said once per prompt: the metric's name and direction only in the task's
//! evaluation line, the task's long description only where the author needs it.

use super::{PromptContext, Section, title, truncate_middle};
use crate::metric::{Direction, METRIC_LINE_PREFIX};
use crate::preview::DEFAULT_MAX_TOKENS;

/// A duration as people say it: `1 hour`, `1 hour 30 minutes`, `45 seconds`.
pub fn humane_duration(secs: u64) -> String {
    if secs == 0 {
        return "0 seconds".into();
    }
    let units = [
        (86_400, "day"),
        (3_600, "hour"),
        (60, "minute"),
        (1, "second"),
    ];
    let mut rest = secs;
    let mut parts = Vec::new();
    for (size, name) in units {
        let n = rest / size;
        rest %= size;
        if n > 0 {
            parts.push(format!("{n} {name}{}", if n == 1 { "" } else { "s" }));
        }
    }
    // Two units are precise enough ("2 hours 5 minutes", not "... 3 seconds").
    parts.truncate(2);
    parts.join(" ")
}

/// `The metric is RMSE; lower values are better.` or parts of it; empty when nothing is known.
pub(super) fn metric_sentence(name: Option<&str>, direction: Option<Direction>) -> String {
    let better = |d: Direction| match d {
        Direction::Minimize => "lower values are better",
        Direction::Maximize => "higher values are better",
    };
    match (name, direction) {
        (Some(n), Some(d)) => format!("The metric is {n}; {}.", better(d)),
        (Some(n), None) => format!("The metric is {n}."),
        (None, Some(d)) => {
            let b = better(d);
            format!("For this task's metric, {b}.")
        }
        (None, None) => String::new(),
    }
}

/// The task's goal and how it is evaluated: the evaluation text and the metric sentence, in
/// one line (the reviewer's whole view of the task).
pub(super) fn task_summary(ctx: &PromptContext<'_>) -> Section {
    let task = ctx.task;
    let mut body = format!("**Goal:** {}", task.goal.trim());
    let eval = task.eval.as_deref().map(str::trim).unwrap_or_default();
    let metric = metric_sentence(ctx.metric_name, ctx.direction);
    let evaluation = [eval, metric.as_str()]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if !evaluation.is_empty() {
        body.push_str(&format!("\n\n**Evaluation:** {evaluation}"));
    }
    Section::new(title::TASK, body)
}

/// [`task_summary`] followed by the task's long description, when it has one.
pub(super) fn task_description(ctx: &PromptContext<'_>) -> Section {
    let task = ctx.task;
    let mut section = task_summary(ctx);
    let body = &mut section.body;
    if let Some(desc) = task
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        body.push_str("\n\n");
        body.push_str(&demote_headings(desc, 2));
    }
    section
}

/// Pushes markdown headings of embedded text (a competition page) `by` levels down, so they
/// nest under the prompt's own. Lines inside fenced blocks are left alone.
pub(super) fn demote_headings(text: &str, by: usize) -> String {
    let mut fence: Option<char> = None;
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        let marker = t.chars().next().filter(|c| matches!(c, '`' | '~'));
        if let Some(m) = marker.filter(|&m| t.starts_with(&m.to_string().repeat(3))) {
            fence = match fence {
                None => Some(m),
                Some(open) if open == m => None,
                other => other,
            };
            out.push(line.to_string());
            continue;
        }
        let hashes = line.chars().take_while(|&c| c == '#').count();
        let is_heading =
            fence.is_none() && (1..=6).contains(&hashes) && line[hashes..].starts_with(' ');
        if is_heading {
            let level = (hashes + by).min(6);
            out.push(format!("{}{}", "#".repeat(level), &line[hashes..]));
        } else {
            out.push(line.to_string());
        }
    }
    out.join("\n")
}

pub(super) fn response_format() -> Section {
    Section::new(
        title::RESPONSE_FORMAT,
        "Answer with a plan in plain prose (three to five sentences: what the program does \
         and why it suits the task), then the complete program in exactly one fenced \
         `python` code block, and nothing after it.",
    )
}

/// The rules every program must follow, with the task's specifics filled in.
pub(super) fn implementation_guideline(ctx: &PromptContext<'_>) -> Section {
    let mut items = vec![
        "Write one self-contained Python file that runs from top to bottom with no \
         arguments and no interaction."
            .to_string(),
        "The task's files are in `./input` (read-only); write anything else to \
         `./working`."
            .to_string(),
    ];
    if let Some(sub) = &ctx.task.submission {
        let mut item = format!(
            "Save the test data's predictions to `./working/{}`; a run without this file \
             counts as failed.",
            sub.file_name
        );
        if let Some(sample) = &sub.sample {
            item.push_str(&format!(
                " Match the format of `./input/{}`.",
                sample.display()
            ));
        }
        items.push(item);
    }
    items.push(format!(
        "The program must finish within {}; a longer run is stopped and counts as failed, \
         so size models and searches to fit.",
        humane_duration(ctx.exec_timeout_secs)
    ));
    if ctx.k_fold_validation > 1 {
        items.push(format!(
            "Estimate performance with {}-fold cross-validation where that is practical; \
             otherwise use a held-out validation split.",
            ctx.k_fold_validation
        ));
    } else {
        items.push("Estimate performance on a held-out validation split.".to_string());
    }
    items.push(format!(
        "After the evaluation, print the validation score once on a line of its own as \
         `{METRIC_LINE_PREFIX} <number>` (e.g. `{METRIC_LINE_PREFIX} 0.8731`); the score is \
         read from that line."
    ));
    if ctx.expose_prediction {
        items.push(
            "Define a documented `predict()` function that takes new input data and returns \
             predictions, so the trained model can be reused outside this script."
                .to_string(),
        );
    }
    let body = items
        .iter()
        .map(|item| format!("- {item}"))
        .collect::<Vec<_>>()
        .join("\n");
    Section::new(title::IMPLEMENTATION, body)
}

/// The package list, or `None` when the caller gave none.
pub(super) fn packages(list: &[String]) -> Option<Section> {
    if list.is_empty() {
        return None;
    }
    let names = list
        .iter()
        .map(|p| format!("`{}`", p.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    Some(Section::new(
        title::PACKAGES,
        format!(
            "These packages are installed and ready to import: {names}. Build on them; \
             installing others may not be possible."
        ),
    ))
}

/// The data overview, cut in the middle to the preview's own default budget (so a preview
/// made with the default options is shown whole).
/// The notes people added to the run's memory while steering it, oldest first; `None`
/// without any.
pub(super) fn guidance(ctx: &PromptContext<'_>) -> Option<Section> {
    let notes: Vec<String> = ctx
        .notes
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .map(|n| format!("- {}", n.replace('\n', " ")))
        .collect();
    if notes.is_empty() {
        return None;
    }
    let intro = "The people overseeing this search left these notes; take them into account:";
    Some(Section::new(
        title::GUIDANCE,
        format!("{intro}\n{}", notes.join("\n")),
    ))
}

pub(super) fn data_overview(ctx: &PromptContext<'_>) -> Option<Section> {
    let preview = ctx.data_preview.map(str::trim).filter(|p| !p.is_empty())?;
    Some(Section::new(
        title::DATA_OVERVIEW,
        ctx.tokens.truncate_middle(preview, DEFAULT_MAX_TOKENS),
    ))
}

/// `text` in a fenced block, with a fence longer than any backtick run inside it.
pub(super) fn fenced(language: &str, text: &str) -> String {
    let longest = text
        .lines()
        .map(|l| l.trim_start().chars().take_while(|&c| c == '`').count())
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{language}\n{}\n{fence}", text.trim_end())
}

/// Program output, cut to the context's cap, in a plain fenced block.
pub(super) fn output_block(ctx: &PromptContext<'_>, output: &str) -> String {
    let output = output.trim_end();
    if output.trim().is_empty() {
        return "(The program printed nothing.)".into();
    }
    fenced("", &truncate_middle(output, ctx.output_cap_chars))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(humane_duration(3600), "1 hour");
        assert_eq!(humane_duration(5400), "1 hour 30 minutes");
        assert_eq!(humane_duration(7200), "2 hours");
        assert_eq!(humane_duration(90), "1 minute 30 seconds");
        assert_eq!(humane_duration(45), "45 seconds");
        assert_eq!(humane_duration(86_400 + 3_600 + 7), "1 day 1 hour");
        assert_eq!(humane_duration(0), "0 seconds");
    }

    #[test]
    fn embedded_headings_nest_below_the_prompt() {
        let text = "# Overview\ntext\n```\n# comment\n```\n## Data\n#hashtag";
        assert_eq!(
            demote_headings(text, 2),
            "### Overview\ntext\n```\n# comment\n```\n#### Data\n#hashtag"
        );
    }

    #[test]
    fn fences_outgrow_backticks_in_the_code() {
        assert_eq!(fenced("python", "x = 1\n"), "```python\nx = 1\n```");
        let code = "s = '''\n```\n'''";
        assert!(fenced("python", code).starts_with("````python\n"));
    }
}
