import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSchedulerConfig } from "./config.ts";

function file(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "scheduler-cfg-")), "scheduler.yaml");
  writeFileSync(path, text);
  return path;
}

test("defaults follow Dragonfly: port 8002, 3/15 parents, 200/4/5/500 ms, GC intervals", () => {
  const config = loadSchedulerConfig();
  expect(config.server.port).toBe(8002);
  expect(config.server.listenIP).toBe("0.0.0.0");
  expect(config.metrics.server.port).toBe(8000);
  expect(config.scheduler.candidateParentLimit).toBe(3);
  expect(config.scheduler.filterParentLimit).toBe(15);
  expect(config.scheduler.backToSourceCount).toBe(200);
  expect(config.scheduler.retryBackToSourceLimit).toBe(4);
  expect(config.scheduler.retryLimit).toBe(5);
  expect(config.scheduler.retryInterval).toBe(500);
  expect(config.scheduler.gc).toEqual({
    peerGCInterval: 10_000,
    peerTTL: 86_400_000,
    taskGCInterval: 1_800_000,
    hostGCInterval: 300_000,
    hostTTL: 3_600_000,
    pieceDownloadTimeout: 1_800_000,
  });
  expect(config.manager.keepAlive.interval).toBe(5000);
  expect(config.manager.addr).toBeUndefined();
  expect(config.seedPeer.failedTimeout).toBe(1_800_000);
});

test("a YAML file with Dragonfly's keys is read and flags override it", () => {
  const path = file(
    [
      "server:",
      "  advertiseIP: 10.0.0.5",
      "  port: 9002",
      "scheduler:",
      "  algorithm: dragonfly",
      "  retryInterval: 1s",
      "  gc:",
      "    peerTTL: 2h",
      "manager:",
      "  addr: 127.0.0.1:65003",
      "  schedulerClusterID: 2",
      "  keepAlive:",
      "    interval: 10s",
      "seedPeer:",
      "  enable: false",
      "log:",
      "  level: debug",
    ].join("\n"),
  );
  const config = loadSchedulerConfig({ file: path, overrides: { "server.port": "9003", "scheduler.candidateParentLimit": "5" } });
  expect(config.server.advertiseIP).toBe("10.0.0.5");
  expect(config.server.port).toBe(9003);
  expect(config.scheduler.algorithm).toBe("dragonfly");
  expect(config.scheduler.retryInterval).toBe(1000);
  expect(config.scheduler.gc.peerTTL).toBe(7_200_000);
  expect(config.scheduler.candidateParentLimit).toBe(5);
  expect(config.manager.addr).toBe("127.0.0.1:65003");
  expect(config.manager.schedulerClusterID).toBe(2);
  expect(config.manager.keepAlive.interval).toBe(10_000);
  expect(config.seedPeer.enable).toBe(false);
  expect(config.log.level).toBe("debug");
});

test("unknown keys and bad values fail naming the key", () => {
  expect(() => loadSchedulerConfig({ file: file("scheduler:\n  retryLimitt: 3\n") })).toThrow('unknown key "scheduler.retryLimitt"');
  expect(() => loadSchedulerConfig({ overrides: { "server.port": "70000" } })).toThrow('key "server.port"');
  expect(() => loadSchedulerConfig({ overrides: { "server.advertiseIP": "not-an-ip" } })).toThrow('key "server.advertiseIP"');
  expect(() => loadSchedulerConfig({ overrides: { "scheduler.retryInterval": "soon" } })).toThrow('key "scheduler.retryInterval"');
  expect(() => loadSchedulerConfig({ overrides: { "scheduler.gc.peerGCInterval": "0s" } })).toThrow('key "scheduler.gc.peerGCInterval"');
  expect(() => loadSchedulerConfig({ overrides: { "scheduler.candidateParentLimit": "0" } })).toThrow('key "scheduler.candidateParentLimit"');
  expect(() => loadSchedulerConfig({ overrides: { "scheduler.algorithm": "magic" } })).toThrow('key "scheduler.algorithm"');
});

test("manager.addr takes a gRPC host:port or an http(s) URL, and a bad URL names the key", () => {
  expect(loadSchedulerConfig({ overrides: { "manager.addr": "127.0.0.1:65003" } }).manager.addr).toBe("127.0.0.1:65003");
  expect(loadSchedulerConfig({ overrides: { "manager.addr": "https://manager.example.workers.dev" } }).manager.addr).toBe(
    "https://manager.example.workers.dev",
  );
  expect(() => loadSchedulerConfig({ overrides: { "manager.addr": "ftp://manager:21" } })).toThrow(
    'Invalid config (flags): key "manager.addr": Invalid manager URL "ftp://manager:21": the scheme must be http or https, or give host:port for gRPC',
  );
  expect(() => loadSchedulerConfig({ overrides: { "manager.addr": "https://" } })).toThrow('key "manager.addr": Invalid manager URL "https://": not a URL');
});
