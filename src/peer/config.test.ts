import { expect, test } from "bun:test";
import { loadConfig } from "../common/config.ts";
import { dfdaemonConfigSchema } from "./config.ts";

test("manager.addr takes a gRPC host:port or an http(s) URL, and a bad URL names the key", () => {
  const load = (addr: string) => loadConfig(dfdaemonConfigSchema, { overrides: { "manager.addr": addr } }).manager.addr;
  expect(load("127.0.0.1:65003")).toBe("127.0.0.1:65003");
  expect(load("http://127.0.0.1:8080")).toBe("http://127.0.0.1:8080");
  expect(() => load("grpc://manager:65003")).toThrow(
    'Invalid config (flags): key "manager.addr": Invalid manager URL "grpc://manager:65003": the scheme must be http or https, or give host:port for gRPC',
  );
});
