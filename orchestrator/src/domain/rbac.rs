//! Role-based access control: the spec's permission table as data, and pure decisions.
//!
//! Later features add no rules here beyond their [`Menu`] row: an endpoint names the
//! menu and action it needs and the groups that own the object, and [`decide`] answers.

use std::collections::BTreeSet;
use std::fmt;

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Acts on everything.
    Admin,
    /// Manages the objects and users of their groups.
    Manager,
    /// Runs recovery jobs in their groups.
    Operator,
    /// Reads their groups' objects.
    Viewer,
}

impl Role {
    /// Every role, in table column order.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Manager, Role::Operator, Role::Viewer];

    /// The wire name (`admin`, `manager`, `operator`, `viewer`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    fn column(self) -> usize {
        match self {
            Role::Admin => 0,
            Role::Manager => 1,
            Role::Operator => 2,
            Role::Viewer => 3,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A row of the permission table (a menu of the console).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Menu {
    /// OpenStack clusters.
    Clusters,
    /// Protection groups.
    ProtectionGroups,
    /// Recovery plans.
    RecoveryPlans,
    /// Recovery jobs.
    RecoveryJobs,
    /// Recovery results (reports).
    RecoveryResults,
    /// The licence.
    Licence,
    /// Users and user groups.
    Users,
    /// The scheduler's schedules (read-only; beyond the spec's table, which has no such
    /// menu: Admins and Managers read them, a Manager those of their groups' objects and
    /// the system's).
    Schedules,
}

impl Menu {
    /// Every menu, in table row order.
    pub const ALL: [Menu; 8] = [
        Menu::Clusters,
        Menu::ProtectionGroups,
        Menu::RecoveryPlans,
        Menu::RecoveryJobs,
        Menu::RecoveryResults,
        Menu::Licence,
        Menu::Users,
        Menu::Schedules,
    ];
}

/// What is done to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// C
    Create,
    /// U
    Update,
    /// D
    Delete,
    /// R
    Read,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 4] = [Action::Create, Action::Update, Action::Delete, Action::Read];

    fn letter(self) -> char {
        match self {
            Action::Create => 'C',
            Action::Update => 'U',
            Action::Delete => 'D',
            Action::Read => 'R',
        }
    }
}

/// The permission table of `platform.md`, verbatim: one row per menu, columns Admin,
/// Manager, Operator, Viewer; letters C U D R, empty for "–". Rows after the spec's seven
/// are menus the spec's table does not name.
pub const PERMISSION_TABLE: [(Menu, [&str; 4]); 8] = [
    (Menu::Clusters, ["CUDR", "CUDR", "R", "R"]),
    (Menu::ProtectionGroups, ["CUDR", "CUDR", "R", "R"]),
    (Menu::RecoveryPlans, ["CUDR", "CUDR", "R", "R"]),
    (Menu::RecoveryJobs, ["CUDR", "CUDR", "CUDR", "R"]),
    (Menu::RecoveryResults, ["DR", "DR", "DR", "R"]),
    (Menu::Licence, ["CUR", "R", "", ""]),
    (Menu::Users, ["CUDR", "CUDR", "", ""]),
    (Menu::Schedules, ["R", "R", "", ""]),
];

/// Does the table give `role` the right to `action` on `menu` (ignoring ownership)?
pub fn table_allows(role: Role, menu: Menu, action: Action) -> bool {
    PERMISSION_TABLE
        .iter()
        .find(|(m, _)| *m == menu)
        .is_some_and(|(_, cols)| cols[role.column()].contains(action.letter()))
}

/// The authenticated user on whose behalf a request acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// User id.
    pub user_id: String,
    /// Role.
    pub role: Role,
    /// Ids of the groups the user belongs to.
    pub groups: BTreeSet<String>,
}

impl Actor {
    /// Does the actor belong to any of `groups`?
    pub fn shares_group(&self, groups: &[String]) -> bool {
        groups.iter().any(|g| self.groups.contains(g))
    }
}

