//! Survey waves, questionnaires, sample allocation and responses.
