//! reconciliation_delta: one business object (a charge, an order, a ledger
//! entry, the payment event itself) carries a different amount or currency
//! in two services' records or rows. Each service is right by its own
//! lights, so no log says "error": only the comparison shows it.
//!
//! Not findings: a refund (a negative amount, or a record about a refund),
//! the same service repeating itself, and the same amount spelt in minor
//! units and as a decimal when a field name or a unit field says which is
//! which (`amount_minor`, `amount_cents`, `unit: "cents"`). A bare `amount`
//! of 1234 beside another bare `amount` of 12.34 is a finding: nothing says
//! the units, and a factor of 100 is never taken as proof.

use std::collections::BTreeMap;

use serde_json::json;

use crate::config::Config;
use crate::record::{Kind, Record};

use super::{Finding, FindingKind, event_ids};

/// Kinds of business object, as their ID fields are named without `_`,
/// `-`, case and the `id` at the end: `order_id`, `orderId`, `OrderID` and
/// an `id` inside an `order` object all name an order.
const BUSINESS_OBJECTS: &[&str] = &[
    "charge",
    "payment",
    "paymentintent",
    "order",
    "invoice",
    "ledgerentry",
    "entry",
    "transaction",
];

/// The business objects a record's fields name, as `(kind, value)`, each
/// with the field as written (for the finding's IDs).
fn business_objects(fields: &[(String, String)]) -> Vec<((String, String), String)> {
    fields
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .filter_map(|(k, v)| {
            let last = squashed(last_segment(k), &mut [0; 32]).to_string();
            let kind = match last.strip_suffix("id") {
                Some("") => squashed(last_segment(parent(k)), &mut [0; 32]).to_string(),
                Some(kind) => kind.to_string(),
                None if last == "paymentintent" => last,
                None => return None,
            };
            BUSINESS_OBJECTS
                .contains(&kind.as_str())
                .then(|| ((kind, v.clone()), k.clone()))
        })
        .collect()
}

/// One amount a record states: the field, its text, its value, the unit
/// the name or a `unit` field says, and the currency beside it (in the
/// same object first: `price.currency`), else anywhere in the record.
struct Amount<'f> {
    field: &'f str,
    text: &'f str,
    value: Decimal,
    unit: Unit,
    currency: Option<String>,
}

/// Every amount a record's fields state, in field order.
fn amounts(fields: &[(String, String)]) -> impl Iterator<Item = Amount<'_>> {
    fields.iter().filter_map(move |(k, v)| {
        let mut unit = amount_field(k)?;
        let value = Decimal::parse(v)?;
        let near = |pick: fn(&str) -> bool| {
            fields
                .iter()
                .filter(|(f, _)| pick(f))
                .min_by_key(|(f, _)| parent(f) != parent(k))
                .map(|(_, v)| v.trim().to_ascii_uppercase())
        };
        let currency = near(is_currency_field).filter(|c| !c.is_empty());
        if unit == Unit::Unstated
            && let Some(said) = near(is_unit_field)
        {
            unit = match said.to_ascii_lowercase().as_str() {
                "minor" | "cents" | "cent" | "minor_units" | "pence" => Unit::Minor,
                "major" | "decimal" => Unit::Major,
                _ => Unit::Unstated,
            };
        }
        Some(Amount {
            field: k,
            text: v,
            value,
            unit,
            currency,
        })
    })
}

/// Currencies whose minor unit is not a hundredth (ISO 4217 exponents).
const ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];
const THREE_DECIMAL: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

fn exponent(currency: Option<&str>) -> u32 {
    match currency {
        Some(c) if ZERO_DECIMAL.contains(&c) => 0,
        Some(c) if THREE_DECIMAL.contains(&c) => 3,
        _ => 2,
    }
}

/// What a field name or a unit field says about an amount's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// Cents, pence: `amount_minor`, `amount_cents`.
    Minor,
    /// Whole units with decimals: `amount_decimal`, `unit: "major"`.
    Major,
    /// A bare `amount`: compared as written.
    Unstated,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Minor => "minor",
            Unit::Major => "major",
            Unit::Unstated => "unstated",
        }
    }
}

/// An exact decimal: `mantissa × 10^-scale`. Amounts are compared exactly;
/// a float would call 0.1 + 0.2 a delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decimal {
    mantissa: i128,
    scale: u32,
}