/// Who owns the object acted on.
#[derive(Debug, Clone, Copy)]
pub enum Owner<'a> {
    /// A system-wide object (the licence, settings): only the table applies.
    System,
    /// Owned by these groups (an object has one group; a user may be in several; a new
    /// object is owned by the group it is created in). Empty means "no group".
    Groups(&'a [String]),
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The role has no such right in the permission table.
    #[error("the {role} role may not {action:?} {menu:?}")]
    NotPermitted {
        /// The actor's role.
        role: Role,
        /// The menu.
        menu: Menu,
        /// The action.
        action: Action,
    },
    /// The object belongs to none of the actor's groups.
    #[error("the object does not belong to any of your groups")]
    OutsideGroups,
    /// Only an Admin may act on an Admin account.
    #[error("only an Admin may change an Admin account")]
    AdminAccount,
    /// The Admin role is not granted through the API.
    #[error("the Admin role cannot be granted")]
    AdminNotGrantable,
    /// An Admin account is never deleted.
    #[error("an Admin account cannot be deleted")]
    AdminUndeletable,
    /// Operators and Viewers may not change their own role or groups.
    #[error("you may not change your own role or groups")]
    OwnRoleOrGroups,
    /// A user may not delete their own account.
    #[error("you may not delete your own account")]
    SelfDelete,
    /// The action is reserved to Admins.
    #[error("only an Admin may do this")]
    AdminOnly,
}

/// The central decision: may `actor` do `action` on a `menu` object owned by `owner`?
pub fn decide(actor: &Actor, menu: Menu, action: Action, owner: Owner<'_>) -> Result<(), Denied> {
    if !table_allows(actor.role, menu, action) {
        return Err(Denied::NotPermitted {
            role: actor.role,
            menu,
            action,
        });
    }
    if actor.role == Role::Admin {
        return Ok(());
    }
    match owner {
        Owner::System => Ok(()),
        Owner::Groups(groups) if actor.shares_group(groups) => Ok(()),
        Owner::Groups(_) => Err(Denied::OutsideGroups),
    }
}

/// Admin-only system functions (settings, audit trail).
pub fn admin_only(actor: &Actor) -> Result<(), Denied> {
    if actor.role == Role::Admin {
        Ok(())
    } else {
        Err(Denied::AdminOnly)
    }
}

/// A user account acted upon.
#[derive(Debug, Clone, Copy)]
pub struct TargetUser<'a> {
    /// Its id.
    pub id: &'a str,
    /// Its role.
    pub role: Role,
    /// Its groups.
    pub groups: &'a [String],
}

fn is_self(actor: &Actor, target: &TargetUser<'_>) -> bool {
    actor.user_id == target.id
}

/// Non-Admins may only add or remove memberships of their own groups.
fn group_change_within(actor: &Actor, old: &[String], new: &[String]) -> Result<(), Denied> {
    if actor.role == Role::Admin {
        return Ok(());
    }
    let old: BTreeSet<&String> = old.iter().collect();
    let new: BTreeSet<&String> = new.iter().collect();
    if old
        .symmetric_difference(&new)
        .all(|g| actor.groups.contains(*g))
    {
        Ok(())
    } else {
        Err(Denied::OutsideGroups)
    }
}

/// Reading a user: oneself always; others per the Users row and group.
pub fn read_user(actor: &Actor, target: TargetUser<'_>) -> Result<(), Denied> {
    if is_self(actor, &target) {
        return Ok(());
    }
    decide(
        actor,
        Menu::Users,
        Action::Read,
        Owner::Groups(target.groups),
    )
}

/// Creating a user with `role` in `groups`.
pub fn create_user(actor: &Actor, role: Role, groups: &[String]) -> Result<(), Denied> {
    if !table_allows(actor.role, Menu::Users, Action::Create) {
        return Err(Denied::NotPermitted {
            role: actor.role,
            menu: Menu::Users,
            action: Action::Create,
        });
    }
    if role == Role::Admin && actor.role != Role::Admin {
        return Err(Denied::AdminNotGrantable);
    }
    if actor.role == Role::Admin {
        return Ok(());
    }
    // A Manager's user belongs to (one of) the Manager's groups, and only to those.
    if groups.is_empty() || !groups.iter().all(|g| actor.groups.contains(g)) {
        return Err(Denied::OutsideGroups);
    }
    Ok(())
}

/// A requested change to a user account.
#[derive(Debug, Clone, Copy, Default)]
pub struct UserChange<'a> {
    /// New role, if changed.
    pub role: Option<Role>,
    /// New group list, if changed.
    pub groups: Option<&'a [String]>,
}

