CREATE TABLE "task_transfer" (
	"tenant_id" integer NOT NULL,
	"scheduler_cluster_id" integer NOT NULL,
	"task_id" text NOT NULL,
	"child_host_id" text NOT NULL,
	"child_hostname" text NOT NULL,
	"child_ip" text NOT NULL,
	"child_type" text DEFAULT 'normal' NOT NULL,
	"parent_host_id" text DEFAULT '' NOT NULL,
	"parent_hostname" text DEFAULT '' NOT NULL,
	"parent_ip" text DEFAULT '' NOT NULL,
	"parent_type" text DEFAULT '' NOT NULL,
	"bytes" bigint DEFAULT 0 NOT NULL,
	"pieces" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "task_transfer_scheduler_cluster_id_task_id_child_host_id_parent_host_id_pk" PRIMARY KEY("scheduler_cluster_id","task_id","child_host_id","parent_host_id")
);
--> statement-breakpoint
CREATE TABLE "traffic_bucket" (
	"tenant_id" integer NOT NULL,
	"scheduler_cluster_id" integer NOT NULL,
	"scheduler_id" integer NOT NULL,
	"bucket_start" timestamp with time zone NOT NULL,
	"back_to_source_bytes" bigint DEFAULT 0 NOT NULL,
	"remote_peer_bytes" bigint DEFAULT 0 NOT NULL,
	"local_peer_bytes" bigint DEFAULT 0 NOT NULL,
	"active_tasks" integer DEFAULT 0 NOT NULL,
	"active_peers" integer DEFAULT 0 NOT NULL,
	"hosts" integer DEFAULT 0 NOT NULL,
	"reported_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "traffic_bucket_scheduler_id_bucket_start_pk" PRIMARY KEY("scheduler_id","bucket_start")
);
--> statement-breakpoint
ALTER TABLE "scheduler" ADD COLUMN "git_version" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "scheduler" ADD COLUMN "git_commit" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "seed_peer" ADD COLUMN "git_version" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "seed_peer" ADD COLUMN "git_commit" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "task_transfer" ADD CONSTRAINT "task_transfer_tenant_id_tenant_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenant"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_transfer" ADD CONSTRAINT "task_transfer_scheduler_cluster_id_scheduler_cluster_id_fk" FOREIGN KEY ("scheduler_cluster_id") REFERENCES "public"."scheduler_cluster"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "traffic_bucket" ADD CONSTRAINT "traffic_bucket_tenant_id_tenant_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenant"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "traffic_bucket" ADD CONSTRAINT "traffic_bucket_scheduler_cluster_id_scheduler_cluster_id_fk" FOREIGN KEY ("scheduler_cluster_id") REFERENCES "public"."scheduler_cluster"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "task_transfer_task_idx" ON "task_transfer" USING btree ("task_id");--> statement-breakpoint
CREATE INDEX "task_transfer_updated_idx" ON "task_transfer" USING btree ("updated_at");--> statement-breakpoint
CREATE INDEX "traffic_bucket_cluster_time_idx" ON "traffic_bucket" USING btree ("scheduler_cluster_id","bucket_start");--> statement-breakpoint
CREATE INDEX "traffic_bucket_tenant_time_idx" ON "traffic_bucket" USING btree ("tenant_id","bucket_start");--> statement-breakpoint
CREATE INDEX "traffic_bucket_time_idx" ON "traffic_bucket" USING btree ("bucket_start");