//! The command line of `aide` (clap derive): the `run` and `resume` commands, their flags
//! with `AIDE_*` environment variables, and the exit codes scripts can rely on.

use std::path::PathBuf;

use aide_runner::BackendKind;
use clap::{Parser, Subcommand};

macro_rules! exit_codes {
    () => {
        "\
Exit codes:
  0  the run completed (a step, time or cost budget was reached)
  1  the run failed (the search could not go on, e.g. the LLM provider refused requests)
  2  bad input: usage, configuration, override or task error
  3  interrupted (Ctrl-C) or cancelled; `aide resume <out>` continues the run
  4  internal error (a service, the database or the server failed)
  5  the server (--server) cannot be reached (client commands)"
    };
}

const EXIT_CODES: &str = exit_codes!();

/// aide: an ML-engineering agent. It searches the space of Python solution scripts for a
/// dataset and a goal the way the AIDE method does (draft, debug, improve).
#[derive(Debug, Parser)]
#[command(name = "aide", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a search on a task, everything in this process (SQLite in the output directory).
    #[command(after_help = RUN_HELP)]
    Run(RunArgs),
    /// Continue an interrupted `aide run` from its output directory.
    #[command(after_help = EXIT_CODES)]
    Resume(ResumeArgs),
    /// Serve a team: coordinator API, LLM gateway and sandbox runner in one process over
    /// Postgres (and Redis).
    #[command(after_help = SERVE_HELP)]
    Serve(crate::serve::ServeArgs),
    /// Submit a run to a server; prints its id on stdout.
    #[command(after_help = crate::client::submit::HELP)]
    Submit(crate::client::submit::SubmitArgs),
    /// List a server's runs, newest first.
    #[command(after_help = EXIT_CODES)]
    Ls(crate::client::ls::LsArgs),
    /// Show one run of a server.
    #[command(after_help = EXIT_CODES)]
    Status(crate::client::status::StatusArgs),
    /// Follow a run with the live progress display; exits with the run's exit code.
    #[command(after_help = EXIT_CODES)]
    Watch(crate::client::watch::WatchArgs),
    /// Ask a server to cancel a run.
    #[command(after_help = EXIT_CODES)]
    Cancel(crate::client::cancel::CancelArgs),
    /// Steer a running search: pin a node, prune a subtree, add a note, change the budget,
    /// or fork a new run from a node.
    #[command(after_help = EXIT_CODES)]
    Steer(crate::client::steer::SteerArgs),
    /// Write a run's outputs (journal, best solution, submission, tree, report) as files.
    #[command(after_help = EXIT_CODES)]
    Export(crate::client::export::ExportArgs),
    /// Check a token against a server and keep it for later commands.
    #[command(after_help = EXIT_CODES)]
    Login(crate::client::login::LoginArgs),
    /// Administer a server: projects and tokens (an admin token).
    #[command(after_help = EXIT_CODES)]
    Admin(crate::client::admin::AdminArgs),
    /// Benchmark sweeps: tasks × seeds × arms, graded outside the sandbox, with reports
    /// and MLE-bench exports.
    #[command(after_help = EXIT_CODES)]
    Bench(crate::bench::BenchArgs),
    /// Make a cluster CA and certificates for the services.
    #[command(after_help = EXIT_CODES)]
    Certs(crate::certs::CertsArgs),
}

const SERVE_HELP: &str = concat!(
    "\
The coordinator serves the public API on --listen; the gateway and the runner listen on
loopback ports and the runner registers with the coordinator. Runs survive a restart: they
are released on shutdown and resumed by the next `aide serve` on the same database. LLM keys
(ANTHROPIC_API_KEY, OPENAI_API_KEY, …) are read from this process's environment. Clients:
aide submit / ls / status / watch / cancel / export --server http://<listen>.

",
    exit_codes!()
);

