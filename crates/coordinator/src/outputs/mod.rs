//! A run's outputs on disk: best solution, best submission, journal, tree, config and report.
