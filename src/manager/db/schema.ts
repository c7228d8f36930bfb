/**
 * The manager's tables. Property names are the JSON field names the REST API returns (snake_case, as
 * Dragonfly's), so rows leave services without renaming. Every tenant-owned row carries `tenant_id`.
 */
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  serial,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";

const timestamps = {
  created_at: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  updated_at: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
};

/** JSON object columns. */
type JsonObject = Record<string, unknown>;

/** A tenant: the owner of clusters, applications, jobs and tokens. */
export const tenant = pgTable("tenant", {
  id: serial("id").primaryKey(),
  name: text("name").notNull().unique(),
  bio: text("bio").notNull().default(""),
  ...timestamps,
});

/** An account. */
export const user = pgTable("user", {
  id: serial("id").primaryKey(),
  name: text("name").notNull().unique(),
  email: text("email").notNull().unique(),
  encrypted_password: text("encrypted_password").notNull(),
  avatar: text("avatar").notNull().default(""),
  phone: text("phone").notNull().default(""),
  location: text("location").notNull().default(""),
  bio: text("bio").notNull().default(""),
  state: text("state").notNull().default("enable"),
  ...timestamps,
});

/** Which tenants a user acts within. */
export const userTenant = pgTable(
  "user_tenant",
  {
    user_id: integer("user_id").notNull().references(() => user.id, { onDelete: "cascade" }),
    tenant_id: integer("tenant_id").notNull().references(() => tenant.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.user_id, t.tenant_id] }), index("user_tenant_tenant_idx").on(t.tenant_id)],
);

/** A role; `root` acts across every tenant. */
export const role = pgTable("role", {
  name: text("name").primaryKey(),
  builtin: boolean("builtin").notNull().default(false),
  created_at: timestamps.created_at,
});

/** A permission of a role: an API group and `read` or `*`. */
export const rolePermission = pgTable(
  "role_permission",
  {
    role: text("role").notNull().references(() => role.name, { onDelete: "cascade" }),
    object: text("object").notNull(),
    action: text("action").notNull(),
  },
  (t) => [primaryKey({ columns: [t.role, t.object, t.action] })],
);

/** The roles a user holds. */
export const userRole = pgTable(
  "user_role",
  {
    user_id: integer("user_id").notNull().references(() => user.id, { onDelete: "cascade" }),
    role: text("role").notNull().references(() => role.name, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.user_id, t.role] })],
);

/** A sign-in session: JWTs carry its id, so signing out revokes them on every instance. */
export const session = pgTable(
  "session",
  {
    id: text("id").primaryKey(),
    user_id: integer("user_id").notNull().references(() => user.id, { onDelete: "cascade" }),
    created_at: timestamps.created_at,
    refresh_until: timestamp("refresh_until", { withTimezone: true }).notNull(),
    revoked_at: timestamp("revoked_at", { withTimezone: true }),
  },
  (t) => [index("session_user_idx").on(t.user_id)],
);

