//! Pages and cursors. A cursor is `base64url(payload).base64url(hmac)`: opaque to the
//! client, and bound to the query and caller it was issued for, so a changed, forged or
//! foreign cursor is a 400, never a 500 and never another caller's page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use crate::catalog::KeyPosition;
use crate::config::Secret;
use crate::domain::PageLimit;
use crate::error::Error;

type HmacSha256 = Hmac<Sha256>;

/// Query parameters every paginated route accepts.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1-based page number (ignored when `cursor` is given).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000000)]
    pub page: Option<String>,
    /// Items per page.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// An opaque cursor from a previous page's `next_cursor` or `previous_cursor`; one
    /// the server did not issue for this query and caller is a 400.
    pub cursor: Option<String>,
}

/// The pagination block of every list response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Pagination {
    pub current_page: usize,
    pub total_pages: usize,
    pub total_items: usize,
    pub items_per_page: usize,
    pub has_next: bool,
    pub has_previous: bool,
    pub next_cursor: Option<String>,
    pub previous_cursor: Option<String>,
}

/// A list response: `{"data": [...], "pagination": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paginated<T> {
    pub data: Vec<T>,
    pub pagination: Pagination,
}

#[derive(Serialize, Deserialize)]
struct CursorPayload {
    /// Offset of the page's first item.
    o: usize,
    /// Fingerprint of the query and caller the cursor belongs to.
    q: String,
    /// Where a key-ordered page resumes: the store's key (signed, so no caller can point
    /// a query at a key of its choosing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    k: Option<KeyPosition>,
}

/// Signs cursors; the key is derived from the stage secret with its own label.
#[derive(Clone)]
pub struct CursorKeys {
    key: Vec<u8>,
}

impl std::fmt::Debug for CursorKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKeys([redacted])")
    }
}

impl CursorKeys {
    pub fn derive(secret: &Secret) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"bookstore cursor key v1\0");
        hasher.update(secret.expose().as_bytes());
        Self { key: hasher.finalize().to_vec() }
    }

    fn sign(&self, payload: &[u8]) -> Vec<u8> {
        let mut mac =
            HmacSha256::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!("hmac accepts any key length"));
        mac.update(payload);
        mac.finalize().into_bytes().to_vec()
    }

    fn encode(&self, offset: usize, scope: &str) -> String {
        self.encode_at(offset, scope, None)
    }

    fn encode_at(&self, offset: usize, scope: &str, position: Option<KeyPosition>) -> String {
        let payload =
            serde_json::to_vec(&CursorPayload { o: offset, q: scope.to_owned(), k: position }).unwrap_or_default();
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(self.sign(&payload)))
    }

    fn decode(&self, cursor: &str, scope: &str) -> Result<(usize, Option<KeyPosition>), Error> {
        let invalid = || Error::bad_request("invalid_cursor", "cursor is not valid for this query");
        let (payload, signature) = cursor.split_once('.').ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| invalid())?;
        let mut mac =
            HmacSha256::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!("hmac accepts any key length"));
        mac.update(&payload);
        mac.verify_slice(&signature).map_err(|_| invalid())?;
        let payload: CursorPayload = serde_json::from_slice(&payload).map_err(|_| invalid())?;
        if payload.q != scope {
            return Err(invalid());
        }
        Ok((payload.o, payload.k))
    }
}

/// A parsed page request, bound to a scope (caller + route + filters).
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub offset: usize,
    pub limit: usize,
    /// Where a key-ordered page starts, when a cursor says.
    pub position: Option<KeyPosition>,
    scope: String,
}

/// Hashes the parts that make a query distinct into a cursor scope.
pub fn scope_of(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    URL_SAFE_NO_PAD.encode(&hasher.finalize()[..12])
}

impl PageRequest {
    /// Reads `page`, `limit` and `cursor`; `scope` names the caller and the query.
    pub fn parse(params: &PageParams, default_limit: usize, keys: &CursorKeys, scope: String) -> Result<Self, Error> {
        let limit = match &params.limit {
            Some(raw) => {
                PageLimit::parse(raw).map_err(|e| Error::bad_request("invalid_query", format!("limit: {e}")))?.get()
            }
            None => default_limit,
        };
        let (offset, position) =
            match (&params.cursor, &params.page) {
                (Some(cursor), _) => keys.decode(cursor, &scope)?,
                (None, Some(raw)) => {
                    let page =
                        raw.trim().parse::<usize>().ok().filter(|p| (1..=1_000_000).contains(p)).ok_or_else(|| {
                            Error::bad_request("invalid_query", "page: must be a whole number from 1")
                        })?;
                    ((page - 1) * limit, None)
                }
                (None, None) => (0, None),
            };
        Ok(Self { offset, limit, position, scope })
    }

