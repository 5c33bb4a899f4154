//! Keystone: domains, projects, users, roles, role assignments and tokens.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::{Cloud, CloudError, CloudResult, Notification, Service, new_hex_id};

pub const DEFAULT_DOMAIN: &str = "default";

#[derive(Debug, Clone)]
pub struct Domain {
    pub id: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub description: String,
    pub enabled: bool,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub password: String,
    pub enabled: bool,
    pub email: Option<String>,
    pub description: String,
    pub default_project_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Role {
    pub id: String,
    pub name: String,
}

/// What a token or a role assignment is scoped to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Project(String),
    Domain(String),
}

#[derive(Debug, Clone)]
pub struct Token {
    pub id: String,
    pub user_id: String,
    pub scope: Option<Scope>,
    pub methods: Vec<String>,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    pub audit_id: String,
}

#[derive(Debug, Default)]
pub struct Identity {
    pub domains: BTreeMap<String, Domain>,
    pub projects: BTreeMap<String, Project>,
    pub users: BTreeMap<String, User>,
    pub roles: BTreeMap<String, Role>,
    /// (scope, user id, role id)
    pub assignments: BTreeSet<(Scope, String, String)>,
    pub tokens: HashMap<String, Token>,
}

/// How a user names themselves in `auth.identity.password.user`.
#[derive(Debug, Clone)]
pub enum UserRef {
    Id(String),
    Name { name: String, domain: DomainRef },
}

/// How a request names a domain: by id or by name.
#[derive(Debug, Clone)]
pub enum DomainRef {
    Id(String),
    Name(String),
}

/// How a request names a project for scoping.
#[derive(Debug, Clone)]
pub enum ProjectRef {
    Id(String),
    Name { name: String, domain: DomainRef },
}

/// The requested scope of a new token.
#[derive(Debug, Clone)]
pub enum ScopeRequest {
    Unscoped,
    Project(ProjectRef),
    Domain(DomainRef),
}

/// Fields of a project create/update.
#[derive(Debug, Clone, Default)]
pub struct ProjectSpec {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub tags: Option<Vec<String>>,
}

/// Fields of a user create/update.
#[derive(Debug, Clone, Default)]
pub struct UserSpec {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    pub password: Option<String>,
    pub enabled: Option<bool>,
    pub email: Option<String>,
    pub description: Option<String>,
    pub default_project_id: Option<String>,
}

const UNAUTHORIZED: &str = "The request you have made requires authentication.";

impl Cloud {
    pub(super) fn bootstrap_identity(&mut self, admin_password: &str) {
        self.identity.domains.insert(
            DEFAULT_DOMAIN.into(),
            Domain {
                id: DEFAULT_DOMAIN.into(),
                name: "Default".into(),
                description: "The default domain".into(),
                enabled: true,
            },
        );
        for role in ["admin", "member", "reader"] {
            self.ensure_role(role);
        }
        let admin = self.ensure_project("admin", DEFAULT_DOMAIN);
        self.ensure_project("service", DEFAULT_DOMAIN);
        let user = self.ensure_user("admin", DEFAULT_DOMAIN, admin_password, Some(&admin));
        let role = self.ensure_role("admin");
        self.identity
            .assignments
            .insert((Scope::Project(admin), user.clone(), role.clone()));
        self.identity
            .assignments
            .insert((Scope::Domain(DEFAULT_DOMAIN.into()), user, role));
    }

    /// The id of the role with this name, creating it if needed.
    pub fn ensure_role(&mut self, name: &str) -> String {
        if let Some(r) = self.identity.roles.values().find(|r| r.name == name) {
            return r.id.clone();
        }
        let id = new_hex_id();
        self.identity.roles.insert(
            id.clone(),
            Role {
                id: id.clone(),
                name: name.into(),
            },
        );
        id
    }

    /// The id of the project with this name in the domain, creating it if needed.
    pub fn ensure_project(&mut self, name: &str, domain_id: &str) -> String {
        if let Some(p) = self
            .identity
            .projects
            .values()
            .find(|p| p.name == name && p.domain_id == domain_id)
        {
            return p.id.clone();
        }
        let id = new_hex_id();
        self.identity.projects.insert(
            id.clone(),
            Project {
                id: id.clone(),
                name: name.into(),
                domain_id: domain_id.into(),
                description: String::new(),
                enabled: true,
                tags: vec![],
            },
        );
        self.ensure_default_security_group(&id);
        id
    }

