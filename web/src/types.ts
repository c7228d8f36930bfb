/** The manager's JSON shapes the console reads (see openapi.yaml). */

export type JsonObject = Record<string, unknown>;

export interface User {
  id: number;
  name: string;
  email: string;
  phone: string;
  avatar: string;
  location: string;
  bio: string;
  state: "enable" | "disable" | string;
  created_at: string;
  updated_at: string;
}

export interface Permission {
  object: string;
  action: "read" | "*";
}

export interface Role {
  role: string;
  builtin: boolean;
  permissions: Permission[];
}

export interface Tenant {
  id: number;
  name: string;
  bio: string;
  created_at: string;
  updated_at: string;
}

export interface TenantMember {
  id: number;
  name: string;
  email: string;
}

export interface Scopes {
  idc?: string;
  location?: string;
  cidrs?: string[];
  hostnames?: string[];
  [key: string]: unknown;
}

export interface Cluster {
  id: number;
  tenant_id: number;
  name: string;
  bio: string;
  scopes: Scopes;
  scheduler_cluster_id: number;
  seed_peer_cluster_id: number | null;
  scheduler_cluster_config: JsonObject;
  seed_peer_cluster_config: JsonObject;
  peer_cluster_config: JsonObject;
  seed_client_config?: JsonObject;
  is_default: boolean;
  created_at: string;
  updated_at: string;
}

export interface Scheduler {
  id: number;
  tenant_id: number;
  host_name: string;
  idc: string;
  location: string;
  ip: string;
  port: number;
  state: string;
  features: string[];
  config: JsonObject;
  keep_alive_interval_ms?: number;
  last_keep_alive_at?: string | null;
  scheduler_cluster_id: number;
  created_at: string;
  updated_at: string;
  /** Release and commit the scheduler reports with its stats; empty until it does. */
  git_version: string;
  git_commit: string;
}

export interface SeedPeer {
  id: number;
  tenant_id: number;
  host_name: string;
  type: string;
  idc: string;
  location: string;
  ip: string;
  port: number;
  download_port: number;
  object_storage_port: number;
  state: string;
  seed_peer_cluster_id: number;
  keep_alive_interval_ms?: number;
  last_keep_alive_at?: string | null;
  created_at: string;
  updated_at: string;
  /** Release and commit from the seed peer's host announcement, as its scheduler reports them. */
  git_version: string;
  git_commit: string;
}

export interface Peer {
  id: number;
  tenant_id: number;
  host_name: string;
  type?: string;
  idc?: string;
  location?: string;
  ip: string;
  port?: number;
  download_port?: number;
  proxy_port?: number;
  state?: string;
  os?: string;
  platform?: string;
  git_version?: string;
  git_commit?: string;
  scheduler_cluster_id: number;
  created_at: string;
  updated_at: string;
}

export type JobType = "preheat" | "sync_peers" | "get_task" | "get_image_distribution" | "delete_task" | "gc";
export type JobState = "PENDING" | "SUCCESS" | "FAILURE";

export interface JobTaskState {
  task_uuid: string;
  task_name: string;
  state: string;
  results: JsonObject[];
  error: string;
  created_at: string;
}

export interface Job {
  id: number;
  tenant_id: number;
  task_id: string;
  bio: string;
  type: JobType;
  state: JobState;
  args: JsonObject;
  result: { state?: string; job_states?: JobTaskState[]; [key: string]: unknown } | null;
  user_id: number | null;
  scheduler_clusters: { id: number; name: string }[];
  seed_peer_clusters: { id: number; name: string }[];
  created_at: string;
  updated_at: string;
}

export interface PersonalAccessToken {
  id: number;
  tenant_id: number;
  user_id: number;
  name: string;
  bio: string;
  token_prefix: string;
  scopes: string[];
  state: "active" | "inactive";
  expired_at: string;
  last_used_at: string | null;
  created_at: string;
  updated_at: string;
  /** Only in the answer to a create. */
  token?: string;
}
