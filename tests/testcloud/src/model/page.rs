//! limit/marker pagination over id-ordered maps.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::{CloudError, CloudResult};

/// One page of a listing, in id order.
#[derive(Debug)]
pub struct Page<'a, T> {
    pub items: Vec<&'a T>,
    /// The page is full (`items.len() == limit`): OpenStack then adds a `next` link.
    pub full: bool,
}

/// Items after `marker` (exclusive) that `keep` accepts, at most `limit` (capped by
/// `max_limit` when given). An unknown marker is a 400, as in Nova and Cinder.
pub fn paginate<'a, T>(
    map: &'a BTreeMap<String, T>,
    marker: Option<&str>,
    limit: Option<usize>,
    max_limit: Option<usize>,
    mut keep: impl FnMut(&T) -> bool,
) -> CloudResult<Page<'a, T>> {
    let limit = match (limit, max_limit) {
        (Some(l), Some(m)) => Some(l.min(m)),
        (l, m) => l.or(m),
    };
    let range: Box<dyn Iterator<Item = (&String, &T)>> = match marker {
        Some(m) => {
            if !map.contains_key(m) {
                return Err(CloudError::bad(format!("marker [{m}] not found")));
            }
            Box::new(map.range::<str, _>((Bound::Excluded(m), Bound::Unbounded)))
        }
        None => Box::new(map.iter()),
    };
    let mut items = Vec::new();
    for (_, v) in range {
        if limit.is_some_and(|l| items.len() >= l) {
            break;
        }
        if keep(v) {
            items.push(v);
        }
    }
    let full = limit.is_some_and(|l| l > 0 && items.len() == l);
    Ok(Page { items, full })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(n: usize) -> BTreeMap<String, usize> {
        (0..n).map(|i| (format!("{i:03}"), i)).collect()
    }

    #[test]
    fn walks_all_pages_without_gaps() {
        let m = map(25);
        let mut seen = vec![];
        let mut marker: Option<String> = None;
        loop {
            let p = paginate(&m, marker.as_deref(), Some(10), None, |_| true).unwrap();
            seen.extend(p.items.iter().map(|v| **v));
            if !p.full {
                break;
            }
            marker = Some(format!("{:03}", p.items.last().unwrap()));
        }
        assert_eq!(seen, (0..25).collect::<Vec<_>>());
    }

    #[test]
    fn filter_max_limit_and_bad_marker() {
        let m = map(50);
        let p = paginate(&m, None, None, Some(7), |v| v % 2 == 0).unwrap();
        assert_eq!(p.items.len(), 7);
        assert!(p.full);
        assert_eq!(*p.items[6], 12);
        assert!(matches!(
            paginate(&m, Some("nope"), None, None, |_| true),
            Err(CloudError::BadRequest(_))
        ));
    }
}
