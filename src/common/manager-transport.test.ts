import { expect, test } from "bun:test";
import { createManagerTransport, isManagerUrl, managerUrlProblem } from "./manager-transport.ts";

test("host:port and unix sockets are gRPC addresses; http(s) URLs are Connect URLs", () => {
  expect(isManagerUrl("127.0.0.1:65003")).toBe(false);
  expect(isManagerUrl("manager:65003")).toBe(false);
  expect(isManagerUrl("unix:/run/manager.sock")).toBe(false);
  expect(isManagerUrl("http://127.0.0.1:8080")).toBe(true);
  expect(isManagerUrl("https://manager.example.workers.dev")).toBe(true);
  expect(managerUrlProblem("127.0.0.1:65003")).toBeUndefined();
  expect(managerUrlProblem("https://manager.example.workers.dev")).toBeUndefined();
  expect(managerUrlProblem("https://example.com/manager/")).toBeUndefined();
});

test("an unusable manager URL is refused with the reason", () => {
  expect(managerUrlProblem("ftp://manager:21")).toBe('Invalid manager URL "ftp://manager:21": the scheme must be http or https, or give host:port for gRPC');
  expect(managerUrlProblem("grpc://manager:65003")).toContain("the scheme must be http or https");
  expect(managerUrlProblem("http://")).toBe('Invalid manager URL "http://": not a URL');
  expect(managerUrlProblem("http://exa mple.com")).toBe('Invalid manager URL "http://exa mple.com": not a URL');
  expect(managerUrlProblem("https://user:secret@manager.example")).toContain("credentials do not belong in the URL");
  expect(managerUrlProblem("https://manager.example/?x=1")).toContain("no query or fragment allowed");
  expect(() => createManagerTransport("ftp://manager:21")).toThrow('Invalid "manager.addr": Invalid manager URL "ftp://manager:21"');
});

test("the transport says whether streams can reach the manager", () => {
  const grpc = createManagerTransport("127.0.0.1:1");
  const connect = createManagerTransport("https://manager.example.workers.dev/");
  expect(grpc.unaryOnly).toBe(false);
  expect(connect.unaryOnly).toBe(true);
  grpc.close();
  connect.close();
});