const RUN_HELP: &str = concat!(
    "\
Task: a task directory (task.toml, or an MLE-bench competition directory), or the reference
implementation's key=value overrides, which are also accepted after the task:
  data_dir=DIR goal=TEXT eval=TEXT desc_file=FILE log_dir=DIR workspace_dir=DIR exp_name=NAME
  agent.steps=N agent.search.num_drafts=N agent.search.debug_prob=P
  agent.search.max_debug_depth=N agent.code.model=M agent.feedback.model=M agent.code.temp=T
  agent.feedback.temp=T agent.k_fold_validation=N agent.data_preview=BOOL
  agent.expose_prediction=BOOL exec.timeout=SECS generate_report=BOOL
  agent.search.policy=greedy|mcts|evolutionary agent.search.memory=all|siblings|chain
  agent.search.mcts.KNOB=V (exploration, exploration_decay, buggy_value, max_children)
  agent.search.evolutionary.KNOB=V (islands, population, tournament, merge_prob,
  migration_every)
The output directory is log_dir/exp_name when given; generate_report is accepted (report.md
is always written); flags win over overrides; the data is used in place, never copied.

Models: with no LLM key in the environment the offline `baseline` author is used (it is not
an LLM). ANTHROPIC_API_KEY selects claude-sonnet-4-5, OPENAI_API_KEY gpt-4o, GEMINI_API_KEY
gemini-2.5-flash, OPENROUTER_API_KEY openrouter/anthropic/claude-sonnet-4.5; with
OPENAI_BASE_URL (a local server) name the model with --model.

Outputs (in --out): aide.db (the whole search), and best_solution.py, best_<submission>,
journal.json, tree.html, report.md, config.json of the run.

",
    exit_codes!()
);

/// Flags of `aide run`.
#[derive(Debug, Clone, Parser)]
pub struct RunArgs {
    /// A task directory, optionally followed (or replaced) by key=value overrides in the
    /// reference implementation's style (see below).
    #[arg(value_name = "TASK | KEY=VALUE")]
    pub inputs: Vec<String>,
    /// Output directory [default: aide-runs/<task name>-<YYYYmmdd-HHMMSS>].
    #[arg(long, env = "AIDE_OUT", value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Nodes the search creates (drafts, debugs and improvements all count) [default: 20].
    #[arg(long, env = "AIDE_STEPS", value_name = "N")]
    pub steps: Option<u32>,
    /// Nodes expanded in parallel (and sandbox slots) [default: 1].
    #[arg(long, env = "AIDE_WORKERS", value_name = "N")]
    pub workers: Option<u32>,
    /// Seed of the search's random choices [default: 0].
    #[arg(long, env = "AIDE_SEED")]
    pub seed: Option<u64>,
    /// Time limit of one script execution, in seconds [default: 3600].
    #[arg(long, env = "AIDE_TIMEOUT", value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Sandbox the scripts run in.
    #[arg(long, env = "AIDE_SANDBOX", value_enum, default_value = "process")]
    pub sandbox: BackendKind,
    /// Model writing the code (`provider/model` or a bare name routed by prefix, or
    /// `baseline`) [default: from the LLM key found, else baseline].
    #[arg(long, env = "AIDE_MODEL", value_name = "MODEL")]
    pub model: Option<String>,
    /// Model reviewing each execution [default: the --model].
    #[arg(long, env = "AIDE_FEEDBACK_MODEL", value_name = "MODEL")]
    pub feedback_model: Option<String>,
    /// Stop the search once the LLM calls cost this many US dollars.
    #[arg(long, env = "AIDE_MAX_COST", value_name = "USD")]
    pub max_cost: Option<f64>,
    /// Stop the search after this many seconds.
    #[arg(long, env = "AIDE_MAX_TIME", value_name = "SECS")]
    pub max_time: Option<u64>,
    /// Serve the web UI of this run on loopback and print its address; it stays up after
    /// the run ends, until Ctrl-C.
    #[arg(long, env = "AIDE_UI")]
    pub ui: bool,
    /// Where --ui serves (a loopback address) [default: 127.0.0.1 on a free port].
    #[arg(long, env = "AIDE_UI_LISTEN", value_name = "ADDR", requires = "ui")]
    pub ui_listen: Option<std::net::SocketAddr>,
    /// Print only the final result (no live progress).
    #[arg(long, short, env = "AIDE_QUIET")]
    pub quiet: bool,
}

/// Flags of `aide resume`.
#[derive(Debug, Clone, Parser)]
pub struct ResumeArgs {
    /// The output directory of the interrupted run (it holds aide.db).
    pub out: PathBuf,
    /// Sandbox the scripts run in.
    #[arg(long, env = "AIDE_SANDBOX", value_enum, default_value = "process")]
    pub sandbox: BackendKind,
    /// Serve the web UI of this run on loopback and print its address; it stays up after
    /// the run ends, until Ctrl-C.
    #[arg(long, env = "AIDE_UI")]
    pub ui: bool,
    /// Where --ui serves (a loopback address) [default: 127.0.0.1 on a free port].
    #[arg(long, env = "AIDE_UI_LISTEN", value_name = "ADDR", requires = "ui")]
    pub ui_listen: Option<std::net::SocketAddr>,
    /// Print only the final result (no live progress).
    #[arg(long, short, env = "AIDE_QUIET")]
    pub quiet: bool,
}
