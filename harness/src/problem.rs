//! A problem found in a chart: what is wrong, where, and what to do. A leaf module, so
//! every layer (change detection, suites, the k8s helpers, reporters) can name one
//! without depending on the suites.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// One thing that is wrong, located as precisely as the check knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// File the problem is in, relative to the repository root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// 1-based, in characters; only with a line (yamllint's findings have one).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub column: Option<u64>,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl Problem {
    pub fn new(message: impl Into<String>) -> Self {
        Problem {
            file: None,
            line: None,
            column: None,
            message: message.into(),
        }
    }

    pub fn in_file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Problem {
            file: Some(file.into()),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    pub fn at_line(mut self, line: Option<u64>) -> Self {
        self.line = line;
        self
    }

    pub fn at_column(mut self, column: Option<u64>) -> Self {
        self.column = column;
        self
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
                if let Some(column) = self.column {
                    write!(f, ":{column}")?;
                }
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.message)
    }
}
