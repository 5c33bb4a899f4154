//! Keystone v3: tokens, projects, users, roles and role assignments.

use crate::session::Session;

mod projects;
mod roles;
pub mod token;
mod users;

pub use projects::{Project, ProjectCreate};
pub use roles::{Role, RoleAssignment, RoleAssignmentScope};
pub use token::{IdName, Token, TokenProject, TokenValidation};
pub use users::User;

/// Keystone calls of a session.
#[derive(Debug, Clone, Copy)]
pub struct Keystone<'a> {
    session: &'a Session,
}

impl<'a> Keystone<'a> {
    pub(crate) fn new(session: &'a Session) -> Self {
        Self { session }
    }
}