impl Decimal {
    fn parse(text: &str) -> Option<Decimal> {
        let t = text.trim().trim_matches('"');
        let (neg, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() && frac.is_empty()
            || whole.len() + frac.len() > 30
            || !whole
                .bytes()
                .chain(frac.bytes())
                .all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let mut mantissa: i128 = 0;
        for b in whole.bytes().chain(frac.bytes()) {
            mantissa = mantissa * 10 + i128::from(b - b'0');
        }
        Some(Decimal {
            mantissa: if neg { -mantissa } else { mantissa },
            scale: frac.len() as u32,
        })
    }

    /// `self × 10^-places`.
    fn shifted(self, places: u32) -> Decimal {
        Decimal {
            mantissa: self.mantissa,
            scale: self.scale + places,
        }
    }

    fn text(self) -> String {
        let digits = self.mantissa.unsigned_abs().to_string();
        let sign = if self.mantissa < 0 { "-" } else { "" };
        let scale = self.scale as usize;
        if scale == 0 {
            return format!("{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (whole, frac) = padded.split_at(padded.len() - scale);
        format!("{sign}{whole}.{frac}")
    }

    fn same(self, other: Decimal) -> bool {
        let s = self.scale.max(other.scale);
        let up = |d: Decimal| {
            10i128
                .checked_pow(s - d.scale)
                .and_then(|f| d.mantissa.checked_mul(f))
        };
        match (up(self), up(other)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }
}

/// One amount one record states for the business objects it names.
#[derive(Debug)]
struct Stated<'a> {
    record: &'a Record,
    field: &'a str,
    text: &'a str,
    amount: Decimal,
    unit: Unit,
    currency: Option<String>,
}

impl Stated<'_> {
    fn agrees_with(&self, other: &Stated) -> bool {
        if let (Some(a), Some(b)) = (&self.currency, &other.currency)
            && a != b
        {
            return false;
        }
        let exp = exponent(self.currency.as_deref().or(other.currency.as_deref()));
        let (a, b) = (self.amount, other.amount);
        match (self.unit, other.unit) {
            (x, y) if x == y => a.same(b),
            (Unit::Minor, Unit::Major) => a.shifted(exp).same(b),
            (Unit::Major, Unit::Minor) => a.same(b.shifted(exp)),
            // One side says its unit, the other does not: the bare amount
            // may be in either, and both readings are stated, not guessed.
            (Unit::Minor, Unit::Unstated) => a.same(b) || a.shifted(exp).same(b),
            (Unit::Unstated, Unit::Minor) => a.same(b) || a.same(b.shifted(exp)),
            (Unit::Major, Unit::Unstated) => a.same(b) || a.same(b.shifted(exp)),
            (Unit::Unstated, Unit::Major) => a.same(b) || a.shifted(exp).same(b),
            _ => a.same(b),
        }
    }

    /// `32981 EUR (amount)`: as logged, with the field that says (or does
    /// not say) the unit.
    fn describe(&self) -> String {
        match &self.currency {
            Some(c) => format!("{} {c} ({})", self.text, self.field),
            None => format!("{} ({})", self.text, self.field),
        }
    }

    fn detail(&self) -> serde_json::Value {
        json!({
            "service": self.record.service,
            "field": self.field,
            "amount": self.text,
            "currency": self.currency,
            "unit": self.unit.as_str(),
            "source": self.record.source.to_string(),
        })
    }
}

fn last_segment(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

/// A field name without `_` and `-`, in ASCII lower case, written into
/// `buf` (no allocation: every field of every amount record passes here);
/// empty for names too long or not ASCII, which are no amount field.
fn squashed<'b>(name: &str, buf: &'b mut [u8; 32]) -> &'b str {
    let mut n = 0;
    for b in name.bytes().filter(|b| !matches!(b, b'_' | b'-')) {
        if n == buf.len() || !b.is_ascii() {
            return "";
        }
        buf[n] = b.to_ascii_lowercase();
        n += 1;
    }
    std::str::from_utf8(&buf[..n]).unwrap_or("")
}

/// The unit an amount field's name states, or None when it is no amount.
fn amount_field(name: &str) -> Option<Unit> {
    match squashed(last_segment(name), &mut [0; 32]) {
        // An order's total is what its payment charges: shops log it as
        // `total_minor` or `total_amount` (checked on tests/foreign).
        "amount" | "totalamount" => Some(Unit::Unstated),
        "amountminor" | "amountminorunits" | "amountcents" | "amountincents" | "totalminor"
        | "totalcents" => Some(Unit::Minor),
        "amountdecimal" | "amountmajor" => Some(Unit::Major),
        _ => None,
    }
}

fn is_currency_field(name: &str) -> bool {
    matches!(
        squashed(last_segment(name), &mut [0; 32]),
        "currency" | "currencycode" | "amountcurrency"
    )
}

fn is_unit_field(name: &str) -> bool {
    matches!(
        squashed(last_segment(name), &mut [0; 32]),
        "unit" | "amountunit"
    )
}

fn parent(key: &str) -> &str {
    key.rsplit_once('.').map_or("", |(p, _)| p)
}

/// A record's fields: its attributes, with the JSON objects some columns
/// hold (an idempotency row's `result_json`) opened one level.
fn fields(record: &Record) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(record.attrs.len());
    for (k, v) in &record.attrs {
        if v.starts_with('{')
            && let Ok(serde_json::Value::Object(map)) = serde_json::from_str(v)
        {
            for (inner, value) in map {
                let text = match value {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Number(n) => n.to_string(),
                    _ => continue,
                };
                out.push((format!("{k}.{inner}"), text));
            }
            continue;
        }
        out.push((k.clone(), v.clone()));
    }
    out
}

