//! Lists: every page, following the service's next links.

use std::collections::HashSet;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Call, Session};
use crate::Result;
use crate::catalog::ServiceType;
use crate::error::Error;
use crate::filters::Filters;
use crate::pagination::next_query;

/// How a list is paged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Paging {
    /// `limit`/`marker` with next links.
    Marker,
    /// Everything in one answer, no `limit` sent: Keystone, and small collections
    /// whose services do not document next links (volume types, groups, a server's
    /// volume attachments, pools, manageable volumes). Sending a `limit` there could
    /// silently truncate the list.
    None,
}

impl Session {
    /// Every item of `collection` at `path`, page after page.
    pub(crate) async fn list<T: DeserializeOwned>(
        &self,
        service: ServiceType,
        path: &str,
        collection: &str,
        filters: &Filters,
        paging: Paging,
    ) -> Result<Vec<T>> {
        let mut query: Vec<(String, String)> = filters.pairs().to_vec();
        if paging == Paging::Marker {
            query.push(("limit".into(), self.inner.options.page_size.to_string()));
        }
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        loop {
            let mut call = Call::new(service, path);
            call.query = query.clone();
            let reply = self.send(call).await?;
            let body: Value = reply.json()?;
            let Some(items) = body.get(collection).and_then(Value::as_array) else {
                return Err(reply.invalid(format!("no `{collection}` list in the answer")));
            };
            out.reserve(items.len());
            for (i, item) in items.iter().enumerate() {
                let parsed = T::deserialize(item)
                    .map_err(|e| reply.invalid(format!("{collection}[{i}]: {e}")))?;
                out.push(parsed);
            }
            let Some(next) = next_query(&body, collection) else {
                break;
            };
            if items.is_empty() || paging == Paging::None {
                break;
            }
            if !seen.insert(next.clone()) || next == query {
                let marker = next
                    .iter()
                    .find(|(k, _)| k == "marker")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                return Err(Error::PaginationLoop {
                    service,
                    path: path.to_owned(),
                    marker,
                });
            }
            query = next;
        }
        Ok(out)
    }
}
