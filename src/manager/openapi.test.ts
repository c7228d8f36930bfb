import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import SwaggerParser from "@apidevtools/swagger-parser";
import { parse } from "yaml";
import { renderOpenApi } from "../../scripts/openapi.ts";

const file = join(import.meta.dir, "..", "..", "openapi.yaml");

describe("openapi.yaml", () => {
  test("is what the routes generate", () => {
    expect(readFileSync(file, "utf8")).toBe(renderOpenApi());
  });

  test("passes an OpenAPI 3 validator and lists Dragonfly's route groups", async () => {
    const document = parse(readFileSync(file, "utf8"));
    const api = (await SwaggerParser.validate(structuredClone(document))) as { openapi: string; paths: Record<string, unknown> };
    expect(api.openapi).toStartWith("3.0");
    const paths = Object.keys(api.paths);
    for (const path of [
      "/api/v1/users/signup",
      "/api/v1/users/signin",
      "/api/v1/users/signout",
      "/api/v1/users/refresh_token",
      "/api/v1/users/{id}/reset_password",
      "/api/v1/users/{id}/roles/{role}",
      "/api/v1/roles",
      "/api/v1/permissions",
      "/api/v1/personal-access-tokens",
      "/api/v1/clusters/{id}",
      "/api/v1/scheduler-clusters/{id}/schedulers/{scheduler_id}",
      "/api/v1/schedulers",
      "/api/v1/seed-peer-clusters/{id}/scheduler-clusters/{scheduler_cluster_id}",
      "/api/v1/seed-peers",
      "/api/v1/peers/{id}",
      "/api/v1/applications",
      "/api/v1/configs",
      "/api/v1/jobs/{id}",
      "/oapi/v1/jobs",
      "/oapi/v1/jobs/{id}",
      "/oapi/v1/clusters",
    ]) {
      expect(paths).toContain(path);
    }
  });
});
