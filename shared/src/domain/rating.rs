//! A customer's satisfaction rating of a solved conversation: 1 to 5, with an optional
//! comment. The first rating opens a window of [`RATING_CHANGE_WINDOW_MS`] in which the
//! customer may change it; after that it is final.

/// The largest comment, in characters.
pub const MAX_RATING_COMMENT_CHARS: usize = 1000;

/// How long after its first rating a conversation's rating may still be changed: 24 h.
pub const RATING_CHANGE_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// A score from 1 (poor) to 5 (great).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RatingScore(u8);

impl RatingScore {
    pub fn from_integer(raw: i64) -> Result<Self, String> {
        u8::try_from(raw)
            .ok()
            .filter(|n| (1..=5).contains(n))
            .map(RatingScore)
            .ok_or_else(|| "must be a whole number from 1 to 5".to_string())
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// The rating's optional comment: at most [`MAX_RATING_COMMENT_CHARS`] characters, not
/// blank.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RatingComment(String);

impl RatingComment {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() > MAX_RATING_COMMENT_CHARS {
            return Err(format!(
                "must be at most {MAX_RATING_COMMENT_CHARS} characters"
            ));
        }
        if raw.trim().is_empty() {
            return Err("must not be blank (leave it out instead)".to_string());
        }
        if raw
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err("must not contain control characters".to_string());
        }
        Ok(RatingComment(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A conversation's rating as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rating {
    pub score: RatingScore,
    pub comment: Option<RatingComment>,
    /// When it was last given or changed (milliseconds).
    pub rated_at: i64,
    /// When the conversation was first rated (milliseconds): the change window's start.
    pub first_rated_at: i64,
}

impl Rating {
    /// Reads a rating back from its stored parts; `None` if there is no score.
    pub fn from_stored(
        score: Option<i64>,
        comment: Option<String>,
        rated_at: Option<i64>,
        first_rated_at: Option<i64>,
    ) -> Result<Option<Self>, String> {
        let Some(score) = score else {
            return Ok(None);
        };
        let rated_at = rated_at.ok_or("a stored rating without its time")?;
        Ok(Some(Rating {
            score: RatingScore::from_integer(score).map_err(|e| format!("stored rating {e}"))?,
            comment: comment
                .map(|c| RatingComment::parse(&c))
                .transpose()
                .map_err(|e| format!("stored rating comment {e}"))?,
            rated_at,
            first_rated_at: first_rated_at.unwrap_or(rated_at),
        }))
    }

    /// Whether it may still be changed at `now` (milliseconds).
    pub fn changeable_at(&self, now: i64) -> bool {
        now < self.first_rated_at + RATING_CHANGE_WINDOW_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_one_to_five_and_comments_bounded() {
        for ok in 1..=5 {
            assert_eq!(RatingScore::from_integer(ok).unwrap().get() as i64, ok);
        }
        for bad in [0, 6, -1, 300, i64::MAX] {
            assert!(RatingScore::from_integer(bad).is_err(), "{bad}");
        }
        assert!(RatingComment::parse(&"é".repeat(1000)).is_ok());
        assert!(RatingComment::parse(&"é".repeat(1001)).is_err());
        assert!(RatingComment::parse("  ").is_err());
        assert!(RatingComment::parse("a\u{0}b").is_err());
        assert!(RatingComment::parse("line\nbreak").is_ok());
    }

    #[test]
    fn a_rating_changes_for_24_hours_after_the_first() {
        let rating = Rating {
            score: RatingScore::from_integer(4).unwrap(),
            comment: None,
            rated_at: 5_000,
            first_rated_at: 1_000,
        };
        assert!(rating.changeable_at(1_000 + RATING_CHANGE_WINDOW_MS - 1));
        assert!(!rating.changeable_at(1_000 + RATING_CHANGE_WINDOW_MS));
    }
}
