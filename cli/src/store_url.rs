//! `--store` values: where the CLI keeps its data.

use std::fmt;
use std::str::FromStr;
use supportzen_shared::store::StoreError;

/// A parsed `--store` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    /// `sqlite:PATH`, or `sqlite::memory:` for a private in-memory database.
    Sqlite(String),
    /// `dynamodb:TABLE`: the SDK's usual configuration (region, credentials, and
    /// `AWS_ENDPOINT_URL_DYNAMODB` for DynamoDB Local).
    Dynamo(String),
}

impl FromStr for StoreUrl {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.split_once(':') {
            Some(("sqlite", "")) => Err("sqlite: needs a path, e.g. sqlite:supportzen.db".into()),
            Some(("sqlite", path)) => Ok(StoreUrl::Sqlite(path.to_string())),
            Some(("dynamodb", table)) if is_table_name(table) => {
                Ok(StoreUrl::Dynamo(table.to_string()))
            }
            Some(("dynamodb", _)) => {
                Err("dynamodb: needs a table name of 3-255 letters, digits, '_', '-' or '.'".into())
            }
            _ => Err(format!(
                "unknown store {value:?}: expected sqlite:PATH, sqlite::memory: or dynamodb:TABLE"
            )),
        }
    }
}

/// DynamoDB's rule for table names.
fn is_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Sqlite(path) => write!(f, "sqlite:{path}"),
            StoreUrl::Dynamo(table) => write!(f, "dynamodb:{table}"),
        }
    }
}

/// One line for a failed store operation, with what to do about it on DynamoDB.
pub fn store_error(what: &str, err: &StoreError, store: &StoreUrl) -> String {
    match store {
        StoreUrl::Dynamo(table) => crate::dynamodb::explain_store(what, err, table),
        StoreUrl::Sqlite(_) => format!("{what}: {err}"),
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
        assert_eq!(
            "dynamodb:supportzen-prod".parse(),
            Ok(StoreUrl::Dynamo("supportzen-prod".into()))
        );
        assert!("dynamodb:".parse::<StoreUrl>().is_err());
        assert!("dynamodb:a b".parse::<StoreUrl>().is_err());
        assert!("supportzen.db".parse::<StoreUrl>().is_err());
    }
}