/** A personal access token, stored as its SHA-256 only. */
export const personalAccessToken = pgTable(
  "personal_access_token",
  {
    id: serial("id").primaryKey(),
    tenant_id: integer("tenant_id").notNull().references(() => tenant.id),
    user_id: integer("user_id").notNull().references(() => user.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    bio: text("bio").notNull().default(""),
    token_hash: text("token_hash").notNull().unique(),
    token_prefix: text("token_prefix").notNull(),
    scopes: jsonb("scopes").$type<string[]>().notNull(),
    state: text("state").notNull().default("active"),
    expired_at: timestamp("expired_at", { withTimezone: true }).notNull(),
    last_used_at: timestamp("last_used_at", { withTimezone: true }),
    ...timestamps,
  },
  (t) => [uniqueIndex("personal_access_token_tenant_name_idx").on(t.tenant_id, t.name)],
);

/** A scheduler cluster with its JSON configs and scopes. */
export const schedulerCluster = pgTable(
  "scheduler_cluster",
  {
    id: serial("id").primaryKey(),
    tenant_id: integer("tenant_id").notNull().references(() => tenant.id),
    name: text("name").notNull(),
    bio: text("bio").notNull().default(""),
    config: jsonb("config").$type<JsonObject>().notNull().default({}),
    client_config: jsonb("client_config").$type<JsonObject>().notNull().default({}),
    seed_client_config: jsonb("seed_client_config").$type<JsonObject>().notNull().default({}),
    scopes: jsonb("scopes").$type<JsonObject>().notNull().default({}),
    is_default: boolean("is_default").notNull().default(false),
    ...timestamps,
  },
  (t) => [uniqueIndex("scheduler_cluster_tenant_name_idx").on(t.tenant_id, t.name)],
);

/** A seed peer cluster. */
export const seedPeerCluster = pgTable(
  "seed_peer_cluster",
  {
    id: serial("id").primaryKey(),
    tenant_id: integer("tenant_id").notNull().references(() => tenant.id),
    name: text("name").notNull(),
    bio: text("bio").notNull().default(""),
    config: jsonb("config").$type<JsonObject>().notNull().default({}),
    ...timestamps,
  },
  (t) => [uniqueIndex("seed_peer_cluster_tenant_name_idx").on(t.tenant_id, t.name)],
);

/** Links seed peer clusters to the scheduler clusters they serve. */
export const seedPeerClusterSchedulerCluster = pgTable(
  "seed_peer_cluster_scheduler_cluster",
  {
    seed_peer_cluster_id: integer("seed_peer_cluster_id").notNull().references(() => seedPeerCluster.id, { onDelete: "cascade" }),
    scheduler_cluster_id: integer("scheduler_cluster_id").notNull().references(() => schedulerCluster.id, { onDelete: "cascade" }),
  },
  (t) => [
    primaryKey({ columns: [t.seed_peer_cluster_id, t.scheduler_cluster_id] }),
    index("spc_sc_scheduler_cluster_idx").on(t.scheduler_cluster_id),
  ],
);

/** A scheduler instance; liveness is `state` plus `last_keep_alive_at` within three intervals. */
export const scheduler = pgTable(
  "scheduler",
  {
    id: serial("id").primaryKey(),
    tenant_id: integer("tenant_id").notNull().references(() => tenant.id),
    host_name: text("host_name").notNull(),
    idc: text("idc").notNull().default(""),
    location: text("location").notNull().default(""),
    ip: text("ip").notNull(),
    port: integer("port").notNull(),
    state: text("state").notNull().default("inactive"),
    features: jsonb("features").$type<string[]>().notNull().default(["schedule", "preheat"]),
    config: jsonb("config").$type<JsonObject>().notNull().default({}),
    keep_alive_interval_ms: integer("keep_alive_interval_ms").notNull().default(5000),
    last_keep_alive_at: timestamp("last_keep_alive_at", { withTimezone: true }),
    /** Release and commit the scheduler reports with its stats (Libellula's extension). */
    git_version: text("git_version").notNull().default(""),
    git_commit: text("git_commit").notNull().default(""),
    scheduler_cluster_id: integer("scheduler_cluster_id").notNull().references(() => schedulerCluster.id),
    ...timestamps,
  },
  (t) => [
    uniqueIndex("scheduler_host_ip_cluster_idx").on(t.host_name, t.ip, t.scheduler_cluster_id),
    index("scheduler_cluster_idx").on(t.scheduler_cluster_id),
  ],
);

/** A seed peer instance. */
export const seedPeer = pgTable(
  "seed_peer",
  {
    id: serial("id").primaryKey(),
    tenant_id: integer("tenant_id").notNull().references(() => tenant.id),
    host_name: text("host_name").notNull(),
    type: text("type").notNull().default("super"),
    idc: text("idc").notNull().default(""),
    location: text("location").notNull().default(""),
    ip: text("ip").notNull(),
    port: integer("port").notNull(),
    download_port: integer("download_port").notNull().default(0),
    object_storage_port: integer("object_storage_port").notNull().default(0),
    state: text("state").notNull().default("active"),
    keep_alive_interval_ms: integer("keep_alive_interval_ms").notNull().default(5000),
    last_keep_alive_at: timestamp("last_keep_alive_at", { withTimezone: true }),
    /** Release and commit the seed peer reports with its heartbeats (Libellula's extension). */
    git_version: text("git_version").notNull().default(""),
    git_commit: text("git_commit").notNull().default(""),
    seed_peer_cluster_id: integer("seed_peer_cluster_id").notNull().references(() => seedPeerCluster.id),
    ...timestamps,
  },
  (t) => [
    uniqueIndex("seed_peer_host_ip_cluster_idx").on(t.host_name, t.ip, t.seed_peer_cluster_id),
    index("seed_peer_cluster_idx").on(t.seed_peer_cluster_id),
  ],
);

/** A peer reported by a scheduler (sync_peers) or created by hand. */
export const peer = pgTable(
  "peer",
  {
    id: serial("id").primaryKey(),
    tenant_id: integer("tenant_id").notNull().references(() => tenant.id),
    host_name: text("host_name").notNull(),
    type: text("type").notNull().default("normal"),
    idc: text("idc").notNull().default(""),
    location: text("location").notNull().default(""),
    ip: text("ip").notNull(),
    port: integer("port").notNull().default(0),
    download_port: integer("download_port").notNull().default(0),
    proxy_port: integer("proxy_port").notNull().default(0),
    object_storage_port: integer("object_storage_port").notNull().default(0),
    state: text("state").notNull().default("active"),
    os: text("os").notNull().default(""),
    platform: text("platform").notNull().default(""),
    platform_family: text("platform_family").notNull().default(""),
    platform_version: text("platform_version").notNull().default(""),
    kernel_version: text("kernel_version").notNull().default(""),
    git_version: text("git_version").notNull().default(""),
    git_commit: text("git_commit").notNull().default(""),
    build_platform: text("build_platform").notNull().default(""),
    scheduler_cluster_id: integer("scheduler_cluster_id").notNull().references(() => schedulerCluster.id, { onDelete: "cascade" }),
    ...timestamps,
  },
  (t) => [uniqueIndex("peer_host_ip_cluster_idx").on(t.host_name, t.ip, t.scheduler_cluster_id)],
);

/** An application with its download priority rules. */
export const application = pgTable(
  "application",
  {
    id: serial("id").primaryKey(),
    tenant_id: integer("tenant_id").notNull().references(() => tenant.id),
    name: text("name").notNull(),
    url: text("url").notNull().default(""),
    bio: text("bio").notNull().default(""),
    priority: jsonb("priority").$type<JsonObject>().notNull().default({ value: 0 }),
    user_id: integer("user_id"),
    ...timestamps,
  },
  (t) => [uniqueIndex("application_tenant_name_idx").on(t.tenant_id, t.name)],
);

/** A global key/value setting (`gc` is built in). */
export const config = pgTable("config", {
  id: serial("id").primaryKey(),
  name: text("name").notNull().unique(),
  value: text("value").notNull(),
  bio: text("bio").notNull().default(""),
  user_id: integer("user_id"),
  ...timestamps,
});

/** A job: preheat, get_task, delete_task, sync_peers, ... Externally PENDING, SUCCESS or FAILURE. */
export const job = pgTable(
  "job",
  {
    id: serial("id").primaryKey(),
    tenant_id: integer("tenant_id").notNull().references(() => tenant.id),
    task_id: text("task_id").notNull().default(""),
    bio: text("bio").notNull().default(""),
    type: text("type").notNull(),
    state: text("state").notNull().default("PENDING"),
    args: jsonb("args").$type<JsonObject>().notNull().default({}),
    result: jsonb("result").$type<JsonObject | null>(),
    user_id: integer("user_id"),
    ...timestamps,
  },
  (t) => [index("job_tenant_created_idx").on(t.tenant_id, t.created_at)],
);

/** The scheduler clusters a job targets. */
export const jobSchedulerCluster = pgTable(
  "job_scheduler_cluster",
  {
    job_id: integer("job_id").notNull().references(() => job.id, { onDelete: "cascade" }),
    scheduler_cluster_id: integer("scheduler_cluster_id").notNull().references(() => schedulerCluster.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.job_id, t.scheduler_cluster_id] })],
);