    /// Describes a page that was cut elsewhere (a search engine) out of `total` items.
    pub fn paged<T>(&self, data: Vec<T>, total: usize, keys: &CursorKeys) -> Paginated<T> {
        let start = self.offset.min(total);
        let end = (start + data.len()).min(total);
        let has_next = end < total;
        let has_previous = start > 0;
        Paginated {
            data,
            pagination: Pagination {
                current_page: start / self.limit + 1,
                total_pages: total.div_ceil(self.limit),
                total_items: total,
                items_per_page: self.limit,
                has_next,
                has_previous,
                next_cursor: has_next.then(|| keys.encode(end, &self.scope)),
                previous_cursor: has_previous.then(|| keys.encode(start.saturating_sub(self.limit), &self.scope)),
            },
        }
    }

    /// Describes a key-ordered page of `total` items: its cursors carry the store's keys
    /// to resume from (the offset only numbers the page).
    pub fn keyed<T>(
        &self,
        data: Vec<T>,
        total: usize,
        next: Option<KeyPosition>,
        previous: Option<KeyPosition>,
        keys: &CursorKeys,
    ) -> Paginated<T> {
        let start = self.offset;
        Paginated {
            pagination: Pagination {
                current_page: start / self.limit + 1,
                total_pages: total.div_ceil(self.limit).max(start / self.limit + usize::from(!data.is_empty())),
                total_items: total,
                items_per_page: self.limit,
                has_next: next.is_some(),
                has_previous: previous.is_some(),
                next_cursor: next.map(|at| keys.encode_at(start + self.limit, &self.scope, Some(at))),
                previous_cursor: previous
                    .map(|at| keys.encode_at(start.saturating_sub(self.limit), &self.scope, Some(at))),
            },
            data,
        }
    }

    /// Cuts one page out of the full, ordered result and describes it.
    pub fn page<T>(&self, mut all: Vec<T>, keys: &CursorKeys) -> Paginated<T> {
        let total = all.len();
        let start = self.offset.min(total);
        let end = (start + self.limit).min(total);
        let data: Vec<T> = all.drain(start..end).collect();
        self.paged(data, total, keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> CursorKeys {
        CursorKeys::derive(&Secret::new("secret"))
    }

    fn request(params: PageParams, scope: &str) -> Result<PageRequest, Error> {
        PageRequest::parse(&params, 20, &keys(), scope.to_owned())
    }

    #[test]
    fn cursors_walk_forward_and_back() {
        let first = request(PageParams { limit: Some("2".into()), ..Default::default() }, "s").expect("valid");
        let page = first.page((0..5).collect::<Vec<_>>(), &keys());
        assert_eq!(page.data, vec![0, 1]);
        assert_eq!(page.pagination.total_pages, 3);
        let next = page.pagination.next_cursor.expect("has next");
        let second = request(PageParams { limit: Some("2".into()), cursor: Some(next), ..Default::default() }, "s")
            .expect("valid");
        let page = second.page((0..5).collect::<Vec<_>>(), &keys());
        assert_eq!(page.data, vec![2, 3]);
        assert_eq!(page.pagination.current_page, 2);
        assert!(page.pagination.previous_cursor.is_some());
    }

    #[test]
    fn tampered_foreign_or_garbage_cursors_are_bad_requests() {
        let first = request(PageParams { limit: Some("2".into()), ..Default::default() }, "s").expect("valid");
        let cursor = first.page((0..5).collect::<Vec<_>>(), &keys()).pagination.next_cursor.expect("next");
        let (payload, sig) = cursor.split_once('.').expect("two parts");
        let forged_payload = URL_SAFE_NO_PAD.encode(r#"{"o":0,"q":"s"}"#);
        for bad in
            [format!("{forged_payload}.{sig}"), "garbage".to_owned(), format!("{payload}."), "%%%.###".to_owned()]
        {
            let parsed = request(PageParams { cursor: Some(bad.clone()), ..Default::default() }, "s");
            assert!(matches!(parsed, Err(Error::BadRequest { code: "invalid_cursor", .. })), "{bad}");
        }
        let foreign = request(PageParams { cursor: Some(cursor), ..Default::default() }, "other-scope");
        assert!(matches!(foreign, Err(Error::BadRequest { code: "invalid_cursor", .. })));
    }
}
