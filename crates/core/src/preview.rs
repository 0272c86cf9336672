//! Data preview of a task directory, as shown to the author in draft and debug prompts.
