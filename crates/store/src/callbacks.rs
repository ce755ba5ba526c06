//! Callback tasks, attempts and case-progress notices.
