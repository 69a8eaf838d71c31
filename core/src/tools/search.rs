//! Ranking for `tool search`. STUB.
