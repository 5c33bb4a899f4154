//! The DR domain core (issue 7): protection groups, recovery plans, plan states,
//! recovery jobs, the recovery task graph, rollback and snapshot retention, as plain
//! types and total functions. No I/O, no async, no database: the job engine performs
//! the [`job_state::Effect`]s that these functions return.
//!
//! Spec: `shared/spec/protection.md` and `shared/spec/jobs.md`; every public function
//! names the rule it implements.

pub mod frozen;
pub mod group_rules;
pub mod ids;
pub mod job;
pub mod job_rules;
pub mod job_state;
pub mod names;
pub mod plan_rules;
pub mod plan_state;
pub mod plan_sync;
pub mod queue;
pub mod recovery_graph;
pub mod retention;
pub mod rollback;
pub mod topology;