    /// The id of the user with this name in the domain, creating it if needed.
    pub fn ensure_user(
        &mut self,
        name: &str,
        domain_id: &str,
        password: &str,
        default_project: Option<&str>,
    ) -> String {
        if let Some(u) = self
            .identity
            .users
            .values_mut()
            .find(|u| u.name == name && u.domain_id == domain_id)
        {
            u.password = password.into();
            return u.id.clone();
        }
        let id = new_hex_id();
        self.identity.users.insert(
            id.clone(),
            User {
                id: id.clone(),
                name: name.into(),
                domain_id: domain_id.into(),
                password: password.into(),
                enabled: true,
                email: None,
                description: String::new(),
                default_project_id: default_project.map(str::to_owned),
            },
        );
        id
    }

    fn resolve_domain(&self, d: &DomainRef) -> Option<&Domain> {
        match d {
            DomainRef::Id(id) => self.identity.domains.get(id),
            DomainRef::Name(n) => self.identity.domains.values().find(|x| &x.name == n),
        }
    }

    fn resolve_project(&self, p: &ProjectRef) -> Option<&Project> {
        match p {
            ProjectRef::Id(id) => self.identity.projects.get(id),
            ProjectRef::Name { name, domain } => {
                let d = self.resolve_domain(domain)?;
                self.identity
                    .projects
                    .values()
                    .find(|x| &x.name == name && x.domain_id == d.id)
            }
        }
    }

    /// Roles of a user on a scope.
    pub fn roles_on(&self, user_id: &str, scope: &Scope) -> Vec<&Role> {
        self.identity
            .assignments
            .iter()
            .filter(|(s, u, _)| s == scope && u == user_id)
            .filter_map(|(_, _, r)| self.identity.roles.get(r))
            .collect()
    }

    /// Password authentication (`POST /v3/auth/tokens`). Every failure is the same 401,
    /// as in Keystone.
    pub fn issue_token_password(
        &mut self,
        user: &UserRef,
        password: &str,
        scope: &ScopeRequest,
        now: Timestamp,
    ) -> CloudResult<Token> {
        let user_id = match user {
            UserRef::Id(id) => self.identity.users.get(id),
            UserRef::Name { name, domain } => {
                let d = self.resolve_domain(domain).map(|d| d.id.clone());
                self.identity
                    .users
                    .values()
                    .find(|u| &u.name == name && Some(&u.domain_id) == d.as_ref())
            }
        }
        .filter(|u| u.enabled && u.password == password)
        .map(|u| u.id.clone())
        .ok_or_else(|| CloudError::Unauthorized(UNAUTHORIZED.into()))?;
        self.issue_token(&user_id, scope, vec!["password".into()], now)
    }

    /// Re-scoping with an existing token (`methods: ["token"]`).
    pub fn issue_token_from_token(
        &mut self,
        token_id: &str,
        scope: &ScopeRequest,
        now: Timestamp,
    ) -> CloudResult<Token> {
        let user_id = self.validate_token(token_id, now)?.user_id.clone();
        self.issue_token(&user_id, scope, vec!["token".into()], now)
    }

    fn issue_token(
        &mut self,
        user_id: &str,
        scope: &ScopeRequest,
        methods: Vec<String>,
        now: Timestamp,
    ) -> CloudResult<Token> {
        let scope = match scope {
            ScopeRequest::Unscoped => None,
            ScopeRequest::Project(p) => {
                let p = self
                    .resolve_project(p)
                    .filter(|p| p.enabled)
                    .ok_or_else(|| CloudError::Unauthorized(UNAUTHORIZED.into()))?;
                Some(Scope::Project(p.id.clone()))
            }
            ScopeRequest::Domain(d) => {
                let d = self
                    .resolve_domain(d)
                    .ok_or_else(|| CloudError::Unauthorized(UNAUTHORIZED.into()))?;
                Some(Scope::Domain(d.id.clone()))
            }
        };
        if let Some(s) = &scope
            && self.roles_on(user_id, s).is_empty()
        {
            return Err(CloudError::Unauthorized(UNAUTHORIZED.into()));
        }
        let token = Token {
            id: format!("gAAAAA{}", new_hex_id()),
            user_id: user_id.to_owned(),
            scope,
            methods,
            issued_at: now,
            expires_at: now + SignedDuration::from_secs(self.token_ttl_secs as i64),
            audit_id: new_hex_id()[..22].to_owned(),
        };
        self.identity.tokens.insert(token.id.clone(), token.clone());
        Ok(token)
    }

