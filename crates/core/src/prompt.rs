//! Prompt building for draft, improve, debug and review, section by section (ARCHITECTURE §4).
