/** The common.v2.Host this daemon announces to schedulers. */
import { create } from "@bufbuild/protobuf";
import { arch, cpus, freemem, platform, release, totalmem } from "node:os";
import { HostSchema, type Host } from "../gen/common/v2/common_pb.ts";
import { VERSION } from "../common/version.ts";
import type { Storage } from "./storage/storage.ts";

/** Inputs of the announced host. */
export interface HostInfo {
  hostId: string;
  ip: string;
  hostname: string;
  seed: boolean;
  idc?: string;
  location?: string;
  schedulerClusterId?: number;
  uploadPort: number;
  proxyPort?: number;
  disableShared: boolean;
}

/** Builds the Host message with current disk, memory and CPU figures. */
export function describeHost(info: HostInfo, storage: Storage): Host {
  const disk = storage.diskUsage();
  const total = totalmem();
  const free = freemem();
  return create(HostSchema, {
    id: info.hostId,
    type: info.seed ? 1 : 0,
    hostname: info.hostname,
    ip: info.ip,
    port: info.uploadPort,
    downloadPort: info.uploadPort,
    os: platform(),
    platform: platform(),
    platformFamily: platform(),
    platformVersion: release(),
    kernelVersion: release(),
    cpu: { logicalCount: cpus().length, physicalCount: cpus().length },
    memory: { total: BigInt(total), available: BigInt(free), used: BigInt(total - free), free: BigInt(free), usedPercent: ((total - free) / total) * 100 },
    network: { idc: info.idc, location: info.location },
    disk: {
      total: BigInt(disk.total),
      free: BigInt(disk.free),
      used: BigInt(disk.used),
      usedPercent: disk.total > 0 ? (disk.used / disk.total) * 100 : 0,
    },
    build: { gitVersion: VERSION, platform: `${platform()}-${arch()}` },
    schedulerClusterId: BigInt(info.schedulerClusterId ?? 0),
    disableShared: info.disableShared,
    proxyPort: info.proxyPort ?? 0,
    name: info.hostname,
  });
}