/**
 * One unit of a job for one scheduler cluster. Schedulers claim PENDING rows (or RUNNING rows whose lease
 * expired) with `FOR UPDATE SKIP LOCKED`, so any number of schedulers and managers can share the table.
 */
export const jobTask = pgTable(
  "job_task",
  {
    id: serial("id").primaryKey(),
    job_id: integer("job_id").notNull().references(() => job.id, { onDelete: "cascade" }),
    scheduler_cluster_id: integer("scheduler_cluster_id").notNull().references(() => schedulerCluster.id, { onDelete: "cascade" }),
    type: text("type").notNull(),
    state: text("state").notNull().default("PENDING"),
    attempts: integer("attempts").notNull().default(0),
    claimed_by: text("claimed_by"),
    lease_expires_at: timestamp("lease_expires_at", { withTimezone: true }),
    result: jsonb("result").$type<JsonObject | null>(),
    error: text("error").notNull().default(""),
    ...timestamps,
  },
  (t) => [
    index("job_task_claim_idx").on(t.scheduler_cluster_id, t.state),
    index("job_task_job_idx").on(t.job_id),
  ],
);

/** Fixed-window counters shared by every instance (sign-in attempts, job creation). */
export const rateLimit = pgTable("rate_limit", {
  key: text("key").primaryKey(),
  window_start: timestamp("window_start", { withTimezone: true }).notNull(),
  count: integer("count").notNull(),
});

