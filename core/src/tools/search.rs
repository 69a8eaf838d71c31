//! Ranking for `tool search`.
//!
//! A query is split into lowercase words (at anything that is not a letter or a digit, so
//! `hash-calc`, `hash calc` and `Hash_Calc` are the same query). Each word scores against a
//! tool by the best place it matches:
//!
//! | where the word matches                         | score |
//! |------------------------------------------------|-------|
//! | the whole name (`calculator`)                  | 0.9   |
//! | the start of the name (`calc`)                 | 0.8   |
//! | the start of a word of the name (`calc` in `hash-calculator`) | 0.7 |
//! | anywhere in the name                           | 0.6   |
//! | a word of the description                      | 0.4   |
//! | the start of a word of the description         | 0.3   |
//! | the category, or its start                     | 0.2   |
//!
//! The tool's score is the mean over the query's words, so a tool that matches every word
//! ranks above one that matches some. A query that is the tool's whole name scores 1.0.
//! Scores lie in 0..=1; tools that match no word are left out. An empty query (no words)
//! matches every tool with score 1.0.

use super::ToolSpec;

/// Score of a query equal to the tool's name.
const EXACT_NAME: f32 = 1.0;
/// Score of a word equal to the tool's name.
const WORD_IS_NAME: f32 = 0.9;
/// Score of a word the name starts with.
const NAME_PREFIX: f32 = 0.8;
/// Score of a word a word of the name starts with.
const NAME_WORD_PREFIX: f32 = 0.7;
/// Score of a word found anywhere in the name.
const NAME_SUBSTRING: f32 = 0.6;
/// Score of a word of the description.
const DESCRIPTION_WORD: f32 = 0.4;
/// Score of a word a word of the description starts with.
const DESCRIPTION_PREFIX: f32 = 0.3;
/// Score of a word the category starts with.
const CATEGORY: f32 = 0.2;

/// What search compares a query against, lowercased once when the tool is registered.
#[derive(Clone, Debug)]
pub(super) struct SearchKeys {
    /// The name (names are lowercase kebab-case already).
    name: &'static str,
    /// The words of the name.
    name_words: Vec<&'static str>,
    /// The words of the description, lowercase, deduplicated.
    description_words: Vec<String>,
    /// The category, lowercase.
    category: String,
}

impl SearchKeys {
    /// The keys of a tool.
    pub(super) fn new(spec: &ToolSpec) -> SearchKeys {
        let mut description_words = words(spec.description);
        description_words.sort_unstable();
        description_words.dedup();
        SearchKeys {
            name: spec.name,
            name_words: spec.name.split('-').filter(|w| !w.is_empty()).collect(),
            description_words,
            category: spec.category.to_lowercase(),
        }
    }
}

/// A query split into its words.
pub(super) struct Query {
    /// The lowercase words.
    words: Vec<String>,
}

impl Query {
    /// Parses a query.
    pub(super) fn new(query: &str) -> Query {
        Query {
            words: words(query),
        }
    }

    /// Whether the query has no words (and so matches everything).
    pub(super) fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The score of a tool for this query, in 0..=1; 0 when no word matches.
    pub(super) fn score(&self, keys: &SearchKeys) -> f32 {
        if self.words.is_empty() {
            return EXACT_NAME;
        }
        if self.words.iter().eq(keys.name_words.iter()) {
            return EXACT_NAME;
        }
        let total: f32 = self.words.iter().map(|w| word_score(w, keys)).sum();
        total / self.words.len() as f32
    }
}

/// The score of one query word: the best place it matches.
fn word_score(word: &str, keys: &SearchKeys) -> f32 {
    if word == keys.name {
        WORD_IS_NAME
    } else if keys.name.starts_with(word) {
        NAME_PREFIX
    } else if keys.name_words.iter().any(|w| w.starts_with(word)) {
        NAME_WORD_PREFIX
    } else if keys.name.contains(word) {
        NAME_SUBSTRING
    } else if keys.description_words.iter().any(|w| w == word) {
        DESCRIPTION_WORD
    } else if keys.description_words.iter().any(|w| w.starts_with(word)) {
        DESCRIPTION_PREFIX
    } else if keys.category.starts_with(word) {
        CATEGORY
    } else {
        0.0
    }
}

/// The lowercase words of `text`: runs of letters and digits.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}
