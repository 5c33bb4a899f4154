//! Pagination for every list endpoint: `?limit=&offset=`, answered with `total`.

use serde::{Deserialize, Serialize};

use super::error::ApiError;

/// Default page size.
pub const DEFAULT_LIMIT: i64 = 50;
/// Largest page size.
pub const MAX_LIMIT: i64 = 500;

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Page size (1..=500).
    pub limit: i64,
    /// Items to skip.
    pub offset: i64,
}

impl PageRequest {
    /// Validates raw `limit` / `offset` query values.
    pub fn new(limit: Option<i64>, offset: Option<i64>) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        let offset = offset.unwrap_or(0);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("limit must be between 1 and {MAX_LIMIT}"),
            ));
        }
        if offset < 0 {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_query",
                "offset must not be negative",
            ));
        }
        Ok(PageRequest { limit, offset })
    }
}

/// A page of a list.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Items matching the filters, over all pages.
    pub total: i64,
    /// Page size used.
    pub limit: i64,
    /// Items skipped.
    pub offset: i64,
}

impl<T> Page<T> {
    /// Assembles a page.
    pub fn new(items: Vec<T>, total: i64, req: PageRequest) -> Self {
        Page {
            items,
            total,
            limit: req.limit,
            offset: req.offset,
        }
    }
}
