//! Keystone: token, admin role, projects, users, roles, role assignments; which part of
//! a bad credential failed.

use holdfast_openstack::keystone::ProjectCreate;
use holdfast_openstack::{AuthError, AuthPart, Error, Filters, Options, Password, Session};

use crate::support::{target, unique};

#[tokio::test]
async fn token_admin_role_and_validation() {
    let t = target().await;
    Session::check(t.credentials.clone(), Options::default())
        .await
        .unwrap();
    let ks = t.session.keystone();
    ks.require_admin().await.unwrap();
    let token = ks.current_token().await.unwrap();
    let project = token.project.clone().expect("project-scoped token");
    assert_eq!(project.name, t.credentials.project);
    let validated = ks.validate_token(token.secret()).await.unwrap();
    assert_eq!(validated.user.id, token.user.id);
    assert_eq!(validated.project.map(|p| p.id), Some(project.id));
    assert!(validated.roles.iter().any(|r| r.name == "admin"));
}

#[tokio::test]
async fn bad_credentials_name_the_failing_part() {
    let t = target().await;
    let mut wrong_password = t.credentials.clone();
    wrong_password.password = Password::new("not-the-password");
    let err = Session::connect(wrong_password, Options::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Auth(AuthError::Refused {
                part: AuthPart::Credentials,
                ..
            })
        ),
        "{err}"
    );

    let mut wrong_project = t.credentials.clone();
    wrong_project.project = unique("no-such-project");
    let err = Session::connect(wrong_project, Options::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Auth(AuthError::Refused {
                part: AuthPart::ProjectScope,
                ..
            })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn project_lifecycle_with_admin_membership() {
    let t = target().await;
    let ks = t.session.keystone();
    let me = ks.current_token().await.unwrap().user.id.clone();
    let name = unique("project");
    let created = ks
        .create_project(&ProjectCreate {
            name: name.clone(),
            description: Some("holdfast contract suite".into()),
            enabled: true,
            ..ProjectCreate::default()
        })
        .await
        .unwrap();
    assert_eq!(created.name, name);

    let listed = ks
        .projects(&Filters::none().eq("name", &name))
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        [created.id.as_str()]
    );
    assert!(
        ks.projects(&Filters::none())
            .await
            .unwrap()
            .iter()
            .any(|p| p.id == created.id)
    );
    assert_eq!(
        ks.project(&created.id)
            .await
            .unwrap()
            .description
            .as_deref(),
        Some("holdfast contract suite")
    );

    let admin = ks
        .role_by_name("admin")
        .await
        .unwrap()
        .expect("an admin role");
    assert!(
        ks.roles(&Filters::none())
            .await
            .unwrap()
            .iter()
            .any(|r| r.id == admin.id)
    );
    assert!(
        ks.users(&Filters::none())
            .await
            .unwrap()
            .iter()
            .any(|u| u.id == me)
    );
    assert_eq!(ks.user(&me).await.unwrap().id, me);

    assert!(
        !ks.has_project_role(&created.id, &me, &admin.id)
            .await
            .unwrap()
    );
    ks.grant_project_role(&created.id, &me, &admin.id)
        .await
        .unwrap();
    ks.grant_project_role(&created.id, &me, &admin.id)
        .await
        .unwrap(); // idempotent
    assert!(
        ks.has_project_role(&created.id, &me, &admin.id)
            .await
            .unwrap()
    );
    let assignments = ks
        .role_assignments(
            &Filters::none()
                .eq("scope.project.id", &created.id)
                .eq("user.id", &me),
        )
        .await
        .unwrap();
    assert!(
        assignments.iter().any(|a| a.role.id == admin.id
            && a.scope.project.as_ref().map(|p| p.id.as_str()) == Some(created.id.as_str())),
        "{assignments:?}"
    );

    // A session scoped to the new project sees it as its own.
    let mut scoped = t.credentials.clone();
    scoped.project = name.clone();
    let s2 = Session::connect(scoped, Options::default()).await.unwrap();
    assert_eq!(
        s2.token().await.unwrap().project.as_ref().unwrap().id,
        created.id
    );

    ks.revoke_project_role(&created.id, &me, &admin.id)
        .await
        .unwrap();
    assert!(
        !ks.has_project_role(&created.id, &me, &admin.id)
            .await
            .unwrap()
    );
    ks.delete_project(&created.id).await.unwrap();
    let err = ks.project(&created.id).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
}
