//! Pages of the assessment: ranking, explanations, what-if, sensitivity, appeals, XLSX and print.
