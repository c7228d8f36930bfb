-- The rows a fresh database starts with: the default tenant, Dragonfly's default cluster
-- (scheduler cluster 1 and seed peer cluster 1, linked), the built-in roles and the gc config.
INSERT INTO "tenant" ("id", "name", "bio") VALUES (1, 'default', 'The default tenant');
--> statement-breakpoint
SELECT setval(pg_get_serial_sequence('"tenant"', 'id'), 1);
--> statement-breakpoint
INSERT INTO "scheduler_cluster" ("id", "tenant_id", "name", "bio", "config", "client_config", "seed_client_config", "scopes", "is_default")
VALUES (1, 1, 'cluster-1', 'The default cluster',
  '{"candidate_parent_limit":3,"filter_parent_limit":15,"job_rate_limit":10}'::jsonb,
  '{"load_limit":200}'::jsonb, '{"load_limit":2000}'::jsonb, '{}'::jsonb, true);
--> statement-breakpoint
SELECT setval(pg_get_serial_sequence('"scheduler_cluster"', 'id'), 1);
--> statement-breakpoint
INSERT INTO "seed_peer_cluster" ("id", "tenant_id", "name", "bio", "config")
VALUES (1, 1, 'cluster-1', 'The default cluster', '{"load_limit":2000}'::jsonb);
--> statement-breakpoint
SELECT setval(pg_get_serial_sequence('"seed_peer_cluster"', 'id'), 1);
--> statement-breakpoint
INSERT INTO "seed_peer_cluster_scheduler_cluster" ("seed_peer_cluster_id", "scheduler_cluster_id") VALUES (1, 1);
--> statement-breakpoint
INSERT INTO "role" ("name", "builtin") VALUES ('root', true), ('admin', true), ('guest', true);
--> statement-breakpoint
INSERT INTO "role_permission" ("role", "object", "action")
SELECT 'root', g, '*' FROM unnest(ARRAY['users','roles','permissions','personal-access-tokens','tenants','clusters',
  'scheduler-clusters','schedulers','scheduler-features','seed-peer-clusters','seed-peers','peers','configs','jobs',
  'applications']) AS g;
--> statement-breakpoint
INSERT INTO "role_permission" ("role", "object", "action")
SELECT 'admin', g, '*' FROM unnest(ARRAY['personal-access-tokens','clusters','scheduler-clusters','schedulers',
  'seed-peer-clusters','seed-peers','peers','jobs','applications']) AS g
UNION ALL
SELECT 'admin', g, 'read' FROM unnest(ARRAY['permissions','scheduler-features','configs']) AS g;
--> statement-breakpoint
INSERT INTO "role_permission" ("role", "object", "action")
SELECT 'guest', g, 'read' FROM unnest(ARRAY['permissions','clusters','scheduler-clusters','schedulers',
  'scheduler-features','seed-peer-clusters','seed-peers','peers','configs','jobs','applications']) AS g
UNION ALL
SELECT 'guest', 'personal-access-tokens', '*';
--> statement-breakpoint
INSERT INTO "config" ("name", "value", "bio")
VALUES ('gc', '{"audit":{"ttl":604800000000000},"job":{"ttl":21600000000000}}', 'Garbage collection of audits and jobs');
