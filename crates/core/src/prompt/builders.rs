//! The author's four prompts: draft a first solution, improve a good one, debug a failed
//! one, merge two good ones. Section order follows ARCHITECTURE §4 (see the table in the module above).

use super::memory::{one_paragraph, render_memory};
use super::sections::{
    data_overview, fenced, guidance, implementation_guideline, output_block, packages,
    response_format, task_description,
};
use super::{BuggySolution, PreviousSolution, Prompt, PromptContext, Section, title};

/// Who the author is; every author prompt opens with it.
pub(super) const ROLE: &str = "You are an experienced machine-learning engineer. You solve \
     the task below by writing Python programs; each program is run, and its validation score \
     decides what happens next.";

/// A first solution, from scratch. Shows memory (asking for a different approach when it has
/// entries), the package list and the data overview when the context has them.
pub fn draft_prompt(ctx: &PromptContext<'_>) -> Prompt {
    let memory = memory_section(ctx);
    let test = if ctx.task.has_test_data() {
        ", and predicts the test set"
    } else {
        ""
    };
    let intro = format!(
        "{ROLE}\n\nIn this step, write a first solution: a program that trains a model, \
         measures it on held-out data{test}."
    );

    let mut guideline = vec![
        "Keep this first version simple and dependable: one well-understood model with \
         sensible preprocessing, no ensembles and no extensive hyperparameter search. Later \
         steps improve on it.",
    ];
    if memory.is_some() {
        guideline.push(
            "The solutions under Memory have been tried already. Choose a clearly different \
             approach (another model family, other features, another way to use the data) so \
             the search explores more than one idea.",
        );
    }
    let overview = data_overview(ctx);
    if overview.is_some() {
        guideline
            .push("No data exploration is needed: the Data overview section describes the files.");
    }

    let mut instructions = Section::new(title::INSTRUCTIONS, "")
        .with(response_format())
        .with(Section::new(title::DRAFT_GUIDELINE, bullets(&guideline)))
        .with(implementation_guideline(ctx));
    if let Some(p) = packages(ctx.packages) {
        instructions = instructions.with(p);
    }

    let mut sections = vec![
        Section::new(title::INTRODUCTION, intro),
        task_description(ctx),
    ];
    sections.extend(guidance(ctx));
    sections.extend(memory);
    sections.push(instructions);
    sections.extend(overview);
    Prompt { sections }
}

/// One atomic improvement of a good solution (the best one, under the greedy policy).
pub fn improve_prompt(ctx: &PromptContext<'_>, previous: &PreviousSolution<'_>) -> Prompt {
    let memory = memory_section(ctx);
    let intro = format!(
        "{ROLE}\n\nIn this step, improve the previous solution shown below by making one \
         focused change that should raise its validation score."
    );
    let mut guideline = vec![
        "Make exactly one atomic change that you expect to improve the validation score, for \
         example a new feature, a different model setting or another preprocessing step. A \
         single change keeps its effect measurable.",
        "Keep everything else as it is, and return the whole program, not only the part that \
         changed.",
    ];
    if memory.is_some() {
        guideline.push(
            "Memory shows what has been tried; do not repeat an experiment whose outcome is \
             already known.",
        );
    }
    let instructions = Section::new(title::INSTRUCTIONS, "")
        .with(response_format())
        .with(Section::new(title::IMPROVE_GUIDELINE, bullets(&guideline)))
        .with(implementation_guideline(ctx));

    // Memory shows a good node's plan, and its review's findings from the output: neither
    // is repeated below it, only the code is.
    let shown = format!("Approach: {}\nFindings:", one_paragraph(previous.plan));
    let in_memory = memory.as_ref().is_some_and(|m| m.body.contains(&shown));
    let mut solution = Section::new(title::PREVIOUS_SOLUTION, "");
    if in_memory {
        solution.body = "Its plan and findings are under Memory.".into();
    } else if !previous.plan.trim().is_empty() {
        solution = solution.with(Section::new(title::PLAN, previous.plan.trim()));
    }
    solution = solution.with(Section::new(title::CODE, fenced("python", previous.code)));
    let output = previous
        .output
        .filter(|o| !o.trim().is_empty() && !in_memory);
    if let Some(output) = output {
        solution = solution.with(Section::new(title::OUTPUT, output_block(ctx, output)));
    }

    let mut sections = vec![
        Section::new(title::INTRODUCTION, intro),
        task_description(ctx),
    ];
    sections.extend(guidance(ctx));
    sections.extend(memory);
    sections.push(instructions);
    sections.push(solution);
    Prompt { sections }
}

