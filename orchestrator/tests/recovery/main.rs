//! The recovery executor against two in-process test clouds (issue 7, item 5), on
//! SQLite and PostgreSQL: a drill and a DR of a realistic project, rollback to an
//! identical target listing, an injected instance failure, and a crash at every
//! checkpoint of a recovery and of a rollback.

mod crash;
mod drill;
mod materialiser;
mod support;
