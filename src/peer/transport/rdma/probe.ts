/** Whether this host can use RDMA: the library loads, a device is present and its port is active. */
import { errorMessage } from "../../../common/errors.ts";
import { RdmaEngine, type RdmaEngineOptions } from "./engine.ts";
import { loadFfiVerbs } from "./ffi-verbs.ts";
import type { Verbs } from "./verbs.ts";

/** The outcome of a probe: an engine to use, or why there is none. */
export type RdmaProbe = { engine: RdmaEngine; reason?: undefined } | { engine?: undefined; reason: string };

/** Options of {@link probeRdma}. */
export interface RdmaProbeOptions extends Partial<Omit<RdmaEngineOptions, "verbs" | "device">> {
  /** Loads the verbs; libibverbs through bun:ffi by default. */
  loadVerbs?: () => Verbs;
  /** Device to open; the first one listed by default. */
  device?: string;
}

/** Opens the RDMA device to use, or says plainly why RDMA is unavailable. Never throws. */
export function probeRdma(options: RdmaProbeOptions = {}): RdmaProbe {
  let verbs: Verbs;
  try {
    verbs = (options.loadVerbs ?? loadFfiVerbs)();
  } catch (error) {
    return { reason: errorMessage(error) };
  }
  let devices;
  try {
    devices = verbs.devices();
  } catch (error) {
    return { reason: `cannot list RDMA devices: ${errorMessage(error)}` };
  }
  if (devices.length === 0) return { reason: `no RDMA device found by ${verbs.name}` };
  const device = options.device ?? devices[0]!.name;
  if (!devices.some((d) => d.name === device)) {
    return { reason: `RDMA device "${device}" not found (present: ${devices.map((d) => d.name).join(", ")})` };
  }
  try {
    return { engine: new RdmaEngine({ ...options, verbs, device }) };
  } catch (error) {
    return { reason: `RDMA device "${device}" is not usable: ${errorMessage(error)}` };
  }
}
