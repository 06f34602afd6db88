//! A credential held in memory. Its `Debug` never shows it and it has no `Display`, so a config
//! printed with `{:?}` (a panic message, a debug log line) cannot leak a token or a key; the value
//! is reached only by asking for it by name (`expose`).

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the one place that needs it (a comparison, a signature, a key).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "Secret(unset)"
        } else {
            "Secret(redacted)"
        })
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        let config = (Secret::new("hunter2-token"), Some(Secret::from("k3y")));
        let printed = format!("{config:?} {config:#?}");
        assert!(
            !printed.contains("hunter2") && !printed.contains("k3y"),
            "{printed}"
        );
        assert_eq!(config.0.expose(), "hunter2-token");
        assert_eq!(format!("{:?}", Secret::default()), "Secret(unset)");
    }
}