    /// A live token, or 401 (unknown or expired) / 404 semantics left to the caller.
    pub fn validate_token(&self, token_id: &str, now: Timestamp) -> CloudResult<&Token> {
        self.identity
            .tokens
            .get(token_id)
            .filter(|t| t.expires_at > now && self.identity.users.contains_key(&t.user_id))
            .ok_or_else(|| CloudError::Unauthorized(UNAUTHORIZED.into()))
    }

    pub fn revoke_token(&mut self, token_id: &str) -> CloudResult<()> {
        self.identity
            .tokens
            .remove(token_id)
            .map(|_| ())
            .ok_or_else(|| CloudError::not_found("Token", token_id))
    }

    /// Does this token carry the admin role?
    pub fn token_is_admin(&self, t: &Token) -> bool {
        t.scope.as_ref().is_some_and(|s| {
            self.roles_on(&t.user_id, s)
                .iter()
                .any(|r| r.name == "admin")
        })
    }

    pub fn create_project(&mut self, spec: ProjectSpec) -> CloudResult<Project> {
        let name = spec
            .name
            .filter(|n| !n.is_empty() && n.len() <= 64)
            .ok_or_else(|| {
                CloudError::bad(
                    "Invalid input for field 'name': project name is required (1-64 characters).",
                )
            })?;
        let domain_id = spec.domain_id.unwrap_or_else(|| DEFAULT_DOMAIN.into());
        if !self.identity.domains.contains_key(&domain_id) {
            return Err(CloudError::not_found("domain", domain_id));
        }
        if self
            .identity
            .projects
            .values()
            .any(|p| p.name == name && p.domain_id == domain_id)
        {
            return Err(CloudError::conflict(
                "Conflict",
                format!(
                    "Conflict occurred attempting to store project - it is not permitted to have two projects with the same name in the same domain : {name}."
                ),
            ));
        }
        let id = new_hex_id();
        let project = Project {
            id: id.clone(),
            name,
            domain_id,
            description: spec.description.unwrap_or_default(),
            enabled: spec.enabled.unwrap_or(true),
            tags: spec.tags.unwrap_or_default(),
        };
        self.identity.projects.insert(id.clone(), project.clone());
        self.ensure_default_security_group(&id);
        self.notify(identity_event("created", "project", &id));
        Ok(project)
    }

    pub fn update_project(&mut self, id: &str, spec: ProjectSpec) -> CloudResult<Project> {
        let p = self
            .identity
            .projects
            .get_mut(id)
            .ok_or_else(|| CloudError::not_found("project", id))?;
        if let Some(n) = spec.name {
            p.name = n;
        }
        if let Some(d) = spec.description {
            p.description = d;
        }
        if let Some(e) = spec.enabled {
            p.enabled = e;
        }
        if let Some(t) = spec.tags {
            p.tags = t;
        }
        let p = p.clone();
        self.notify(identity_event("updated", "project", id));
        Ok(p)
    }

    pub fn delete_project(&mut self, id: &str) -> CloudResult<()> {
        self.identity
            .projects
            .remove(id)
            .ok_or_else(|| CloudError::not_found("project", id))?;
        self.identity
            .assignments
            .retain(|(s, _, _)| s != &Scope::Project(id.to_owned()));
        self.notify(identity_event("deleted", "project", id));
        Ok(())
    }

