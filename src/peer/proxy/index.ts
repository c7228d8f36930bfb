/** dfdaemon's HTTP proxy and registry mirror as one service built from `proxy.*` config. */
import { join } from "node:path";
import type { Logger } from "../../common/log.ts";
import type { Registry } from "../../common/metrics.ts";
import type { DfdaemonConfig } from "../config.ts";
import type { StoredTask } from "../storage/storage.ts";
import { createProxyHandler, type ProxyTasks } from "./handler.ts";
import { compileRules } from "./rules.ts";
import { createProxyServer, type ProxyServer } from "./server.ts";
import type { ArrivingPiece } from "./task-stream.ts";
import { readCaFiles } from "./upstream.ts";

/** What the proxy needs from the daemon. */
export interface ProxyDeps {
  config: DfdaemonConfig["proxy"];
  tasks: ProxyTasks;
  storage: {
    get(taskId: string): StoredTask | undefined;
    /** Pieces arriving now, whose landed bytes a response may send before the piece is finished. */
    inflight: { get(taskId: string, number: number): ArrivingPiece | undefined };
  };
  /** The daemon's storage directory; a generated CA certificate is written beside its content. */
  storageDir: string;
  serverIp: string;
  registry?: Registry;
  log: Logger;
}

/** Creates the proxy (not yet listening). */
export function createProxy(deps: ProxyDeps): ProxyServer {
  const { config } = deps;
  const log = deps.log.child({ component: "proxy" });
  const metrics = deps.registry && {
    requests: deps.registry.counter("libellula_proxy_requests_total", "Proxy requests, by type (p2p, forward)"),
    p2pBytes: deps.registry.counter("libellula_proxy_p2p_bytes_total", "Bytes the proxy served from P2P tasks"),
  };
  const connects = deps.registry?.counter("libellula_proxy_connect_total", "CONNECT tunnels, by whether they were intercepted");
  const handle = createProxyHandler({
    tasks: deps.tasks,
    storage: deps.storage,
    serverIp: deps.serverIp,
    log,
    metrics,
    settings: {
      rules: compileRules(config.rules),
      disableBackToSource: config.disableBackToSource,
      prefetch: config.prefetch,
      readBufferSize: config.readBufferSize,
      enableTaskIdBasedBlobDigest: config.registryMirror.enableTaskIDBasedBlobDigest,
      authorizationCacheTtlMs: config.authorizationCacheTTL,
    },
  });
  return createProxyServer({
    ip: config.server.ip,
    port: config.server.port,
    handle,
    mirrorAddr: config.registryMirror.addr,
    mirrorTls: {
      insecureSkipVerify: config.registryMirror.insecureSkipVerify,
      ca: readCaFiles(config.registryMirror.certs),
    },
    intercept: config.hijackHTTPS.hosts.map((host) => ({
      regex: new RegExp(host.regex),
      tls: { insecureSkipVerify: host.insecureSkipVerify, ca: readCaFiles(host.certs) },
    })),
    ca: { caCert: config.server.caCert, caKey: config.server.caKey },
    caCertOut: join(deps.storageDir, "proxy-ca.crt"),
    basicAuth: config.server.basicAuth,
    log,
    connects,
  });
}