/// Updating a user (name, e-mail, role, groups).
pub fn update_user(
    actor: &Actor,
    target: TargetUser<'_>,
    change: UserChange<'_>,
) -> Result<(), Denied> {
    if change.role == Some(Role::Admin) && target.role != Role::Admin {
        return Err(Denied::AdminNotGrantable);
    }
    if target.role == Role::Admin && actor.role != Role::Admin {
        return Err(Denied::AdminAccount);
    }
    if target.role == Role::Admin && change.role.is_some_and(|r| r != Role::Admin) {
        // Demoting an Admin would be granting and revoking through the back door.
        return Err(Denied::AdminNotGrantable);
    }
    let role_or_groups = change.role.is_some_and(|r| r != target.role) || change.groups.is_some();
    if is_self(actor, &target) {
        if matches!(actor.role, Role::Operator | Role::Viewer) && role_or_groups {
            return Err(Denied::OwnRoleOrGroups);
        }
        if matches!(actor.role, Role::Operator | Role::Viewer) {
            return Ok(());
        }
    } else {
        decide(
            actor,
            Menu::Users,
            Action::Update,
            Owner::Groups(target.groups),
        )?;
    }
    if !table_allows(actor.role, Menu::Users, Action::Update) {
        return Err(Denied::NotPermitted {
            role: actor.role,
            menu: Menu::Users,
            action: Action::Update,
        });
    }
    if let Some(groups) = change.groups {
        group_change_within(actor, target.groups, groups)?;
    }
    Ok(())
}

/// Resetting a user's password to a new random one.
pub fn reset_password(actor: &Actor, target: TargetUser<'_>) -> Result<(), Denied> {
    if target.role == Role::Admin && actor.role != Role::Admin {
        return Err(Denied::AdminAccount);
    }
    decide(
        actor,
        Menu::Users,
        Action::Update,
        Owner::Groups(target.groups),
    )
}

/// Deleting a user.
pub fn delete_user(actor: &Actor, target: TargetUser<'_>) -> Result<(), Denied> {
    if target.role == Role::Admin {
        return Err(Denied::AdminUndeletable);
    }
    if is_self(actor, &target) {
        return Err(Denied::SelfDelete);
    }
    decide(
        actor,
        Menu::Users,
        Action::Delete,
        Owner::Groups(target.groups),
    )
}

/// Ending a user's session: one's own always; Admin anyone; Manager their groups' users.
pub fn logout_user(actor: &Actor, target: TargetUser<'_>) -> Result<(), Denied> {
    if is_self(actor, &target) {
        return Ok(());
    }
    if target.role == Role::Admin && actor.role != Role::Admin {
        return Err(Denied::AdminAccount);
    }
    decide(
        actor,
        Menu::Users,
        Action::Update,
        Owner::Groups(target.groups),
    )
}