    pub fn create_user(&mut self, spec: UserSpec) -> CloudResult<User> {
        let name = spec
            .name
            .filter(|n| !n.is_empty() && n.len() <= 255)
            .ok_or_else(|| {
                CloudError::bad("Invalid input for field 'name': user name is required.")
            })?;
        let domain_id = spec.domain_id.unwrap_or_else(|| DEFAULT_DOMAIN.into());
        if !self.identity.domains.contains_key(&domain_id) {
            return Err(CloudError::not_found("domain", domain_id));
        }
        if self
            .identity
            .users
            .values()
            .any(|u| u.name == name && u.domain_id == domain_id)
        {
            return Err(CloudError::conflict(
                "Conflict",
                format!(
                    "Conflict occurred attempting to store user - Duplicate entry found with name {name} at domain ID {domain_id}."
                ),
            ));
        }
        let id = new_hex_id();
        let user = User {
            id: id.clone(),
            name,
            domain_id,
            password: spec.password.unwrap_or_default(),
            enabled: spec.enabled.unwrap_or(true),
            email: spec.email,
            description: spec.description.unwrap_or_default(),
            default_project_id: spec.default_project_id,
        };
        self.identity.users.insert(id.clone(), user.clone());
        self.notify(identity_event("created", "user", &id));
        Ok(user)
    }

    pub fn update_user(&mut self, id: &str, spec: UserSpec) -> CloudResult<User> {
        let u = self
            .identity
            .users
            .get_mut(id)
            .ok_or_else(|| CloudError::not_found("user", id))?;
        if let Some(v) = spec.name {
            u.name = v;
        }
        if let Some(v) = spec.password {
            u.password = v;
        }
        if let Some(v) = spec.enabled {
            u.enabled = v;
        }
        if let Some(v) = spec.email {
            u.email = Some(v);
        }
        if let Some(v) = spec.description {
            u.description = v;
        }
        if let Some(v) = spec.default_project_id {
            u.default_project_id = Some(v);
        }
        let u = u.clone();
        self.notify(identity_event("updated", "user", id));
        Ok(u)
    }

    pub fn delete_user(&mut self, id: &str) -> CloudResult<()> {
        self.identity
            .users
            .remove(id)
            .ok_or_else(|| CloudError::not_found("user", id))?;
        self.identity.assignments.retain(|(_, u, _)| u != id);
        self.identity.tokens.retain(|_, t| t.user_id != id);
        self.notify(identity_event("deleted", "user", id));
        Ok(())
    }

    pub fn create_role(&mut self, name: &str) -> CloudResult<Role> {
        if name.is_empty() {
            return Err(CloudError::bad("Invalid input for field 'name'."));
        }
        if self.identity.roles.values().any(|r| r.name == name) {
            return Err(CloudError::conflict(
                "Conflict",
                format!(
                    "Conflict occurred attempting to store role - Duplicate entry found with name {name}."
                ),
            ));
        }
        let id = self.ensure_role(name);
        self.notify(identity_event("created", "role", &id));
        Ok(self.identity.roles[&id].clone())
    }

    fn check_assignment_parts(&self, scope: &Scope, user: &str, role: &str) -> CloudResult<()> {
        match scope {
            Scope::Project(p) if !self.identity.projects.contains_key(p) => {
                return Err(CloudError::not_found("project", p.clone()));
            }
            Scope::Domain(d) if !self.identity.domains.contains_key(d) => {
                return Err(CloudError::not_found("domain", d.clone()));
            }
            _ => {}
        }
        if !self.identity.users.contains_key(user) {
            return Err(CloudError::not_found("user", user));
        }
        if !self.identity.roles.contains_key(role) {
            return Err(CloudError::not_found("role", role));
        }
        Ok(())
    }

    pub fn grant_role(&mut self, scope: Scope, user: &str, role: &str) -> CloudResult<()> {
        self.check_assignment_parts(&scope, user, role)?;
        let inserted = self
            .identity
            .assignments
            .insert((scope, user.to_owned(), role.to_owned()));
        if inserted {
            self.notify(identity_event("created", "role_assignment", role));
        }
        Ok(())
    }

    pub fn check_role(&self, scope: Scope, user: &str, role: &str) -> CloudResult<()> {
        self.check_assignment_parts(&scope, user, role)?;
        if self
            .identity
            .assignments
            .contains(&(scope, user.to_owned(), role.to_owned()))
        {
            Ok(())
        } else {
            Err(CloudError::not_found(
                "role assignment",
                format!("{role}, user or group: {user}"),
            ))
        }
    }

