//! The greedy AIDE search policy of ARCHITECTURE §4.
