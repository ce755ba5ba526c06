//! Triage of a new opinion: category, sentiment, urgency, police or not, department.
