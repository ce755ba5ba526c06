//! minyi-assess: assessment schemes (综合考评), indicator normalisation, weighted scores,
//! rule outcomes (merit, award ineligibility, accountability) with fairness guards,
//! explanations, what-if and sensitivity.
//!
//! Pure and deterministic: the same scheme and inputs give byte-identical results. This
//! crate must not do IO, async or SQL; callers hand it numbers and scheme text.