/** Secrets and other values generated once per database (the JWT signing key). */
export const setting = pgTable("setting", {
  name: text("name").primaryKey(),
  value: text("value").notNull(),
  created_at: timestamps.created_at,
});

/**
 * Traffic a scheduler reported, summed per one-minute bucket: bytes by type and the live counts of its last
 * report in the bucket. Kept for seven days.
 */
export const trafficBucket = pgTable(
  "traffic_bucket",
  {
    tenant_id: integer("tenant_id").notNull().references(() => tenant.id),
    scheduler_cluster_id: integer("scheduler_cluster_id").notNull().references(() => schedulerCluster.id, { onDelete: "cascade" }),
    /** No foreign key: the history outlives a scheduler removed after it went inactive. */
    scheduler_id: integer("scheduler_id").notNull(),
    bucket_start: timestamp("bucket_start", { withTimezone: true }).notNull(),
    back_to_source_bytes: bigint("back_to_source_bytes", { mode: "number" }).notNull().default(0),
    remote_peer_bytes: bigint("remote_peer_bytes", { mode: "number" }).notNull().default(0),
    local_peer_bytes: bigint("local_peer_bytes", { mode: "number" }).notNull().default(0),
    active_tasks: integer("active_tasks").notNull().default(0),
    active_peers: integer("active_peers").notNull().default(0),
    hosts: integer("hosts").notNull().default(0),
    reported_at: timestamp("reported_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.scheduler_id, t.bucket_start] }),
    index("traffic_bucket_cluster_time_idx").on(t.scheduler_cluster_id, t.bucket_start),
    index("traffic_bucket_tenant_time_idx").on(t.tenant_id, t.bucket_start),
    index("traffic_bucket_time_idx").on(t.bucket_start),
  ],
);

/**
 * Pieces one host got for one task from one parent host, or from the origin when `parent_host_id` is empty,
 * as the cluster's schedulers reported them. Kept for seven days after the last transfer.
 */
export const taskTransfer = pgTable(
  "task_transfer",
  {
    tenant_id: integer("tenant_id").notNull().references(() => tenant.id),
    scheduler_cluster_id: integer("scheduler_cluster_id").notNull().references(() => schedulerCluster.id, { onDelete: "cascade" }),
    task_id: text("task_id").notNull(),
    child_host_id: text("child_host_id").notNull(),
    child_hostname: text("child_hostname").notNull(),
    child_ip: text("child_ip").notNull(),
    child_type: text("child_type").notNull().default("normal"),
    parent_host_id: text("parent_host_id").notNull().default(""),
    parent_hostname: text("parent_hostname").notNull().default(""),
    parent_ip: text("parent_ip").notNull().default(""),
    parent_type: text("parent_type").notNull().default(""),
    bytes: bigint("bytes", { mode: "number" }).notNull().default(0),
    pieces: integer("pieces").notNull().default(0),
    ...timestamps,
  },
  (t) => [
    primaryKey({ columns: [t.scheduler_cluster_id, t.task_id, t.child_host_id, t.parent_host_id] }),
    index("task_transfer_task_idx").on(t.task_id),
    index("task_transfer_updated_idx").on(t.updated_at),
  ],
);