fn is_refund(record: &Record, fields: &[(String, String)]) -> bool {
    record.message.to_ascii_lowercase().contains("refund")
        || fields
            .iter()
            .any(|(k, _)| squashed(last_segment(k), &mut [0; 32]).starts_with("refund"))
}

/// The amount one record states, as written: the money a charge moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    /// The business object it is about (`charge_id = ch_…`), if named.
    pub object: Option<(String, String)>,
    pub field: String,
    pub amount: String,
    pub currency: Option<String>,
    /// Whether the field name or a unit field says minor units.
    pub minor: bool,
}

impl Money {
    /// `self.amount` in major units when the unit is known to be minor (or
    /// as written otherwise), exactly, as text.
    pub fn major_text(&self) -> String {
        let Some(d) = Decimal::parse(&self.amount) else {
            return self.amount.clone();
        };
        let d = if self.minor {
            d.shifted(exponent(self.currency.as_deref()))
        } else {
            d
        };
        d.text()
    }
}

/// The first amount a record states, with its currency and the business
/// object it names.
pub fn money_of(record: &Record) -> Option<Money> {
    let fields = fields(record);
    let a = amounts(&fields).next()?;
    Some(Money {
        object: business_objects(&fields)
            .into_iter()
            .next()
            .map(|((_, value), field)| (last_segment(&field).to_string(), value)),
        field: a.field.to_string(),
        amount: a.text.trim().trim_matches('"').to_string(),
        currency: a.currency,
        minor: a.unit == Unit::Minor,
    })
}

/// Sums amounts written as decimal text, exactly; None if one is not a
/// number.
pub fn sum_amounts<'a>(amounts: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut total = Decimal {
        mantissa: 0,
        scale: 0,
    };
    for a in amounts {
        let d = Decimal::parse(a)?;
        let s = total.scale.max(d.scale);
        let up = |x: Decimal| x.mantissa.checked_mul(10i128.checked_pow(s - x.scale)?);
        total = Decimal {
            mantissa: up(total)?.checked_add(up(d)?)?,
            scale: s,
        };
    }
    Some(total.text())
}

/// Whether a record may state an amount at all: a cheap look before the
/// fields are read (most records of most events state none).
fn may_state_amount(record: &Record) -> bool {
    // `amount` or `total` anywhere in the name, by its first byte.
    let holds = |k: &[u8], word: &[u8]| {
        (0..(k.len() + 1).saturating_sub(word.len()))
            .any(|i| k[i] | 0x20 == word[0] && k[i..i + word.len()].eq_ignore_ascii_case(word))
    };
    record.attrs.iter().any(|(k, v)| {
        v.starts_with('{') || holds(k.as_bytes(), b"amount") || holds(k.as_bytes(), b"total")
    })
}

