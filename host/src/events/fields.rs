//! Reading a JSON object field by field, every error naming the field's full path.

use crate::domain::{Money, Person};
use serde_json::{Map, Value};

/// A problem with one field of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub problem: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

pub type Result<T> = std::result::Result<T, FieldError>;

/// Longest string accepted in any field (the request size limit bounds the total).
const MAX_STRING_CHARS: usize = 20_000;

/// An object being read, with its path ("data.applicant").
pub struct Obj<'a> {
    pub path: String,
    map: &'a Map<String, Value>,
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

pub fn error(field: impl Into<String>, problem: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        problem: problem.into(),
    }
}

impl<'a> Obj<'a> {
    pub fn root(value: &'a Value, path: &str) -> Result<Obj<'a>> {
        match value {
            Value::Object(map) => Ok(Obj {
                path: path.to_string(),
                map,
            }),
            _ => Err(error(
                if path.is_empty() { "body" } else { path },
                "must be a JSON object",
            )),
        }
    }

    pub fn field(&self, name: &str) -> String {
        join(&self.path, name)
    }

    /// The raw value of a field, if present and not null.
    pub fn raw(&self, name: &str) -> Option<&'a Value> {
        self.value(name)
    }

    fn value(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    pub fn obj(&self, name: &str) -> Result<Obj<'a>> {
        match self.value(name) {
            Some(v) => Obj::root(v, &self.field(name)),
            None => Err(error(self.field(name), "is required")),
        }
    }

    pub fn array(&self, name: &str) -> Result<&'a Vec<Value>> {
        match self.value(name) {
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(error(self.field(name), "must be an array")),
            None => Err(error(self.field(name), "is required")),
        }
    }

    pub fn opt_str(&self, name: &str) -> Result<Option<String>> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.chars().count() > MAX_STRING_CHARS => Err(error(
                self.field(name),
                format!("is longer than {MAX_STRING_CHARS} characters"),
            )),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(error(self.field(name), "must be a string")),
        }
    }

    /// A required, non-blank string.
    pub fn str(&self, name: &str) -> Result<String> {
        match self.opt_str(name)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(error(self.field(name), "must not be empty")),
            None => Err(error(self.field(name), "is required")),
        }
    }

    pub fn int(&self, name: &str, min: i64, max: i64) -> Result<i64> {
        match self.value(name) {
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) if (min..=max).contains(&i) => Ok(i),
                _ => Err(error(
                    self.field(name),
                    format!("must be a whole number from {min} to {max}"),
                )),
            },
            Some(_) => Err(error(self.field(name), "must be a number")),
            None => Err(error(self.field(name), "is required")),
        }
    }

    /// An absolute http(s) URL (the card's button opens it).
    pub fn url(&self, name: &str) -> Result<String> {
        let url = self.str(name)?;
        let ok = (url.starts_with("https://") || url.starts_with("http://"))
            && url.parse::<http::Uri>().is_ok_and(|u| u.host().is_some());
        if ok {
            Ok(url)
        } else {
            Err(error(
                self.field(name),
                "must be an absolute http or https URL",
            ))
        }
    }

    /// An ISO 8601 date ("2026-12-01") or date-time.
    pub fn date(&self, name: &str) -> Result<String> {
        let value = self.str(name)?;
        check_date(&self.field(name), &value)?;
        Ok(value)
    }

    pub fn opt_date(&self, name: &str) -> Result<Option<String>> {
        match self.opt_str(name)? {
            Some(v) if v.trim().is_empty() => Ok(None),
            Some(v) => {
                check_date(&self.field(name), &v)?;
                Ok(Some(v))
            }
            None => Ok(None),
        }
    }

    pub fn email(&self, name: &str) -> Result<String> {
        let email = self.str(name)?.trim().to_string();
        let valid = email.len() <= 254
            && !email.chars().any(char::is_whitespace)
            && email
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
        if valid {
            Ok(email)
        } else {
            Err(error(
                self.field(name),
                format!("{email:?} is not an email address"),
            ))
        }
    }

    pub fn money(&self, name: &str) -> Result<Money> {
        let m = self.obj(name)?;
        let value = match m.value("value") {
            Some(Value::String(s)) => s.trim().to_string(),
            Some(Value::Number(_)) => {
                return Err(error(
                    m.field("value"),
                    "must be a decimal string such as \"12500.00\", not a number",
                ));
            }
            Some(_) => return Err(error(m.field("value"), "must be a decimal string")),
            None => return Err(error(m.field("value"), "is required")),
        };
        if !is_decimal(&value) {
            return Err(error(
                m.field("value"),
                format!("{value:?} is not a decimal string such as \"12500.00\""),
            ));
        }
        let currency = m.str("currency")?.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(error(
                m.field("currency"),
                "must be a three-letter ISO 4217 code such as \"CNY\"",
            ));
        }
        Ok(Money { value, currency })
    }

    pub fn person(&self, name: &str) -> Result<Person> {
        let p = self.obj(name)?;
        Ok(Person {
            name: p.str("name")?,
            email: p.email("email")?,
        })
    }
}

fn is_decimal(value: &str) -> bool {
    let v = value.strip_prefix('-').unwrap_or(value);
    let (int, frac) = match v.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (v, None),
    };
    !int.is_empty()
        && int.len() <= 30
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac
            .is_none_or(|f| !f.is_empty() && f.len() <= 10 && f.bytes().all(|b| b.is_ascii_digit()))
}

fn check_date(field: &str, value: &str) -> Result<()> {
    let v = value.trim();
    let ok = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok()
        || chrono::DateTime::parse_from_rfc3339(v).is_ok();
    if ok {
        Ok(())
    } else {
        Err(error(
            field,
            format!("{value:?} is not an ISO 8601 date such as \"2026-12-01\""),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        assert!(is_decimal("12500.00") && is_decimal("0") && is_decimal("-5.5"));
        assert!(
            !is_decimal("1e3") && !is_decimal("12,500") && !is_decimal("") && !is_decimal("1.")
        );
    }

    #[test]
    fn money_errors_name_the_field() {
        let v = serde_json::json!({"amount": {"value": 12.5, "currency": "CNY"}});
        let o = Obj::root(&v, "data").unwrap();
        let e = o.money("amount").unwrap_err();
        assert_eq!(e.field, "data.amount.value");
        let v = serde_json::json!({"amount": {"value": "12.5", "currency": "yuan"}});
        let e = Obj::root(&v, "data").unwrap().money("amount").unwrap_err();
        assert_eq!(e.field, "data.amount.currency");
    }
}
