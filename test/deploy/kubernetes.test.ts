/**
 * deploy/kubernetes: every overlay renders with `kubectl kustomize`, has the workloads, Services, probes,
 * requests and PodDisruptionBudgets it needs, and every daemon's rendered ConfigMap passes the daemon's own
 * `--validate-config` with the container's own arguments and environment.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parse as parseYaml, parseAllDocuments, stringify } from "yaml";
import { dfdaemonConfigSchema } from "../../src/peer/config.ts";
import { managerConfigSchema } from "../../src/manager/config.ts";
import { schedulerConfigSchema } from "../../src/scheduler/config.ts";
import { ROOT, tempDir as makeTempDir } from "../helpers/processes.ts";
import { DAEMONS, run, validateConfig, type DaemonName } from "./support.ts";

const KUSTOMIZE_ROOT = join(ROOT, "deploy", "kubernetes");
const OVERLAYS = readdirSync(join(KUSTOMIZE_ROOT, "overlays"), { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(join(KUSTOMIZE_ROOT, "overlays", entry.name, "kustomization.yaml")))
  .map((entry) => entry.name)
  .sort();

/** What the Downward API would hand the pods. */
const FIELD_VALUES: Record<string, string> = {
  "status.podIP": "10.244.1.7",
  "status.hostIP": "192.168.10.21",
  "metadata.name": "libellula-test-0",
  "spec.nodeName": "node-1",
};
/** Secret values an operator creates before applying an overlay. */
const SECRET_VALUES: Record<string, string> = {
  "libellula-manager-database/url": "postgres://libellula:secret@postgres.libellula.svc.cluster.local:5432/libellula",
  "libellula-manager-root/password": "initial-root-password",
};

/** One rendered Kubernetes object. */
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
}
/** A container of a workload's pod template. */
interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: any }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: any;
  livenessProbe?: any;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

const WORKLOAD_KINDS = ["Deployment", "StatefulSet", "DaemonSet"];

let kubectl = "";
const scratch: string[] = [];

/** A temporary directory removed after the tests. */
function tempDir(prefix: string): string {
  const dir = makeTempDir(prefix);
  scratch.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});
const rendered = new Map<string, Manifest[]>();

/** kubectl on PATH or where Debian puts it. */
function findKubectl(): string {
  for (const dir of [...(process.env.PATH ?? "").split(":"), "/usr/bin", "/usr/local/bin"]) {
    if (dir && existsSync(join(dir, "kubectl"))) return join(dir, "kubectl");
  }
  return "";
}

async function render(dir: string): Promise<Manifest[]> {
  const result = await run(kubectl, ["kustomize", dir], { timeoutMs: 120_000 });
  if (result.code !== 0) throw new Error(`kubectl kustomize ${dir} failed (${result.code}): ${result.stderr}`);
  return parseAllDocuments(result.stdout).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`Rendered YAML of ${dir} is invalid: ${doc.errors[0]!.message}`);
    return doc.toJS() as Manifest;
  });
}

beforeAll(async () => {
  kubectl = findKubectl();
  if (!kubectl) throw new Error("kubectl not found: scripts/setup-system.ts installs it (Debian package kubectl or kubernetes-client)");
  const version = await run(kubectl, ["version", "--client"]);
  const kustomize = /Kustomize Version: v(\d+)/.exec(version.stdout);
  if (!kustomize || Number(kustomize[1]) < 4) {
    throw new Error(`kubectl ${kubectl} embeds kustomize older than v4 (the overlays use resources: and patches:): ${version.stdout.trim()}`);
  }
  for (const overlay of OVERLAYS) rendered.set(overlay, await render(join(KUSTOMIZE_ROOT, "overlays", overlay)));
}, 300_000);

function objects(overlay: string): Manifest[] {
  const list = rendered.get(overlay);
  if (!list) throw new Error(`Overlay "${overlay}" was not rendered`);
  return list;
}

function find(overlay: string, kind: string, name: string): Manifest {
  const found = objects(overlay).find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`Overlay "${overlay}" renders no ${kind} "${name}"`);
  return found;
}

function workloads(overlay: string): Manifest[] {
  return objects(overlay).filter((o) => WORKLOAD_KINDS.includes(o.kind));
}

function podLabels(workload: Manifest): Record<string, string> {
  return workload.spec.template.metadata.labels;
}

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** The daemon a container runs, when it runs one of ours. */
function daemonOf(container: Container): DaemonName | undefined {
  const first = container.args?.[0];
  return DAEMONS.find((name) => name === first);
}