pub fn reconciliation_deltas(records: &[Record], config: &Config) -> Vec<Finding> {
    let candidates: Vec<bool> = records.iter().map(may_state_amount).collect();
    // Two records must state amounts for two services to disagree.
    if candidates.iter().filter(|c| **c).nth(1).is_none() {
        return Vec::new();
    }
    // business (kind, value) -> the field that first named it, and what
    // each record says of its amount.
    let mut by_object: BTreeMap<(String, String), (String, Vec<Stated>)> = BTreeMap::new();
    let all_fields: Vec<Vec<(String, String)>> = records
        .iter()
        .zip(&candidates)
        .map(|(r, c)| if *c { fields(r) } else { Vec::new() })
        .collect();
    for (record, fields) in records.iter().zip(&all_fields) {
        if record.kind == Kind::Metric || is_refund(record, fields) {
            continue;
        }
        let mut objects = business_objects(fields);
        for id in &record.ids {
            if config.id_kind(&id.field) == Some("event") {
                objects.push((("event".into(), id.value.clone()), id.field.clone()));
            }
        }
        objects.sort();
        objects.dedup_by(|a, b| a.0 == b.0);
        if objects.is_empty() {
            continue;
        }
        for a in amounts(fields).filter(|a| a.value.mantissa >= 0) {
            for (object, field) in &objects {
                // `order.id` says more than `id`.
                let named = match field.rsplit('.').collect::<Vec<_>>().as_slice() {
                    [id, object, ..] if id.eq_ignore_ascii_case("id") => format!("{object}.{id}"),
                    _ => last_segment(field).to_string(),
                };
                let entry = by_object
                    .entry(object.clone())
                    .or_insert_with(|| (named, Vec::new()));
                entry.1.push(Stated {
                    record,
                    field: a.field,
                    text: a.text,
                    amount: a.value,
                    unit: a.unit,
                    currency: a.currency.clone(),
                });
            }
        }
    }

    let mut out = Vec::new();
    let mut reported: Vec<(&crate::record::SourceRef, &crate::record::SourceRef)> = Vec::new();
    for ((_, value), (field, stated)) in &by_object {
        let pair = stated.iter().enumerate().find_map(|(j, later)| {
            stated[..j]
                .iter()
                .find(|earlier| {
                    earlier.record.service != later.record.service && !earlier.agrees_with(later)
                })
                .map(|earlier| (earlier, later))
        });
        let Some((a, b)) = pair else {
            continue;
        };
        let key = (&a.record.source, &b.record.source);
        if reported.contains(&key) {
            continue;
        }
        reported.push(key);
        let mut ids = event_ids(records, config, &["event", "idem"]);
        ids.insert(field.clone(), value.clone());
        // The difference, when both are in one unit and no two currencies
        // (one side often leaves its currency out).
        let one_currency = match (&a.currency, &b.currency) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        };
        let delta = (a.unit == b.unit && one_currency)
            .then(|| {
                let (x, y) = (a.amount, b.amount);
                let s = x.scale.max(y.scale);
                let up = |d: Decimal| d.mantissa.checked_mul(10i128.checked_pow(s - d.scale)?);
                Some(Decimal {
                    mantissa: up(y)?.checked_sub(up(x)?)?,
                    scale: s,
                })
            })
            .flatten()
            .filter(|d| d.mantissa != 0);
        let summary = format!(
            "{field} {value}: {} says {}, {} says {}{}",
            a.record.service,
            a.describe(),
            b.record.service,
            b.describe(),
            delta.map_or(String::new(), |d| format!(" (off by {})", d.text()))
        );
        let detail = json!({
            "business_id": {"field": field, "value": value},
            "amounts": [a.detail(), b.detail()],
            "delta": delta.map(|d| d.text()),
        });
        out.push(
            Finding::new(
                FindingKind::ReconciliationDelta,
                ids,
                summary,
                [a.record.source.clone(), b.record.source.clone()],
            )
            .with_detail(detail),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::footprint::tests::rec;

    fn money(line: u64, service: &str, fields: &[(&str, &str)], msg: &str) -> Record {
        let mut r = rec(line as i64, line, service, &[("event_id", "evt_1")], msg);
        r.attrs
            .extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        r
    }

    fn found(records: &[Record]) -> Vec<Finding> {
        reconciliation_deltas(records, &Config::default())
    }

    #[test]
    fn decimals_compare_exactly() {
        let d = |s| Decimal::parse(s).unwrap();
        assert!(d("12.30").same(d("12.3")));
        assert!(d("1234").shifted(2).same(d("12.34")));
        assert!(!d("1234").same(d("12.34")));
        assert!(Decimal::parse("1e3").is_none());
        assert!(Decimal::parse("").is_none());
        assert!(Decimal::parse(".").is_none());
        assert_eq!(d("-5").mantissa, -5);
        assert_eq!(d("1234").shifted(2).text(), "12.34");
        assert_eq!(d("5").shifted(3).text(), "0.005");
        assert_eq!(
            sum_amounts(["12.34", "0.66", "100"]).as_deref(),
            Some("113.00")
        );
        assert_eq!(sum_amounts(["12", "x"]), None);
    }

    #[test]
    fn a_different_amount_in_another_service_is_a_delta() {
        let records = vec![
            money(
                1,
                "worker",
                &[
                    ("charge_id", "ch_1"),
                    ("amount", "1234"),
                    ("currency", "EUR"),
                ],
                "charge created",
            ),
            money(
                2,
                "ledger",
                &[("charge_id", "ch_1"), ("amount", "1243")],
                "ledger entry written",
            ),
        ];
        let f = found(&records);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].kind, FindingKind::ReconciliationDelta);
        assert_eq!(f[0].ids["charge_id"], "ch_1");
        assert_eq!(f[0].ids["event_id"], "evt_1");
        assert_eq!(f[0].evidence.len(), 2);
        assert!(
            f[0].summary.contains("1234 EUR (amount)"),
            "{}",
            f[0].summary
        );
        assert!(f[0].summary.contains("off by 9"), "{}", f[0].summary);
        let detail = f[0].detail.as_ref().unwrap().value();
        assert_eq!(detail["amounts"][1]["amount"], "1243");
    }

    #[test]
    fn a_different_currency_is_a_delta() {
        let records = vec![
            money(
                1,
                "api",
                &[("amount", "4200"), ("currency", "EUR")],
                "received",
            ),
            money(
                2,
                "worker",
                &[("amount", "4200"), ("currency", "usd")],
                "charged",
            ),
        ];
        assert_eq!(found(&records).len(), 1);
    }

    #[test]
    fn units_said_by_name_or_unit_field_agree_a_bare_factor_of_100_does_not() {
        let minor = money(
            1,
            "worker",
            &[("charge_id", "ch_1"), ("amount_cents", "1234")],
            "charged",
        );
        let decimal = money(
            2,
            "ledger",
            &[
                ("charge_id", "ch_1"),
                ("amount", "12.34"),
                ("currency", "EUR"),
            ],
            "written",
        );
        assert!(found(&[minor.clone(), decimal.clone()]).is_empty());
        let said = money(
            3,
            "billing",
            &[("charge_id", "ch_1"), ("amount", "1234"), ("unit", "cents")],
            "charged",
        );
        assert!(found(&[said, decimal.clone()]).is_empty());
        let bare = money(
            3,
            "billing",
            &[("charge_id", "ch_1"), ("amount", "1234")],
            "charged",
        );
        assert_eq!(found(&[bare, decimal]).len(), 1);
        // Yen have no minor unit: 1234 minor is 1234 yen.
        let yen_minor = money(
            4,
            "worker",
            &[
                ("charge_id", "ch_2"),
                ("amount_minor", "1234"),
                ("currency", "JPY"),
            ],
            "charged",
        );
        let yen = money(
            5,
            "ledger",
            &[
                ("charge_id", "ch_2"),
                ("amount_decimal", "12.34"),
                ("currency", "JPY"),
            ],
            "written",
        );
        assert_eq!(found(&[yen_minor, yen]).len(), 1);
    }

    #[test]
    fn refunds_same_service_and_row_json_are_read_right() {
        let charge = money(
            1,
            "worker",
            &[
                ("charge_id", "ch_1"),
                ("amount", "1234"),
                ("currency", "EUR"),
            ],
            "charge created",
        );
        let refund = money(
            2,
            "ledger",
            &[
                ("charge_id", "ch_1"),
                ("amount", "-1234"),
                ("currency", "EUR"),
            ],
            "ledger entry written",
        );
        let partial_refund = money(
            3,
            "worker",
            &[
                ("charge_id", "ch_1"),
                ("amount", "500"),
                ("currency", "EUR"),
            ],
            "refund created",
        );
        let again = money(
            4,
            "worker",
            &[
                ("charge_id", "ch_1"),
                ("amount", "999"),
                ("currency", "EUR"),
            ],
            "charge created",
        );
        assert!(found(&[charge.clone(), refund, partial_refund, again]).is_empty());
        let mut row = rec(5, 5, "postgres", &[("idem_key", "k1")], "row");
        row.kind = Kind::IdemRow;
        row.attrs.push((
            "result_json".into(),
            r#"{"amount": 1243, "currency": "EUR", "charge_id": "ch_1"}"#.into(),
        ));
        let f = found(&[charge, row]);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].summary.contains("postgres says 1243 EUR"),
            "{}",
            f[0].summary
        );
    }
}
