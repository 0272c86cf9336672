//! Task roots: directories of tasks that already sit on the coordinator's host (an MLE-bench
//! data directory, a team's shared datasets), configured by name (`--task-root NAME=DIR`) and
//! served by name to clients (`aide submit --server-task NAME/TASK`). A client names a task,
//! never a path: the name is checked to be plain relative components, the result is resolved
//! with links followed and must stay under the root, and loading reads nothing outside it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use aide_core::Task;

/// Named task roots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskRoots {
    roots: BTreeMap<String, PathBuf>,
}

/// One `NAME=DIR` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRootArg {
    pub name: String,
    pub dir: PathBuf,
}

impl FromStr for TaskRootArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (name, dir) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?}: expected NAME=DIR"))?;
        let name = name.trim();
        if !is_plain_name(name) {
            return Err(format!(
                "{text:?}: the root's name must be letters, digits, - _ ."
            ));
        }
        let dir = PathBuf::from(dir.trim());
        if !dir.is_absolute() {
            return Err(format!("{text:?}: DIR must be an absolute path"));
        }
        Ok(Self {
            name: name.to_owned(),
            dir,
        })
    }
}

/// Why a server task cannot be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootRefusal {
    /// Not `ROOT/TASK` with plain components.
    BadName(String),
    UnknownRoot {
        root: String,
        known: Vec<String>,
    },
    /// No such task under the root (or it resolves outside it).
    NoTask(String),
    /// The task exists but cannot be loaded; the message names the file.
    Invalid(String),
}

impl fmt::Display for RootRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadName(name) => write!(
                f,
                "server_task: {name:?} is not ROOT/TASK (plain names, no '..', no absolute path)"
            ),
            Self::UnknownRoot { root, known } if known.is_empty() => {
                write!(
                    f,
                    "server_task: no task root {root:?}; this server has none configured"
                )
            }
            Self::UnknownRoot { root, known } => write!(
                f,
                "server_task: no task root {root:?}; this server has {}",
                known.join(", ")
            ),
            Self::NoTask(name) => write!(f, "server_task: no task {name:?}"),
            Self::Invalid(why) => write!(f, "server_task: {why}"),
        }
    }
}

impl TaskRoots {
    /// Roots from `NAME=DIR` entries; each directory must exist (checked at start, so a typo
    /// fails the server, not the first client).
    pub fn new(entries: impl IntoIterator<Item = TaskRootArg>) -> Result<Self, String> {
        let mut roots = BTreeMap::new();
        for TaskRootArg { name, dir } in entries {
            let canonical = dir
                .canonicalize()
                .map_err(|e| format!("task root {name}={}: {e}", dir.display()))?;
            if !canonical.is_dir() {
                return Err(format!(
                    "task root {name}={}: not a directory",
                    dir.display()
                ));
            }
            if roots.insert(name.clone(), canonical).is_some() {
                return Err(format!("task root {name} is given twice"));
            }
        }
        Ok(Self { roots })
    }

    /// The configured names.
    pub fn names(&self) -> Vec<String> {
        self.roots.keys().cloned().collect()
    }

    /// Loads the task `ROOT/TASK`, reading nothing outside the root. Blocking (reads files).
    pub fn load(&self, server_task: &str) -> Result<Task, RootRefusal> {
        let (root, dir) = self.resolve(server_task)?;
        Task::load_within(&dir, &root)
            .map_err(|e| RootRefusal::Invalid(relative_message(&e, &root)))
    }

    fn resolve(&self, server_task: &str) -> Result<(PathBuf, PathBuf), RootRefusal> {
        let bad = || RootRefusal::BadName(server_task.to_owned());
        let (root_name, task) = server_task.split_once('/').ok_or_else(bad)?;
        if !is_plain_name(root_name) || !task.split('/').all(is_plain_name) {
            return Err(bad());
        }
        let root = self
            .roots
            .get(root_name)
            .ok_or_else(|| RootRefusal::UnknownRoot {
                root: root_name.to_owned(),
                known: self.names(),
            })?;
        let no_task = || RootRefusal::NoTask(server_task.to_owned());
        let dir = root.join(task).canonicalize().map_err(|_| no_task())?;
        if !dir.starts_with(root) || dir == *root {
            return Err(no_task());
        }
        Ok((root.clone(), dir))
    }
}

/// Letters, digits, `-`, `_`, `.`, not `.` or `..` alone.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A loading error with the root's own path cut off, so a client sees paths relative to the
/// root and nothing of the server's layout.
fn relative_message(err: &aide_core::Error, root: &Path) -> String {
    let prefix = format!("{}/", root.display());
    err.to_string().replace(&prefix, "")
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn roots_with_task() -> (tempfile::TempDir, TaskRoots) {
        let dir = tempfile::tempdir().unwrap();
        let task = dir.path().join("comp");
        fs::create_dir_all(task.join("prepared/public")).unwrap();
        fs::create_dir_all(task.join("prepared/private")).unwrap();
        fs::write(task.join("description.md"), "# Predict\n").unwrap();
        fs::write(task.join("prepared/public/train.csv"), "a,b\n1,2\n").unwrap();
        fs::write(task.join("prepared/private/test.csv"), "a,b\n1,2\n").unwrap();
        let arg: TaskRootArg = format!("bench={}", dir.path().display()).parse().unwrap();
        let roots = TaskRoots::new([arg]).unwrap();
        (dir, roots)
    }

    #[test]
    fn a_task_is_served_by_name() {
        let (_dir, roots) = roots_with_task();
        let task = roots.load("bench/comp").unwrap();
        assert_eq!(task.name, "comp");
        assert!(task.answers.is_some());
    }

    #[test]
    fn names_that_reach_outside_are_refused() {
        let (dir, roots) = roots_with_task();
        std::os::unix::fs::symlink("/etc", dir.path().join("etc")).unwrap();
        for name in [
            "bench/../x",
            "bench//etc",
            "bench/",
            "bench",
            "/etc/passwd",
            "bench/a\\b",
        ] {
            assert!(
                matches!(roots.load(name), Err(RootRefusal::BadName(_))),
                "{name}"
            );
        }
        assert!(matches!(
            roots.load("bench/etc"),
            Err(RootRefusal::NoTask(_))
        ));
        assert!(matches!(
            roots.load("bench/missing"),
            Err(RootRefusal::NoTask(_))
        ));
        let unknown = roots.load("other/comp").unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "server_task: no task root \"other\"; this server has bench"
        );
    }

    #[test]
    fn bad_root_arguments_are_refused() {
        assert!("nodir".parse::<TaskRootArg>().is_err());
        assert!("a=relative/dir".parse::<TaskRootArg>().is_err());
        assert!("a/b=/tmp".parse::<TaskRootArg>().is_err());
        let missing: TaskRootArg = "a=/nonexistent/aide-root".parse().unwrap();
        assert!(
            TaskRoots::new([missing])
                .unwrap_err()
                .contains("/nonexistent/aide-root")
        );
    }
}
