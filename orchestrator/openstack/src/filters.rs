//! Query filters of list calls.

/// Query parameters added to a list call (`name=value` pairs, sent as given).
///
/// Pagination parameters (`limit`, `marker`) are managed by the session and must not be
/// set here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(Vec<(String, String)>);

impl Filters {
    /// No filter.
    pub fn none() -> Self {
        Self::default()
    }

    /// Every project's resources (Nova and Cinder `all_tenants=1`; needs the admin role).
    /// Neutron lists every project's resources to an admin without it.
    pub fn all_tenants() -> Self {
        Self::none().eq("all_tenants", "1")
    }

    /// Adds `key=value`.
    #[must_use]
    pub fn eq(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.push((key.into(), value.into()));
        self
    }

    /// The pairs, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The filters without `all_tenants` (for services that do not know it).
    pub(crate) fn without_all_tenants(&self) -> Self {
        Self(
            self.0
                .iter()
                .filter(|(k, _)| k != "all_tenants")
                .cloned()
                .collect(),
        )
    }
}
