//! Benchmark sweeps (issue 11): a [`spec`] names tasks, seeds and arms; its cells are every
//! task × seed × arm, each run with the arm's settings and the cell's seed; the [`report`]
//! aggregates their grades, and the [`plot`] draws each task's score against the step.

pub mod definition;
pub mod plot;
pub mod report;
pub mod spec;

pub use definition::{
    CellKey, CellStatus, Grader, SweepArm, SweepDefinition, SweepId, SweepStatus, SweepTask,
};
pub use spec::{Budget, Cell, GraderFile, Spec, SpecError, TaskSource};
