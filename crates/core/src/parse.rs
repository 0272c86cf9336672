//! Parsing of author replies: the plan before the first code fence and the code itself.
