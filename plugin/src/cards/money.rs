//! Money as people read it: thousands grouped, the exact decimal kept, the currency named.

use crate::model::Money;

/// "12500.00" CNY → "¥12,500.00" for CNY and the common currencies with an unambiguous symbol,
/// "12,500.00 EUR"-style for the rest. The value is never parsed into a float.
pub fn format(money: &Money) -> String {
    let value = money.value.trim();
    let (sign, digits) = match value.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", value.strip_prefix('+').unwrap_or(value)),
    };
    let (int_part, frac_part) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let grouped = group_thousands(if int_part.is_empty() { "0" } else { int_part });
    let number = match frac_part {
        Some(f) => format!("{grouped}.{f}"),
        None => grouped,
    };
    let code = money.currency.trim().to_ascii_uppercase();
    match symbol(&code) {
        Some(sym) => format!("{sign}{sym}{number}"),
        None => format!("{sign}{number} {code}"),
    }
}

fn symbol(code: &str) -> Option<&'static str> {
    Some(match code {
        "CNY" => "¥",
        "USD" => "US$",
        "EUR" => "€",
        "GBP" => "£",
        "HKD" => "HK$",
        "JPY" => "JP¥",
        _ => return None,
    })
}

fn group_thousands(int_part: &str) -> String {
    let bytes = int_part.as_bytes();
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && (bytes.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(*b as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: &str, c: &str) -> Money {
        Money {
            value: v.into(),
            currency: c.into(),
        }
    }

    #[test]
    fn groups_and_keeps_exact_decimals() {
        assert_eq!(format(&m("12500.00", "CNY")), "¥12,500.00");
        assert_eq!(format(&m("1234567.891", "usd")), "US$1,234,567.891");
        assert_eq!(format(&m("999", "CHF")), "999 CHF");
        assert_eq!(format(&m("-1000.5", "EUR")), "-€1,000.5");
        assert_eq!(format(&m("-7", "CHF")), "-7 CHF");
        assert_eq!(format(&m("0.10", "CNY")), "¥0.10");
    }
}
