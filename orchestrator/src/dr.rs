//! The DR domain core (issue 7): protection groups, recovery plans, plan states,
//! recovery jobs, the recovery task graph, rollback and snapshot retention, as plain
//! types and total functions. No I/O, no async, no database, no clock: the job
//! engine reads facts, calls these functions and performs the
//! [`job_state::Effect`]s they return.
//!
//! Spec: `shared/spec/protection.md` and `shared/spec/jobs.md` (plus the known
//! constraints of `operations.md`); each public function names the rule it
//! implements.
//!
//! | module | holds |
//! | --- | --- |
//! | [`job_state`] | the job state machine `step(job, event) -> (job, effects)`; the spec table it is tested against is `job_state/spec_table.rs` |
//! | [`job_rules`] | the (type, run type, recovery point) table; create / update / delete rules for jobs |
//! | [`queue`] | which pending job may start, the 10-minute rule for scheduled drills |
//! | [`frozen`] | the frozen copy of plan, group and clusters a triggered job works from |
//! | [`plan_state`] | plan-state evaluation with every reason, and its precedence |
//! | [`capacity`] | the capacity check: flavors (vCPU, RAM, local disk) against the mapped target nodes' free capacity |
//! | [`plan_sync`] | mapping validation against the synced target; the plan sync reactions |
//! | [`plan_rules`] | plan create / update / delete rules |
//! | [`group_rules`] | protection-group create / update / delete rules and the manual's constraints |
//! | [`topology`] | what a recovery rebuilds (the frozen plan with its mapping applied) |
//! | [`target_details`] | what the executor needs beyond the topology (flavor, AZ, node, fixed IPs, volume sizes/types, rules, keys, external network) |
//! | [`recovery_graph`] | the ordered recovery tasks with dependencies, the failure/skip rule, results, retry |
//! | [`rollback`] | the record of created resources, rollback order, cleanup script, confirm split |
//! | [`retention`] | retention 1..48 and which snapshots to delete |
//! | [`retry_point`] | a retry from another recovery point: the tasks it re-runs, resource generations, instances kept off the network |
//! | [`names`] | the cluster/group/plan name rule (the platform code has no type for it) |
//! | [`ids`], [`job`] | identifiers and the job vocabulary |
//!
//! Decisions where the spec is silent (each is also documented where it is made):
//!
//! - A `now` job is triggered on creation (`pending` + frozen copy); `at`/`schedule`
//!   jobs start `waiting`. `run` on `waiting` is refused (the table has no row).
//! - `cancel` on `pending` is refused with "delete the job instead" (spec: stop only
//!   a running job).
//! - The 10-minute rule takes a `pending` scheduled drill straight to `reporting`
//!   with result `canceled` and the reason, then `finished` → `waiting` (re-armed).
//! - `retry` moves a completed DR job back to `running`; when its tasks are done the
//!   job is `completed` again with the result over all instances
//!   ([`recovery_graph::merge_retry`]).
//! - `ignore-rollback` applies only after a failed *rollback*; after a failed confirm
//!   the operator retries or cancels the confirm. `retry-rollback` is DR-only (spec)
//!   and is also accepted after a failed confirm (the table says "operation becomes
//!   rollback").
//! - DR jobs are never rolled back by a timer; extending the wait of a DR job in
//!   `clear-failed` is accepted (spec) and only postpones the engine's reminder.
//! - A finished scheduled drill waits for [`job_state::Event::Rearm`] (sent by the
//!   scheduler once it has computed the next slot); every other finished job is
//!   terminal.
//! - "DR job in progress" (creation rule) = a DR job from `pending` to `reporting`. A
//!   job "occupies" its group in the queue from `running` until `finished` (a
//!   completed job still holds resources on the target).
//! - Plan-state precedence: Critical > Prepare (initial copy) > Emergency > Prepare
//!   (repair) > Warning > Normal; see [`plan_state`].
//! - Drills: every network is an isolated copy, no router gateway, no floating IP,
//!   unless the plan allows external access; even then a drill never keeps a
//!   production address.
//! - A boot group starts when every instance of the previous group is running *or
//!   failed* (a failed instance does not stop the others).
//! - An instance counts as recovered only if every task serving it succeeded (shared
//!   tasks such as networks serve every instance using them).
//! - OpenStack volume groups are accepted when the whole volume group is protected by
//!   the same group (a consistent cut), refused otherwise; volumes created from a
//!   snapshot are refused at protection time.

pub mod capacity;
pub mod frozen;
pub mod group_rules;
pub mod ids;
pub mod job;
pub mod job_operations;
pub mod job_rules;
pub mod job_state;
pub mod names;
pub mod plan_rules;
pub mod plan_state;
pub mod plan_sync;
pub mod queue;
pub mod recovery_graph;
pub mod retention;
pub mod retry_point;
pub mod rollback;
pub mod target_details;
pub mod topology;

#[cfg(test)]
mod lifecycle_tests;