/// Setting a group's members: the group must be the actor's, and a Manager may only
/// add or remove users who share a group with them (`user_groups` per changed user).
pub fn set_members(
    actor: &Actor,
    group_id: &str,
    changed_users_groups: &[&[String]],
) -> Result<(), Denied> {
    let own = [group_id.to_owned()];
    decide(actor, Menu::Users, Action::Update, Owner::Groups(&own))?;
    if actor.role != Role::Admin && !changed_users_groups.iter().all(|g| actor.shares_group(g)) {
        return Err(Denied::OutsideGroups);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role, groups: &[&str]) -> Actor {
        Actor {
            user_id: "me".to_owned(),
            role,
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    fn g(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn table_matches_the_spec_text() {
        // platform.md, "Roles and permissions", row by row.
        let spec = "\
| clusters | C U D R | C U D R | R | R |
| protection groups | C U D R | C U D R | R | R |
| recovery plans | C U D R | C U D R | R | R |
| recovery jobs | C U D R | C U D R | C U D R | R |
| recovery results | D R | D R | D R | R |
| licence | C U R | R | – | – |
| users | C U D R | C U D R | – | – |";
        for (line, (menu, _)) in spec.lines().zip(PERMISSION_TABLE) {
            let cells: Vec<&str> = line
                .split('|')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            for role in Role::ALL {
                let cell = cells[1 + role.column()];
                for action in Action::ALL {
                    assert_eq!(
                        table_allows(role, menu, action),
                        cell.contains(action.letter()),
                        "{menu:?} {role} {action:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn decide_is_table_and_ownership_for_every_cell() {
        for (menu, _) in PERMISSION_TABLE {
            for role in Role::ALL {
                for action in Action::ALL {
                    let a = actor(role, &["mine"]);
                    let allowed = table_allows(role, menu, action);
                    let own = decide(&a, menu, action, Owner::Groups(&g(&["mine"])));
                    let other = decide(&a, menu, action, Owner::Groups(&g(&["theirs"])));
                    let none = decide(&a, menu, action, Owner::Groups(&[]));
                    let system = decide(&a, menu, action, Owner::System);
                    assert_eq!(own.is_ok(), allowed);
                    assert_eq!(system.is_ok(), allowed);
                    assert_eq!(other.is_ok(), allowed && role == Role::Admin);
                    assert_eq!(none.is_ok(), allowed && role == Role::Admin);
                    if allowed && role != Role::Admin {
                        assert_eq!(other, Err(Denied::OutsideGroups));
                    }
                }
            }
        }
    }

    #[test]
    fn admin_accounts_are_protected() {
        let admin_target = TargetUser {
            id: "root",
            role: Role::Admin,
            groups: &[],
        };
        let mgr = actor(Role::Manager, &["mine"]);
        let adm = actor(Role::Admin, &[]);
        assert_eq!(
            update_user(&mgr, admin_target, UserChange::default()),
            Err(Denied::AdminAccount)
        );
        assert!(update_user(&adm, admin_target, UserChange::default()).is_ok());
        assert_eq!(
            delete_user(&adm, admin_target),
            Err(Denied::AdminUndeletable)
        );
        assert_eq!(
            reset_password(&mgr, admin_target),
            Err(Denied::AdminAccount)
        );
        assert!(reset_password(&adm, admin_target).is_ok());
        let op = TargetUser {
            id: "op",
            role: Role::Operator,
            groups: &[],
        };
        let grant = UserChange {
            role: Some(Role::Admin),
            groups: None,
        };
        assert_eq!(update_user(&adm, op, grant), Err(Denied::AdminNotGrantable));
        assert_eq!(
            create_user(&mgr, Role::Admin, &g(&["mine"])),
            Err(Denied::AdminNotGrantable)
        );
    }

    #[test]
    fn self_service_rules() {
        for role in [Role::Operator, Role::Viewer] {
            let me = actor(role, &["mine"]);
            let target = TargetUser {
                id: "me",
                role,
                groups: &g(&["mine"]),
            };
            assert!(read_user(&me, target).is_ok());
            assert!(update_user(&me, target, UserChange::default()).is_ok());
            assert!(logout_user(&me, target).is_ok());
            let promote = UserChange {
                role: Some(Role::Manager),
                groups: None,
            };
            assert_eq!(
                update_user(&me, target, promote),
                Err(Denied::OwnRoleOrGroups)
            );
            let regroup = g(&["theirs"]);
            let move_groups = UserChange {
                role: None,
                groups: Some(&regroup),
            };
            assert_eq!(
                update_user(&me, target, move_groups),
                Err(Denied::OwnRoleOrGroups)
            );
            let other = TargetUser {
                id: "x",
                role: Role::Viewer,
                groups: &g(&["mine"]),
            };
            assert!(read_user(&me, other).is_err());
            assert!(logout_user(&me, other).is_err());
        }
        let mgr = actor(Role::Manager, &["mine"]);
        let me = TargetUser {
            id: "me",
            role: Role::Manager,
            groups: &g(&["mine"]),
        };
        assert_eq!(delete_user(&mgr, me), Err(Denied::SelfDelete));
    }

    #[test]
    fn managers_stay_within_their_groups() {
        let mgr = actor(Role::Manager, &["a", "b"]);
        assert!(create_user(&mgr, Role::Operator, &g(&["a"])).is_ok());
        assert_eq!(
            create_user(&mgr, Role::Operator, &g(&["c"])),
            Err(Denied::OutsideGroups)
        );
        assert_eq!(
            create_user(&mgr, Role::Operator, &[]),
            Err(Denied::OutsideGroups)
        );
        let target = TargetUser {
            id: "u",
            role: Role::Operator,
            groups: &g(&["a", "c"]),
        };
        let keep_c = g(&["b", "c"]);
        assert!(
            update_user(
                &mgr,
                target,
                UserChange {
                    role: None,
                    groups: Some(&keep_c)
                }
            )
            .is_ok()
        );
        let drop_c = g(&["a"]);
        assert_eq!(
            update_user(
                &mgr,
                target,
                UserChange {
                    role: None,
                    groups: Some(&drop_c)
                }
            ),
            Err(Denied::OutsideGroups)
        );
        let ua = g(&["a"]);
        let uc = g(&["c"]);
        assert!(set_members(&mgr, "a", &[&ua]).is_ok());
        assert_eq!(set_members(&mgr, "a", &[&uc]), Err(Denied::OutsideGroups));
        assert_eq!(set_members(&mgr, "c", &[&ua]), Err(Denied::OutsideGroups));
        let adm = actor(Role::Admin, &[]);
        assert!(set_members(&adm, "c", &[&uc]).is_ok());
    }
}
