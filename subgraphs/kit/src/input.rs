//! Checks of user input that every subgraph applies the same way, so that the
//! same mistake gets the same `BAD_USER_INPUT` message everywhere.

use crate::ApiError;

/// `value` without surrounding whitespace; rejected unless that leaves 1 to
/// `max_chars` characters (counted as characters, not bytes).
pub fn trimmed_text(value: &str, field: &str, max_chars: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max_chars {
        return Err(ApiError::BadUserInput(format!(
            "{field} must be 1 to {max_chars} characters"
        )));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_bounds_by_characters() {
        assert_eq!(trimmed_text("  hi ", "title", 2).unwrap(), "hi");
        assert!(trimmed_text("   ", "title", 2).is_err());
        assert!(trimmed_text("abc", "title", 2).is_err());
        assert_eq!(trimmed_text("éé", "title", 2).unwrap(), "éé");
    }
}
