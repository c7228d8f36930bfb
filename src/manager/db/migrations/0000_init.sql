CREATE TABLE "application" (
	"id" serial PRIMARY KEY NOT NULL,
	"tenant_id" integer NOT NULL,
	"name" text NOT NULL,
	"url" text DEFAULT '' NOT NULL,
	"bio" text DEFAULT '' NOT NULL,
	"priority" jsonb DEFAULT '{"value":0}'::jsonb NOT NULL,
	"user_id" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "config" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"value" text NOT NULL,
	"bio" text DEFAULT '' NOT NULL,
	"user_id" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "config_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "job" (
	"id" serial PRIMARY KEY NOT NULL,
	"tenant_id" integer NOT NULL,
	"task_id" text DEFAULT '' NOT NULL,
	"bio" text DEFAULT '' NOT NULL,
	"type" text NOT NULL,
	"state" text DEFAULT 'PENDING' NOT NULL,
	"args" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"result" jsonb,
	"user_id" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "job_scheduler_cluster" (
	"job_id" integer NOT NULL,
	"scheduler_cluster_id" integer NOT NULL,
	CONSTRAINT "job_scheduler_cluster_job_id_scheduler_cluster_id_pk" PRIMARY KEY("job_id","scheduler_cluster_id")
);
--> statement-breakpoint
CREATE TABLE "job_task" (
	"id" serial PRIMARY KEY NOT NULL,
	"job_id" integer NOT NULL,
	"scheduler_cluster_id" integer NOT NULL,
	"type" text NOT NULL,
	"state" text DEFAULT 'PENDING' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"claimed_by" text,
	"lease_expires_at" timestamp with time zone,
	"result" jsonb,
	"error" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "peer" (
	"id" serial PRIMARY KEY NOT NULL,
	"tenant_id" integer NOT NULL,
	"host_name" text NOT NULL,
	"type" text DEFAULT 'normal' NOT NULL,
	"idc" text DEFAULT '' NOT NULL,
	"location" text DEFAULT '' NOT NULL,
	"ip" text NOT NULL,
	"port" integer DEFAULT 0 NOT NULL,
	"download_port" integer DEFAULT 0 NOT NULL,
	"proxy_port" integer DEFAULT 0 NOT NULL,
	"object_storage_port" integer DEFAULT 0 NOT NULL,
	"state" text DEFAULT 'active' NOT NULL,
	"os" text DEFAULT '' NOT NULL,
	"platform" text DEFAULT '' NOT NULL,
	"platform_family" text DEFAULT '' NOT NULL,
	"platform_version" text DEFAULT '' NOT NULL,
	"kernel_version" text DEFAULT '' NOT NULL,
	"git_version" text DEFAULT '' NOT NULL,
	"git_commit" text DEFAULT '' NOT NULL,
	"build_platform" text DEFAULT '' NOT NULL,
	"scheduler_cluster_id" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "personal_access_token" (
	"id" serial PRIMARY KEY NOT NULL,
	"tenant_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"name" text NOT NULL,
	"bio" text DEFAULT '' NOT NULL,
	"token_hash" text NOT NULL,
	"token_prefix" text NOT NULL,
	"scopes" jsonb NOT NULL,
	"state" text DEFAULT 'active' NOT NULL,
	"expired_at" timestamp with time zone NOT NULL,
	"last_used_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "personal_access_token_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "rate_limit" (
	"key" text PRIMARY KEY NOT NULL,
	"window_start" timestamp with time zone NOT NULL,
	"count" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "role" (
	"name" text PRIMARY KEY NOT NULL,
	"builtin" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "role_permission" (
	"role" text NOT NULL,
	"object" text NOT NULL,
	"action" text NOT NULL,
	CONSTRAINT "role_permission_role_object_action_pk" PRIMARY KEY("role","object","action")
);
--> statement-breakpoint
CREATE TABLE "scheduler" (
	"id" serial PRIMARY KEY NOT NULL,
	"tenant_id" integer NOT NULL,
	"host_name" text NOT NULL,
	"idc" text DEFAULT '' NOT NULL,
	"location" text DEFAULT '' NOT NULL,
	"ip" text NOT NULL,
	"port" integer NOT NULL,
	"state" text DEFAULT 'inactive' NOT NULL,
	"features" jsonb DEFAULT '["schedule","preheat"]'::jsonb NOT NULL,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"keep_alive_interval_ms" integer DEFAULT 5000 NOT NULL,
	"last_keep_alive_at" timestamp with time zone,
	"scheduler_cluster_id" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "scheduler_cluster" (
	"id" serial PRIMARY KEY NOT NULL,
	"tenant_id" integer NOT NULL,
	"name" text NOT NULL,
	"bio" text DEFAULT '' NOT NULL,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"client_config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"seed_client_config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"scopes" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"is_default" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "seed_peer" (
	"id" serial PRIMARY KEY NOT NULL,
	"tenant_id" integer NOT NULL,
	"host_name" text NOT NULL,
	"type" text DEFAULT 'super' NOT NULL,
	"idc" text DEFAULT '' NOT NULL,
	"location" text DEFAULT '' NOT NULL,
	"ip" text NOT NULL,
	"port" integer NOT NULL,
	"download_port" integer DEFAULT 0 NOT NULL,
	"object_storage_port" integer DEFAULT 0 NOT NULL,
	"state" text DEFAULT 'active' NOT NULL,
	"keep_alive_interval_ms" integer DEFAULT 5000 NOT NULL,
	"last_keep_alive_at" timestamp with time zone,
	"seed_peer_cluster_id" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "seed_peer_cluster" (
	"id" serial PRIMARY KEY NOT NULL,
	"tenant_id" integer NOT NULL,
	"name" text NOT NULL,
	"bio" text DEFAULT '' NOT NULL,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "seed_peer_cluster_scheduler_cluster" (
	"seed_peer_cluster_id" integer NOT NULL,
	"scheduler_cluster_id" integer NOT NULL,
	CONSTRAINT "seed_peer_cluster_scheduler_cluster_seed_peer_cluster_id_scheduler_cluster_id_pk" PRIMARY KEY("seed_peer_cluster_id","scheduler_cluster_id")
);
--> statement-breakpoint
CREATE TABLE "session" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"refresh_until" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "setting" (
	"name" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tenant" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"bio" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tenant_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "user" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"email" text NOT NULL,
	"encrypted_password" text NOT NULL,
	"avatar" text DEFAULT '' NOT NULL,
	"phone" text DEFAULT '' NOT NULL,
	"location" text DEFAULT '' NOT NULL,
	"bio" text DEFAULT '' NOT NULL,
	"state" text DEFAULT 'enable' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "user_name_unique" UNIQUE("name"),
	CONSTRAINT "user_email_unique" UNIQUE("email")
);
--> statement-breakpoint
CREATE TABLE "user_role" (
	"user_id" integer NOT NULL,
	"role" text NOT NULL,
	CONSTRAINT "user_role_user_id_role_pk" PRIMARY KEY("user_id","role")
);
--> statement-breakpoint
CREATE TABLE "user_tenant" (
	"user_id" integer NOT NULL,
	"tenant_id" integer NOT NULL,
	CONSTRAINT "user_tenant_user_id_tenant_id_pk" PRIMARY KEY("user_id","tenant_id")
);
--> statement-breakpoint
ALTER TABLE "application" ADD CONSTRAINT "application_tenant_id_tenant_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenant"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "job" ADD CONSTRAINT "job_tenant_id_tenant_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenant"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "job_scheduler_cluster" ADD CONSTRAINT "job_scheduler_cluster_job_id_job_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."job"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "job_scheduler_cluster" ADD CONSTRAINT "job_scheduler_cluster_scheduler_cluster_id_scheduler_cluster_id_fk" FOREIGN KEY ("scheduler_cluster_id") REFERENCES "public"."scheduler_cluster"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "job_task" ADD CONSTRAINT "job_task_job_id_job_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."job"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "job_task" ADD CONSTRAINT "job_task_scheduler_cluster_id_scheduler_cluster_id_fk" FOREIGN KEY ("scheduler_cluster_id") REFERENCES "public"."scheduler_cluster"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "peer" ADD CONSTRAINT "peer_tenant_id_tenant_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenant"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "peer" ADD CONSTRAINT "peer_scheduler_cluster_id_scheduler_cluster_id_fk" FOREIGN KEY ("scheduler_cluster_id") REFERENCES "public"."scheduler_cluster"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "personal_access_token" ADD CONSTRAINT "personal_access_token_tenant_id_tenant_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenant"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "personal_access_token" ADD CONSTRAINT "personal_access_token_user_id_user_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."user"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "role_permission" ADD CONSTRAINT "role_permission_role_role_name_fk" FOREIGN KEY ("role") REFERENCES "public"."role"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "scheduler" ADD CONSTRAINT "scheduler_tenant_id_tenant_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenant"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "scheduler" ADD CONSTRAINT "scheduler_scheduler_cluster_id_scheduler_cluster_id_fk" FOREIGN KEY ("scheduler_cluster_id") REFERENCES "public"."scheduler_cluster"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "scheduler_cluster" ADD CONSTRAINT "scheduler_cluster_tenant_id_tenant_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenant"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "seed_peer" ADD CONSTRAINT "seed_peer_tenant_id_tenant_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenant"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "seed_peer" ADD CONSTRAINT "seed_peer_seed_peer_cluster_id_seed_peer_cluster_id_fk" FOREIGN KEY ("seed_peer_cluster_id") REFERENCES "public"."seed_peer_cluster"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "seed_peer_cluster" ADD CONSTRAINT "seed_peer_cluster_tenant_id_tenant_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenant"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "seed_peer_cluster_scheduler_cluster" ADD CONSTRAINT "seed_peer_cluster_scheduler_cluster_seed_peer_cluster_id_seed_peer_cluster_id_fk" FOREIGN KEY ("seed_peer_cluster_id") REFERENCES "public"."seed_peer_cluster"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "seed_peer_cluster_scheduler_cluster" ADD CONSTRAINT "seed_peer_cluster_scheduler_cluster_scheduler_cluster_id_scheduler_cluster_id_fk" FOREIGN KEY ("scheduler_cluster_id") REFERENCES "public"."scheduler_cluster"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "session" ADD CONSTRAINT "session_user_id_user_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."user"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_role" ADD CONSTRAINT "user_role_user_id_user_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."user"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_role" ADD CONSTRAINT "user_role_role_role_name_fk" FOREIGN KEY ("role") REFERENCES "public"."role"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_tenant" ADD CONSTRAINT "user_tenant_user_id_user_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."user"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_tenant" ADD CONSTRAINT "user_tenant_tenant_id_tenant_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenant"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "application_tenant_name_idx" ON "application" USING btree ("tenant_id","name");--> statement-breakpoint
CREATE INDEX "job_tenant_created_idx" ON "job" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "job_task_claim_idx" ON "job_task" USING btree ("scheduler_cluster_id","state");--> statement-breakpoint
CREATE INDEX "job_task_job_idx" ON "job_task" USING btree ("job_id");--> statement-breakpoint
CREATE UNIQUE INDEX "peer_host_ip_cluster_idx" ON "peer" USING btree ("host_name","ip","scheduler_cluster_id");--> statement-breakpoint
CREATE UNIQUE INDEX "personal_access_token_tenant_name_idx" ON "personal_access_token" USING btree ("tenant_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "scheduler_host_ip_cluster_idx" ON "scheduler" USING btree ("host_name","ip","scheduler_cluster_id");--> statement-breakpoint
CREATE INDEX "scheduler_cluster_idx" ON "scheduler" USING btree ("scheduler_cluster_id");--> statement-breakpoint
CREATE UNIQUE INDEX "scheduler_cluster_tenant_name_idx" ON "scheduler_cluster" USING btree ("tenant_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "seed_peer_host_ip_cluster_idx" ON "seed_peer" USING btree ("host_name","ip","seed_peer_cluster_id");--> statement-breakpoint
CREATE INDEX "seed_peer_cluster_idx" ON "seed_peer" USING btree ("seed_peer_cluster_id");--> statement-breakpoint
CREATE UNIQUE INDEX "seed_peer_cluster_tenant_name_idx" ON "seed_peer_cluster" USING btree ("tenant_id","name");--> statement-breakpoint
CREATE INDEX "spc_sc_scheduler_cluster_idx" ON "seed_peer_cluster_scheduler_cluster" USING btree ("scheduler_cluster_id");--> statement-breakpoint
CREATE INDEX "session_user_idx" ON "session" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "user_tenant_tenant_idx" ON "user_tenant" USING btree ("tenant_id");