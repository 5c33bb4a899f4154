-- The default resource list (live rows of one kind, by name) as a partial index.
-- PostgreSQL does not take `deleted_at IS NULL` as an equality, so it could not read
-- the (name, id) order out of cluster_resources_list (..., deleted_at, name, id): it
-- sorted every live row of the kind for each page, and often chose to read the whole
-- table, documents included, instead. This index gives the order on both engines, and
-- the page and its count read only index entries of the cluster's live rows.
DROP INDEX cluster_resources_list;
CREATE INDEX cluster_resources_live ON cluster_resources (cluster_id, kind, name, id)
    WHERE deleted_at IS NULL;
