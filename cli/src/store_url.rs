//! `--store` values: where the CLI keeps its data.

use std::fmt;
use std::str::FromStr;

/// A parsed `--store` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    /// `sqlite:PATH`, or `sqlite::memory:` for a private in-memory database.
    Sqlite(String),
}

impl FromStr for StoreUrl {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.split_once(':') {
            Some(("sqlite", "")) => Err("sqlite: needs a path, e.g. sqlite:supportzen.db".into()),
            Some(("sqlite", path)) => Ok(StoreUrl::Sqlite(path.to_string())),
            _ => Err(format!(
                "unknown store {value:?}: expected sqlite:PATH or sqlite::memory:"
            )),
        }
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Sqlite(path) => write!(f, "sqlite:{path}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sqlite_paths_and_memory() {
        assert_eq!(
            "sqlite:supportzen.db".parse(),
            Ok(StoreUrl::Sqlite("supportzen.db".into()))
        );
        assert_eq!(
            "sqlite::memory:".parse(),
            Ok(StoreUrl::Sqlite(":memory:".into()))
        );
        assert!("sqlite:".parse::<StoreUrl>().is_err());
        assert!("postgres://x".parse::<StoreUrl>().is_err());
        assert!("supportzen.db".parse::<StoreUrl>().is_err());
    }
}