/** Which named port a probe targets, as a number. */
function probePort(container: Container, port: string | number): number | undefined {
  if (typeof port === "number") return port;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

/** The environment the container would see, Downward API and Secrets resolved. */
function containerEnv(container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined) env[variable.name] = variable.value;
    else if (variable.valueFrom?.fieldRef) {
      const value = FIELD_VALUES[variable.valueFrom.fieldRef.fieldPath];
      if (value === undefined) throw new Error(`No sample value for fieldRef "${variable.valueFrom.fieldRef.fieldPath}"`);
      env[variable.name] = value;
    } else if (variable.valueFrom?.secretKeyRef) {
      const ref = variable.valueFrom.secretKeyRef;
      const value = SECRET_VALUES[`${ref.name}/${ref.key}`];
      if (value === undefined) throw new Error(`No sample value for Secret "${ref.name}" key "${ref.key}"`);
      env[variable.name] = value;
    } else throw new Error(`Unsupported env source of "${variable.name}"`);
  }
  return env;
}

/** Expands `$(VAR)` as the kubelet does; an undefined reference is an error here. */
function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_, name: string) => {
    const value = env[name];
    if (value === undefined) throw new Error(`Argument "${text}" refers to undefined variable "${name}"`);
    return value;
  });
}

/**
 * Writes the ConfigMaps a container mounts into `dir` and returns its arguments with mount paths pointing there,
 * plus the mount-path → local-directory map.
 */
function materialize(overlay: string, pod: any, container: Container, dir: string): { args: string[]; mounts: Map<string, string> } {
  const mounts = new Map<string, string>();
  for (const mount of container.volumeMounts ?? []) {
    const volume = (pod.volumes ?? []).find((v: any) => v.name === mount.name);
    if (!volume?.configMap) continue;
    const configMap = find(overlay, "ConfigMap", volume.configMap.name);
    const local = join(dir, mount.name);
    mkdirSync(local, { recursive: true });
    for (const [key, value] of Object.entries(configMap.data ?? {})) writeFileSync(join(local, key), value);
    mounts.set(mount.mountPath, local);
  }
  const env = containerEnv(container);
  const args = (container.args ?? []).slice(1).map((arg) => {
    let out = expand(arg, env);
    for (const [mountPath, local] of mounts) if (out.startsWith(`${mountPath}/`)) out = local + out.slice(mountPath.length);
    return out;
  });
  return { args, mounts };
}

/** The config file the container's arguments name, parsed with the daemon's schema (defaults filled). */
function parsedConfig(daemon: DaemonName, args: string[]): any {
  const index = args.indexOf("--config");
  if (index < 0) throw new Error(`${daemon} is started without --config`);
  const text = readFileSync(args[index + 1]!, "utf8");
  const raw = parseYaml(text) ?? {};
  const schema = daemon === "dfdaemon" ? dfdaemonConfigSchema : daemon === "scheduler" ? schedulerConfigSchema : managerConfigSchema;
  return schema.parse(raw);
}

/** Container port name → the config key that sets it, per daemon. */
const PORT_KEYS: Record<DaemonName, Record<string, (config: any) => number>> = {
  dfdaemon: {
    upload: (c) => c.upload.server.port,
    proxy: (c) => c.proxy.server.port,
    metrics: (c) => c.metrics.server.port,
    health: (c) => c.health.server.port,
    vortex: (c) => c.storage.server.tcpPort,
  },
  scheduler: { grpc: (c) => c.server.port, metrics: (c) => c.metrics.server.port },
  manager: { http: (c) => c.server.port, grpc: (c) => c.server.grpcPort },
};

test("the overlays directory holds dev and production", () => {
  expect(OVERLAYS).toEqual(expect.arrayContaining(["dev", "production"]));
});