/// A repair of a failed solution, from its code and what it printed.
pub fn debug_prompt(ctx: &PromptContext<'_>, buggy: &BuggySolution<'_>) -> Prompt {
    let intro = format!(
        "{ROLE}\n\nThe previous program, shown below, failed when it was run. In this step, \
         find the cause in its output and return a corrected version of the whole program."
    );
    let guideline = [
        "Read the output to find what went wrong, then state the cause and your fix in the \
         plan, in a few sentences.",
        "Keep the approach unless it is what fails.",
    ];
    let instructions = Section::new(title::INSTRUCTIONS, "")
        .with(response_format())
        .with(Section::new(title::DEBUG_GUIDELINE, bullets(&guideline)))
        .with(implementation_guideline(ctx));

    let mut sections = vec![
        Section::new(title::INTRODUCTION, intro),
        task_description(ctx),
    ];
    sections.extend(guidance(ctx));
    sections.extend([
        Section::new(title::BUGGY_SOLUTION, fenced("python", buggy.code)),
        Section::new(title::EXECUTION_OUTPUT, output_block(ctx, buggy.output)),
        instructions,
    ]);
    sections.extend(data_overview(ctx));
    Prompt { sections }
}

/// A combination of two good solutions: `first` (the better one, by the policy's choice)
/// takes what makes `second` work well.
pub fn merge_prompt(
    ctx: &PromptContext<'_>,
    first: &PreviousSolution<'_>,
    second: &PreviousSolution<'_>,
) -> Prompt {
    let memory = memory_section(ctx);
    let intro = format!(
        "{ROLE}\n\nIn this step, merge the two solutions shown below into one program that \
         combines their strengths and should score better than either."
    );
    let guideline = [
        "Start from the first solution and bring in what makes the second one work: its \
         features, its preprocessing, or its model as a second member of an ensemble.",
        "Say in the plan what you take from each, and keep the validation the same so the \
         scores stay comparable.",
        "Return the whole program.",
    ];
    let instructions = Section::new(title::INSTRUCTIONS, "")
        .with(response_format())
        .with(Section::new(title::MERGE_GUIDELINE, bullets(&guideline)))
        .with(implementation_guideline(ctx));
    let mut sections = vec![
        Section::new(title::INTRODUCTION, intro),
        task_description(ctx),
    ];
    sections.extend(guidance(ctx));
    sections.extend(memory);
    sections.push(instructions);
    sections.push(solution_section(ctx, title::FIRST_SOLUTION, first));
    sections.push(solution_section(ctx, title::SECOND_SOLUTION, second));
    Prompt { sections }
}

/// A solution shown in full: plan, code, and its output when there is one.
fn solution_section(ctx: &PromptContext<'_>, name: &str, shown: &PreviousSolution<'_>) -> Section {
    let mut section = Section::new(name, "");
    if !shown.plan.trim().is_empty() {
        section = section.with(Section::new(title::PLAN, shown.plan.trim()));
    }
    section = section.with(Section::new(title::CODE, fenced("python", shown.code)));
    if let Some(output) = shown.output.filter(|o| !o.trim().is_empty()) {
        section = section.with(Section::new(title::OUTPUT, output_block(ctx, output)));
    }
    section
}

fn memory_section(ctx: &PromptContext<'_>) -> Option<Section> {
    render_memory(
        ctx.memory,
        ctx.memory_budget_tokens,
        ctx.direction,
        ctx.tokens,
    )
    .map(|body| Section::new(title::MEMORY, body))
}

fn bullets(items: &[&str]) -> String {
    items
        .iter()
        .map(|item| format!("- {item}"))
        .collect::<Vec<_>>()
        .join("\n")
}
