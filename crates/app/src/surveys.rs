//! Three-indicator surveys (三项指标测评): waves, allocation, responses, estimates.