    pub fn revoke_role(&mut self, scope: Scope, user: &str, role: &str) -> CloudResult<()> {
        self.check_role(scope.clone(), user, role)?;
        self.identity
            .assignments
            .remove(&(scope, user.to_owned(), role.to_owned()));
        self.notify(identity_event("deleted", "role_assignment", role));
        Ok(())
    }
}

/// Keystone's CADF notification (`identity.<resource>.<operation>`), with
/// `resource_info` as in the basic format.
fn identity_event(operation: &str, resource: &str, id: &str) -> Notification {
    let action = format!("{operation}.{resource}");
    Notification::info(
        Service::Identity,
        &format!("identity.{resource}.{operation}"),
        "testcloud",
        json!({
            "typeURI": "http://schemas.dmtf.org/cloud/audit/1.0/event",
            "id": super::new_uuid(),
            "eventTime": crate::time::iso_micro(crate::time::now()) + "+0000",
            "action": action,
            "eventType": "activity",
            "outcome": "success",
            "initiator": {"typeURI": "service/security/account/user", "id": "testcloud"},
            "target": {"typeURI": format!("data/security/{resource}"), "id": id},
            "observer": {"typeURI": "service/security", "id": "testcloud"},
            "resource_info": id,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Backend;

    fn cloud() -> Cloud {
        Cloud::new("R", "/nonexistent".into(), "pw", &[Backend::default()])
    }

    fn admin_scope() -> ScopeRequest {
        ScopeRequest::Project(ProjectRef::Name {
            name: "admin".into(),
            domain: DomainRef::Id("default".into()),
        })
    }

    fn admin_user() -> UserRef {
        UserRef::Name {
            name: "admin".into(),
            domain: DomainRef::Name("Default".into()),
        }
    }

    #[test]
    fn password_auth_scopes_and_expiry() {
        let mut c = cloud();
        let now = Timestamp::now();
        let t = c
            .issue_token_password(&admin_user(), "pw", &admin_scope(), now)
            .unwrap();
        assert!(c.token_is_admin(&t));
        assert!(c.validate_token(&t.id, now).is_ok());
        let later = now + SignedDuration::from_secs(3601);
        assert!(c.validate_token(&t.id, later).is_err());
        assert!(matches!(
            c.issue_token_password(&admin_user(), "wrong", &admin_scope(), now),
            Err(CloudError::Unauthorized(_))
        ));
    }

    #[test]
    fn scoping_requires_a_role() {
        let mut c = cloud();
        let p = c
            .create_project(ProjectSpec {
                name: Some("demo".into()),
                ..Default::default()
            })
            .unwrap();
        let u = c
            .create_user(UserSpec {
                name: Some("bob".into()),
                password: Some("x".into()),
                ..Default::default()
            })
            .unwrap();
        let scope = ScopeRequest::Project(ProjectRef::Id(p.id.clone()));
        let now = Timestamp::now();
        assert!(
            c.issue_token_password(&UserRef::Id(u.id.clone()), "x", &scope, now)
                .is_err()
        );
        let member = c.ensure_role("member");
        c.grant_role(Scope::Project(p.id.clone()), &u.id, &member)
            .unwrap();
        let t = c
            .issue_token_password(&UserRef::Id(u.id.clone()), "x", &scope, now)
            .unwrap();
        assert!(!c.token_is_admin(&t));
        assert!(c.check_role(Scope::Project(p.id), &u.id, &member).is_ok());
    }

    #[test]
    fn duplicate_project_is_conflict_and_creation_notifies() {
        let mut c = cloud();
        let spec = ProjectSpec {
            name: Some("x".into()),
            ..Default::default()
        };
        c.create_project(spec.clone()).unwrap();
        let effects = c.take_effects();
        assert!(effects.iter().any(|e| matches!(e, crate::model::Effect::Notify(n) if n.event_type == "identity.project.created")));
        assert!(matches!(
            c.create_project(spec),
            Err(CloudError::Conflict { .. })
        ));
    }
}
