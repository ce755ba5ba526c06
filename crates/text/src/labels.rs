//! The label vocabularies the classifier predicts. The codes are the same stable
//! snake_case codes as minyi-core's taxonomy; this crate depends on nothing of ours, so
//! it keeps its own copy and a test pins every code.

use crate::error::TextError;

/// Declares a closed label set with stable codes, in a fixed order that is also the
/// order of the model's output columns (so reordering would break stored models).
macro_rules! labels {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident => $code:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name { $(#[serde(rename = $code)] $variant),+ }

        impl $name {
            /// Every member, in model column order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable code.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// Parses a stable code (surrounding whitespace ignored).
            pub fn parse(code: &str) -> Result<Self, TextError> {
                match code.trim() {
                    $($code => Ok($name::$variant),)+
                    other => Err(TextError::UnknownLabel {
                        kind: $what,
                        got: other.chars().take(40).collect(),
                    }),
                }
            }

            /// Column index of this label in the model.
            pub fn index(self) -> usize {
                self as usize
            }

            /// The label at a model column, if the column exists.
            pub fn from_index(i: usize) -> Option<Self> {
                Self::ALL.get(i).copied()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }

        impl std::str::FromStr for $name {
            type Err = TextError;
            fn from_str(s: &str) -> Result<Self, TextError> { Self::parse(s) }
        }
    };
}

labels! {
    /// What an opinion is about.
    Category, "category" {
        CrimeReport => "crime_report",
        CaseProgress => "case_progress",
        PublicOrder => "public_order",
        Drugs => "drugs",
        Fraud => "fraud",
        Traffic => "traffic",
        VehicleAdmin => "vehicle_admin",
        Household => "household",
        ExitEntry => "exit_entry",
        Conduct => "conduct",
        Emergency110 => "emergency_110",
        Praise => "praise",
        Suggestion => "suggestion",
        NonPolice => "non_police",
        Other => "other",
    }
}

labels! {
    /// The tone of an opinion.
    Sentiment, "sentiment" {
        Positive => "positive",
        Neutral => "neutral",
        Negative => "negative",
    }
}

labels! {
    /// Whether an opinion must be handled the same day.
    Urgency, "urgency" {
        Urgent => "urgent",
        Normal => "normal",
    }
}

labels! {
    /// The linked department for a non-police matter.
    Department, "department" {
        HousingConstruction => "housing_construction",
        Land => "land",
        Petition => "petition",
        Health => "health",
        Labour => "labour",
        Utilities => "utilities",
        MarketRegulation => "market_regulation",
        Education => "education",
        Other => "other",
    }
}

/// The four things the classifier predicts; each has its own model head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelKind {
    Category,
    Sentiment,
    Urgency,
    Department,
}

impl LabelKind {
    /// Every head, in model order.
    pub const ALL: [LabelKind; 4] = [
        LabelKind::Category,
        LabelKind::Sentiment,
        LabelKind::Urgency,
        LabelKind::Department,
    ];

    /// The stable code of the head.
    pub fn code(self) -> &'static str {
        match self {
            LabelKind::Category => "category",
            LabelKind::Sentiment => "sentiment",
            LabelKind::Urgency => "urgency",
            LabelKind::Department => "department",
        }
    }

    /// The codes of this head's classes, in column order.
    pub fn class_codes(self) -> Vec<&'static str> {
        match self {
            LabelKind::Category => Category::ALL.iter().map(|c| c.code()).collect(),
            LabelKind::Sentiment => Sentiment::ALL.iter().map(|c| c.code()).collect(),
            LabelKind::Urgency => Urgency::ALL.iter().map(|c| c.code()).collect(),
            LabelKind::Department => Department::ALL.iter().map(|c| c.code()).collect(),
        }
    }

    /// Number of classes of this head.
    pub fn class_count(self) -> usize {
        match self {
            LabelKind::Category => Category::ALL.len(),
            LabelKind::Sentiment => Sentiment::ALL.len(),
            LabelKind::Urgency => Urgency::ALL.len(),
            LabelKind::Department => Department::ALL.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_indexes_follow_declaration_order() {
        for (i, c) in Category::ALL.iter().enumerate() {
            assert_eq!(Category::parse(c.code()).ok(), Some(*c));
            assert_eq!(c.index(), i);
            assert_eq!(Category::from_index(i), Some(*c));
        }
        assert_eq!(Category::from_index(Category::ALL.len()), None);
        for d in Department::ALL {
            assert_eq!(Department::parse(d.code()).ok(), Some(*d));
        }
        assert!(Sentiment::parse(" negative ").is_ok());
        assert!(Urgency::parse("URGENT").is_err());
    }

    #[test]
    fn serde_uses_the_codes() {
        let json = serde_json::to_string(&Category::Emergency110).unwrap_or_default();
        assert_eq!(json, "\"emergency_110\"");
        let dept: Result<Department, _> = serde_json::from_str("\"housing_construction\"");
        assert_eq!(dept.ok(), Some(Department::HousingConstruction));
    }
}
