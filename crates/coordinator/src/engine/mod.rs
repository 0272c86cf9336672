//! The run loop: one leased run driven through the AIDE steps until a budget ends it.
