-- Plan sync warnings (issue 7, plan facts): a `Warning` reason a plan sync reaction
-- raised (protection.md, "Plan sync reactions") stays until a user saves the plan.
-- The reason is the operator text, so the same reason is stored once per plan.
CREATE TABLE plan_sync_warnings (
    plan_id TEXT NOT NULL REFERENCES recovery_plans (id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    raised_at BIGINT NOT NULL,
    PRIMARY KEY (plan_id, reason)
);
