//! The OpenAPI 3 document, generated from the handlers' annotations (utoipa).

use axum::Json;
use utoipa::OpenApi;

use super::schedules;
use super::{
    agents, audit, auth, clusters, error, events, groups, jobs, licence, page, plans,
    protection_groups, reports, settings, snapshots, users,
};

/// The API description.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Holdfast orchestrator API", version = "1"),
    paths(
        auth::login, auth::logout,
        users::me, users::change_password,
        users::list, users::create, users::get, users::update, users::delete,
        users::reset_password, users::logout_user,
        groups::list, groups::create, groups::get, groups::update, groups::delete,
        groups::set_members,
        licence::get, licence::put,
        events::list, events::get, events::stream,
        settings::get, settings::update,
        audit::list,
        document,
        clusters::list, clusters::register, clusters::get, clusters::update, clusters::delete,
        clusters::sync, clusters::resources::list, clusters::resources::get,
        clusters::resources::unprotected_instances,
        protection_groups::list, protection_groups::create, protection_groups::get,
        protection_groups::update, protection_groups::delete,
        plans::list, plans::create, plans::get, plans::update, plans::delete, plans::plan_state,
        snapshots::list, snapshots::create, snapshots::delete, snapshots::replication,
        agents::list, agents::get,
        jobs::list, jobs::create, jobs::get, jobs::update, jobs::delete, jobs::operate,
        jobs::monitor_view, jobs::stream,
        reports::list, reports::get, reports::export, reports::delete, reports::history,
        schedules::list, schedules::get,
    ),
    components(schemas(
        error::ErrorBody, error::ErrorDetail, page::Page<users::UserView>,
        crate::jobs::view::MonitorChange,
    )),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

#[derive(Debug)]
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document of this API.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", security(()),
    responses((status = 200, description = "OpenAPI 3 document", content_type = "application/json")))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
