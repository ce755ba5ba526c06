//! The closed vocabularies of the practice: channels, topics, categories, sentiment,
//! urgency and linked departments. Each has a stable snake_case code (stored, sent over
//! the API, used in files) and a zh-CN label; parsing rejects anything else.

/// Declares a closed vocabulary with a stable code and a zh-CN label for each member.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident => $code:literal, $zh:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name { $(#[serde(rename = $code)] $variant),+ }

        impl $name {
            /// Every member, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable code stored in databases and files.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// The zh-CN name shown to users.
            pub fn label_zh(self) -> &'static str {
                match self { $($name::$variant => $zh),+ }
            }

            /// Parses a stable code; anything else is an error naming the allowed codes.
            pub fn parse(code: &str) -> Result<Self, $crate::error::ParseError> {
                match code.trim() {
                    $($code => Ok($name::$variant),)+
                    other => Err($crate::error::ParseError::UnknownCode {
                        what: $what,
                        got: other.chars().take(40).collect(),
                        allowed: vec![$($code),+].join(", "),
                    }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::error::ParseError;
            fn from_str(s: &str) -> Result<Self, $crate::error::ParseError> { Self::parse(s) }
        }
    };
}
pub(crate) use vocabulary;

vocabulary! {
    /// Where an opinion or rating came from (渠道).
    Channel, "channel" {
        WebForm => "web_form", "网上留言";
        QrCard => "qr_card", "警民联系卡/联系牌扫码";
        Sms => "sms", "短信";
        Hotline => "hotline", "电话";
        Api => "api", "系统接口";
        Open311 => "open311", "Open311 接口";
        RatingDevice => "rating_device", "电子评价器";
        SuggestionBox => "suggestion_box", "征求意见箱";
        GridPlatform => "grid_platform", "96995 网格化服务管理平台";
        BulkSms => "bulk_sms", "企信通短信";
        Microblog => "microblog", "警务微博";
        Visit => "visit", "走访";
        Questionnaire => "questionnaire", "问卷";
        Forum => "forum", "民情恳谈";
        Mailbox => "mailbox", "局长信箱";
        Callback => "callback", "回访";
        Survey => "survey", "测评";
    }
}

vocabulary! {
    /// The three topics the source document names for collected opinions.
    Topic, "topic" {
        CrimeFighting => "crime_fighting", "打击犯罪";
        ManagementService => "management_service", "管理服务";
        WorkStyle => "work_style", "工作作风";
    }
}

vocabulary! {
    /// What an opinion is about (the analysts' category).
    Category, "category" {
        CrimeReport => "crime_report", "报案线索";
        CaseProgress => "case_progress", "案件进展";
        PublicOrder => "public_order", "治安秩序";
        Drugs => "drugs", "禁毒";
        Fraud => "fraud", "电信诈骗";
        Traffic => "traffic", "交通管理";
        VehicleAdmin => "vehicle_admin", "车驾管业务";
        Household => "household", "户籍业务";
        ExitEntry => "exit_entry", "出入境业务";
        Conduct => "conduct", "民警作风";
        Emergency110 => "emergency_110", "报警求助";
        Praise => "praise", "表扬";
        Suggestion => "suggestion", "意见建议";
        NonPolice => "non_police", "非警务事项";
        Other => "other", "其他";
    }
}

impl Category {
    /// The document's three topics, for reports that group by them.
    pub fn topic(self) -> Topic {
        match self {
            Category::CrimeReport
            | Category::CaseProgress
            | Category::Drugs
            | Category::Fraud
            | Category::Emergency110 => Topic::CrimeFighting,
            Category::Conduct | Category::Praise => Topic::WorkStyle,
            Category::PublicOrder
            | Category::Traffic
            | Category::VehicleAdmin
            | Category::Household
            | Category::ExitEntry
            | Category::Suggestion
            | Category::NonPolice
            | Category::Other => Topic::ManagementService,
        }
    }
}

vocabulary! {
    /// The tone of an opinion.
    Sentiment, "sentiment" {
        Positive => "positive", "正面";
        Neutral => "neutral", "中性";
        Negative => "negative", "负面";
    }
}

vocabulary! {
    /// Whether an opinion must be handled the same day.
    Urgency, "urgency" {
        Urgent => "urgent", "紧急";
        Normal => "normal", "一般";
    }
}

vocabulary! {
    /// Kinds of linked non-police department (联动部门).
    DepartmentKind, "department" {
        HousingConstruction => "housing_construction", "住房和城乡建设";
        Land => "land", "自然资源（土地）";
        Petition => "petition", "信访";
        Health => "health", "卫生健康";
        Labour => "labour", "人力资源和社会保障";
        Utilities => "utilities", "水电气公用事业";
        MarketRegulation => "market_regulation", "市场监管";
        Education => "education", "教育";
        Other => "other", "其他部门";
    }
}

vocabulary! {
    /// A resident's verdict on an answer, a service or a callback.
    Verdict, "verdict" {
        Satisfied => "satisfied", "满意";
        BasicallySatisfied => "basically_satisfied", "基本满意";
        Dissatisfied => "dissatisfied", "不满意";
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseError;

    #[test]
    fn every_code_round_trips_and_is_unique() {
        fn check<T: Copy + PartialEq + std::fmt::Debug>(
            all: &[T],
            code: fn(T) -> &'static str,
            parse: fn(&str) -> Result<T, ParseError>,
        ) {
            let mut seen = std::collections::HashSet::new();
            for &v in all {
                assert!(seen.insert(code(v)), "duplicate code {}", code(v));
                assert_eq!(parse(code(v)).unwrap(), v);
            }
        }
        check(Channel::ALL, Channel::code, Channel::parse);
        check(Topic::ALL, Topic::code, Topic::parse);
        check(Category::ALL, Category::code, Category::parse);
        check(Sentiment::ALL, Sentiment::code, Sentiment::parse);
        check(Urgency::ALL, Urgency::code, Urgency::parse);
        check(
            DepartmentKind::ALL,
            DepartmentKind::code,
            DepartmentKind::parse,
        );
        check(Verdict::ALL, Verdict::code, Verdict::parse);
    }

    #[test]
    fn serde_uses_the_stored_codes() {
        for c in Category::ALL {
            assert_eq!(
                serde_json::to_string(c).unwrap(),
                format!("\"{}\"", c.code())
            );
        }
        assert_eq!(
            serde_json::from_str::<Category>("\"emergency_110\"").unwrap(),
            Category::Emergency110
        );
        for c in Channel::ALL {
            assert_eq!(
                serde_json::to_string(c).unwrap(),
                format!("\"{}\"", c.code())
            );
        }
    }

    #[test]
    fn unknown_code_names_what_and_allowed() {
        let err = Category::parse("weather").unwrap_err().to_string();
        assert!(err.contains("category"), "{err}");
        assert!(err.contains("weather"), "{err}");
        assert!(err.contains("crime_report"), "{err}");
    }
}