for (const overlay of OVERLAYS) {
  describe(`overlay ${overlay}`, () => {
    test("renders into the libellula namespace", () => {
      const list = objects(overlay);
      expect(list.length).toBeGreaterThan(10);
      expect(find(overlay, "Namespace", "libellula").kind).toBe("Namespace");
      for (const object of list) if (object.kind !== "Namespace") expect(`${object.kind}/${object.metadata.name} in ${object.metadata.namespace}`).toBe(`${object.kind}/${object.metadata.name} in libellula`);
    });

    test("manager Deployment and Service on 8080 and 65003, scheduler and seed peer StatefulSets with headless Services, dfdaemon DaemonSet", () => {
      const manager = find(overlay, "Deployment", "libellula-manager");
      const managerService = find(overlay, "Service", "libellula-manager");
      expect(managerService.spec.ports.map((p: any) => p.port).sort((a: number, b: number) => a - b)).toEqual([8080, 65003]);
      expect(matches(managerService.spec.selector, podLabels(manager))).toBe(true);
      for (const name of ["libellula-scheduler", "libellula-seed-peer"]) {
        const set = find(overlay, "StatefulSet", name);
        const service = find(overlay, "Service", name);
        expect(set.spec.serviceName).toBe(name);
        expect(service.spec.clusterIP).toBe("None");
        expect(matches(service.spec.selector, podLabels(set))).toBe(true);
      }
      expect(find(overlay, "Service", "libellula-scheduler").spec.ports.map((p: any) => p.port)).toContain(8002);
      const seed = find(overlay, "StatefulSet", "libellula-seed-peer");
      const claim = seed.spec.volumeClaimTemplates.find((t: any) => t.metadata.name === "storage");
      expect(claim.spec.resources.requests.storage).toMatch(/^\d+[GT]i$/);
      const seedContainer: Container = seed.spec.template.spec.containers[0];
      expect(seedContainer.volumeMounts?.find((m) => m.name === "storage")?.mountPath).toBe("/var/lib/dragonfly");
      expect(find(overlay, "DaemonSet", "libellula-dfdaemon").spec.template.spec.hostNetwork).toBe(true);
    });

    test("every Service's selector and named target ports exist on a workload", () => {
      for (const service of objects(overlay).filter((o) => o.kind === "Service")) {
        const targets = workloads(overlay).filter((w) => matches(service.spec.selector, podLabels(w)));
        expect(`${service.metadata.name}: ${targets.length} workload(s)`).toBe(`${service.metadata.name}: 1 workload(s)`);
        const ports = (targets[0]!.spec.template.spec.containers as Container[]).flatMap((c) => c.ports ?? []);
        for (const port of service.spec.ports) {
          if (typeof port.targetPort === "string") expect(ports.map((p) => p.name)).toContain(port.targetPort);
        }
      }
    });

    test("every daemon container has /healthy probes on a declared port and CPU and memory requests", () => {
      let checked = 0;
      for (const workload of workloads(overlay)) {
        for (const container of workload.spec.template.spec.containers as Container[]) {
          const where = `${workload.kind}/${workload.metadata.name} ${container.name}`;
          expect(`${where}: ${container.image}`).toMatch(/: libellula\/libellula:\S+$/);
          expect(daemonOf(container)).toBeDefined();
          for (const probe of [container.readinessProbe, container.livenessProbe]) {
            expect(`${where}: ${probe?.httpGet?.path}`).toBe(`${where}: /healthy`);
            expect(probePort(container, probe.httpGet.port)).toBeNumber();
          }
          expect(container.resources?.requests?.cpu).toBeString();
          expect(container.resources?.requests?.memory).toBeString();
          checked++;
        }
      }
      expect(checked).toBe(4);
    });

    test("PodDisruptionBudgets cover the manager, schedulers and seed peers", () => {
      const budgets = objects(overlay).filter((o) => o.kind === "PodDisruptionBudget");
      const covered = budgets.map((budget) => {
        const targets = workloads(overlay).filter((w) => matches(budget.spec.selector.matchLabels, podLabels(w)));
        expect(targets.length).toBe(1);
        expect(budget.spec.maxUnavailable ?? budget.spec.minAvailable).toBeDefined();
        return targets[0]!.metadata.name;
      });
      expect(covered.sort()).toEqual(["libellula-manager", "libellula-scheduler", "libellula-seed-peer"]);
    });

    test("the dfdaemon DaemonSet keeps storage and the socket on the host and its init container writes containerd's hosts.toml", async () => {
      const daemonSet = find(overlay, "DaemonSet", "libellula-dfdaemon");
      const pod = daemonSet.spec.template.spec;
      expect(pod.dnsPolicy).toBe("ClusterFirstWithHostNet");
      const hostPaths = Object.fromEntries((pod.volumes as any[]).filter((v) => v.hostPath).map((v) => [v.name, v.hostPath.path]));
      expect(Object.values(hostPaths).sort()).toEqual(["/etc/containerd/certs.d", "/var/lib/dragonfly", "/var/run/dragonfly"]);

      const hostsVolume = (pod.volumes as any[]).find((v) => v.configMap && find(overlay, "ConfigMap", v.configMap.name).metadata.name.startsWith("libellula-containerd-hosts"));
      const hosts = find(overlay, "ConfigMap", hostsVolume.configMap.name).data ?? {};
      expect(Object.keys(hosts).sort()).toEqual(["_default.toml", "docker.io.toml"]);
      for (const [key, text] of Object.entries(hosts)) {
        const parsed = Bun.TOML.parse(text) as { host?: Record<string, { capabilities?: string[] }> };
        expect(`${key}: ${parsed.host?.["http://127.0.0.1:4001"]?.capabilities?.join(",")}`).toBe(`${key}: pull,resolve`);
      }

      // Run the init container's script against directories standing in for the host's.
      const init: Container = pod.initContainers.find((c: Container) => c.name === "setup-host");
      const dir = tempDir("libellula-k8s-init-");
      let script = init.command![2]!;
      for (const mount of init.volumeMounts ?? []) {
        const local = join(dir, mount.name);
        mkdirSync(local, { recursive: true });
        if (mount.name === hostsVolume.name) for (const [key, text] of Object.entries(hosts)) writeFileSync(join(local, key), text);
        script = script.replaceAll(mount.mountPath, local);
      }
      // Only root may hand directories to another user; elsewhere the script runs without that step.
      const prelude = process.getuid?.() === 0 ? "" : "chown() { :; }\n";
      const result = await run("/bin/sh", ["-c", prelude + script]);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      const certs = join(dir, "containerd-certs");
      expect(readdirSync(certs).sort()).toEqual(["_default", "docker.io"]);
      const written = Bun.TOML.parse(readFileSync(join(certs, "docker.io", "hosts.toml"), "utf8")) as any;
      expect(written.server).toBe("https://index.docker.io");
      expect(written.host["http://127.0.0.1:4001"].header["X-Dragonfly-Registry"]).toBe("https://index.docker.io");
    });

    test("every daemon's ConfigMap passes its own --validate-config with the container's arguments, and the ports agree", async () => {
      const dir = tempDir(`libellula-k8s-${overlay}-`);
      let validated = 0;
      for (const workload of workloads(overlay)) {
        const pod = workload.spec.template.spec;
        for (const container of pod.containers as Container[]) {
          const daemon = daemonOf(container)!;
          const { args, mounts } = materialize(overlay, pod, container, join(dir, workload.metadata.name, container.name));
          const configFile = args[args.indexOf("--config") + 1]!;
          const result = await validateConfig(daemon, args, containerEnv(container));
          expect(`${workload.metadata.name}: ${result.stderr}${result.stdout}`.trim()).toBe(`${workload.metadata.name}: config OK: ${configFile}`);
          expect(result.code).toBe(0);
          expect(mounts.size).toBeGreaterThan(0);

          const config = parsedConfig(daemon, args);
          const declared = new Map((container.ports ?? []).map((p) => [p.name, p.containerPort]));
          for (const [name, key] of Object.entries(PORT_KEYS[daemon])) {
            if (declared.has(name)) expect(`${workload.metadata.name} ${name}: ${declared.get(name)}`).toBe(`${workload.metadata.name} ${name}: ${key(config)}`);
          }
          const mounted = (container.volumeMounts ?? []).map((m) => m.mountPath);
          if (daemon === "dfdaemon") {
            expect(mounted).toContain(config.storage.dir);
            expect(mounted).toContain(dirname(config.download.server.socketPath));
          }
          if (daemon === "manager" && !containerEnv(container).DATABASE_URL) expect(mounted).toContain(config.database.dataDir);
          validated++;
        }
      }
      expect(validated).toBe(4);
    }, 240_000);
  });
}

