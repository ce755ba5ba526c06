//! Storage of the analysis workspaces: analysts' confirmations, relabels and escalations.
