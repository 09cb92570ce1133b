//! Secrets and personal data out of anything that leaves the machine. On by
//! default; the export says what it removed, by rule, so a reader knows the
//! gaps are deliberate.

use std::collections::BTreeMap;

use regex::{Captures, Regex};

struct Rule {
    name: String,
    regex: Regex,
    /// Card-number candidates must pass Luhn, or order ids get eaten.
    luhn: bool,
    /// Keep capture group 1 (a URL's scheme and user, a header's name) so
    /// the reader still knows which system the secret was for.
    keep_prefix: bool,
}

pub struct Redactor {
    rules: Vec<Rule>,
    pub counts: BTreeMap<String, usize>,
}

/// Name, pattern, Luhn check, keep group 1.
const RULES: &[(&str, &str, bool, bool)] = &[
    (
        "jwt",
        r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}",
        false,
        false,
    ),
    (
        "bearer token",
        r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}",
        false,
        false,
    ),
    (
        "authorization header",
        r#"(?i)(authorization["']?\s*[:=]\s*["']?)(basic|digest|token)?\s*[A-Za-z0-9._~+/=-]{6,}"#,
        false,
        true,
    ),
    (
        "api key",
        r"\b(sk|rk|pk)_(live|test)_[A-Za-z0-9]{8,}",
        false,
        false,
    ),
    (
        "aws access key",
        r"\b(AKIA|ASIA)[0-9A-Z]{16}\b",
        false,
        false,
    ),
    (
        "url password",
        r"(?i)\b([a-z][a-z0-9+.-]*://[^:/\s@]+:)[^@/\s]+@",
        false,
        true,
    ),
    (
        "email",
        r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b",
        false,
        false,
    ),
    ("card number", r"\b\d(?:[ -]?\d){12,18}\b", true, false),
];

impl Default for Redactor {
    fn default() -> Self {
        Redactor {
            rules: RULES
                .iter()
                .map(|(name, re, luhn, keep_prefix)| Rule {
                    name: name.to_string(),
                    regex: Regex::new(re).expect("redaction rule compiles"),
                    luhn: *luhn,
                    keep_prefix: *keep_prefix,
                })
                .collect(),
            counts: BTreeMap::new(),
        }
    }
}

impl Redactor {
    /// The built-in rules plus `[[redact]]` rules from hopline.toml (already
    /// validated there); a config rule replaces its whole match.
    pub fn with_rules(extra: &[crate::config::RedactRule]) -> Redactor {
        let mut r = Redactor::default();
        for rule in extra {
            r.rules.push(Rule {
                name: rule.name.clone(),
                regex: rule.regex.clone(),
                luhn: false,
                keep_prefix: false,
            });
        }
        r
    }

    pub fn redact(&mut self, text: &str) -> String {
        let mut out = text.to_string();
        for rule in &self.rules {
            let mut n = 0;
            let replaced = rule.regex.replace_all(&out, |c: &Captures| {
                let whole = &c[0];
                if rule.luhn && !luhn(whole) {
                    return whole.to_string();
                }
                n += 1;
                match c.get(1).filter(|_| rule.keep_prefix) {
                    Some(prefix) => format!("{}[REDACTED]", prefix.as_str()),
                    None => format!("[REDACTED {}]", rule.name),
                }
            });
            if n > 0 {
                out = replaced.into_owned();
                *self.counts.entry(rule.name.clone()).or_default() += n;
            }
        }
        out
    }
}

fn luhn(candidate: &str) -> bool {
    let digits: Vec<u32> = candidate.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_rule_named_like_a_built_in_one_replaces_its_whole_match() {
        let mut r = Redactor::with_rules(&[crate::config::RedactRule {
            name: "url password".into(),
            regex: Regex::new(r"tok-\d+").unwrap(),
        }]);
        assert_eq!(
            r.redact("use tok-123 now"),
            "use [REDACTED url password] now"
        );
    }

    #[test]
    fn every_kind_of_secret_goes() {
        let mut r = Redactor::default();
        let planted = [
            "Authorization: Bearer abcdef123456789",
            "key sk_live_51HxYzAbCdEfGh",
            "aws AKIAIOSFODNN7EXAMPLE",
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlX2hlcmU",
            "db postgres://app:hunter2@db:5432/pay",
            "mail jane.doe@example.com",
            "card 4242 4242 4242 4242",
        ];
        let secrets = [
            "abcdef123456789",
            "sk_live_51HxYzAbCdEfGh",
            "AKIAIOSFODNN7EXAMPLE",
            "eyJhbGciOiJIUzI1NiJ9",
            "hunter2",
            "jane.doe@example.com",
            "4242 4242 4242 4242",
        ];
        for (text, secret) in planted.iter().zip(secrets) {
            let out = r.redact(text);
            assert!(!out.contains(secret), "{out}");
        }
        assert!(r.counts.contains_key("email"));
    }

    #[test]
    fn ids_and_amounts_survive() {
        let mut r = Redactor::default();
        let text = "evt_9b2e61f0c4d7 amount=4200 order 1234567890123 req_4c1d9e2a7b30";
        assert_eq!(r.redact(text), text);
        assert!(r.counts.is_empty());
    }
}