describe("overlay specifics", () => {
  test("dev: one manager on PGlite kept on a persistent volume claim", () => {
    const manager = find("dev", "Deployment", "libellula-manager");
    expect(manager.spec.replicas).toBe(1);
    expect(manager.spec.strategy.type).toBe("Recreate");
    const data = manager.spec.template.spec.volumes.find((v: any) => v.name === "data");
    expect(data).toEqual({ name: "data", persistentVolumeClaim: { claimName: "libellula-manager-data" } });
    expect(find("dev", "PersistentVolumeClaim", "libellula-manager-data").spec.accessModes).toEqual(["ReadWriteOnce"]);
    const env: Container["env"] = manager.spec.template.spec.containers[0].env;
    expect(env?.map((e) => e.name)).not.toContain("DATABASE_URL");
  });

  test("production: PostgreSQL from a Secret, several replicas rolling without losing one, limits, and a ServiceMonitor", () => {
    const manager = find("production", "Deployment", "libellula-manager");
    expect(manager.spec.replicas).toBeGreaterThan(1);
    expect(manager.spec.strategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    const env: Container["env"] = manager.spec.template.spec.containers[0].env;
    expect(env?.find((e) => e.name === "DATABASE_URL")?.valueFrom).toEqual({ secretKeyRef: { name: "libellula-manager-database", key: "url" } });
    expect(find("production", "StatefulSet", "libellula-scheduler").spec.replicas).toBeGreaterThan(1);
    expect(find("production", "StatefulSet", "libellula-seed-peer").spec.replicas).toBeGreaterThan(1);
    for (const workload of workloads("production")) {
      for (const container of workload.spec.template.spec.containers as Container[]) {
        expect(`${workload.metadata.name}: ${container.resources?.limits?.memory}`).toMatch(/: \d+[MG]i$/);
        expect(container.resources?.limits?.cpu).toBeString();
      }
    }
    const monitor = find("production", "ServiceMonitor", "libellula");
    expect(monitor.apiVersion).toBe("monitoring.coreos.com/v1");
    const scraped = objects("production").filter((o) => o.kind === "Service" && matches(monitor.spec.selector.matchLabels, o.metadata.labels ?? {}));
    const endpointPorts = monitor.spec.endpoints.map((e: any) => e.port);
    expect(scraped.map((s) => s.metadata.name).sort()).toEqual(["libellula-dfdaemon", "libellula-manager", "libellula-scheduler", "libellula-seed-peer"]);
    for (const service of scraped) expect(service.spec.ports.some((p: any) => endpointPorts.includes(p.name))).toBe(true);
    // Fallback scheduler lists name every scheduler replica.
    const schedulers = find("production", "StatefulSet", "libellula-scheduler").spec.replicas as number;
    for (const name of ["libellula-dfdaemon", "libellula-seed-peer"]) {
      const configMap = objects("production").find((o) => o.kind === "ConfigMap" && o.metadata.name.startsWith(`${name}-config`))!;
      const config = parseYaml(configMap.data!["dfdaemon.yaml"]!) as { scheduler: { addrs: string[] } };
      expect(config.scheduler.addrs.length).toBe(schedulers);
    }
  });
});

describe("broken configs", () => {
  /** The dev overlay's ConfigMap for a daemon, as an object to break. */
  function devConfig(prefix: string, key: string): Record<string, any> {
    const configMap = objects("dev").find((o) => o.kind === "ConfigMap" && o.metadata.name.startsWith(prefix));
    if (!configMap?.data?.[key]) throw new Error(`No ConfigMap "${prefix}*" with "${key}" in dev`);
    return parseYaml(configMap.data[key]) as Record<string, any>;
  }

  test("fail --validate-config with the key named and a non-zero exit", async () => {
    const dir = tempDir("libellula-k8s-broken-");
    const cases: { daemon: DaemonName; config: Record<string, any>; args?: string[]; expected: string }[] = [];
    const unknownKey = devConfig("libellula-dfdaemon-config", "dfdaemon.yaml");
    unknownKey.storage.bogus = true;
    cases.push({ daemon: "dfdaemon", config: unknownKey, expected: 'unknown key "storage.bogus"' });
    const thresholds = devConfig("libellula-seed-peer-config", "dfdaemon.yaml");
    thresholds.gc.policy.diskLowThresholdPercent = 95;
    cases.push({ daemon: "dfdaemon", config: thresholds, expected: 'key "gc.policy.diskLowThresholdPercent"' });
    // An unexpanded Downward API reference in the arguments.
    cases.push({ daemon: "dfdaemon", config: devConfig("libellula-dfdaemon-config", "dfdaemon.yaml"), args: ["--host.ip", "$(NODE_IP)"], expected: 'key "host.ip"' });
    const scheduler = devConfig("libellula-scheduler-config", "scheduler.yaml");
    scheduler.manager.schedulerClusterID = 0;
    cases.push({ daemon: "scheduler", config: scheduler, expected: 'key "manager.schedulerClusterID"' });
    const manager = devConfig("libellula-manager-config", "manager.yaml");
    manager.server.grpcPort = 70000;
    cases.push({ daemon: "manager", config: manager, expected: 'key "server.grpcPort"' });

    for (const [index, item] of cases.entries()) {
      const file = join(dir, `${index}-${item.daemon}.yaml`);
      writeFileSync(file, stringify(item.config));
      const result = await validateConfig(item.daemon, ["--config", file, ...(item.args ?? [])]);
      expect(`${item.daemon}: ${result.stderr}`).toContain(item.expected);
      expect(result.stderr).toContain(file);
      expect(result.stdout).not.toContain("config OK");
      expect(result.code).not.toBe(0);
    }
  }, 120_000);
});
