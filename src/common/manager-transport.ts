/**
 * The transport to the manager named by `manager.addr`: `host:port` (or `unix:/path`) is gRPC over HTTP/2, the
 * manager's gRPC listener; an `http://` or `https://` URL is the Connect protocol over HTTP/1.1, which an
 * edge-hosted manager (Cloudflare Workers, Deno Deploy) and the Bun manager's HTTP port both serve. Edge runtimes
 * hold no long-lived streams, so callers on such a transport use unary calls only (`unaryOnly`).
 */
import type { Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { z } from "zod";
import { createGrpcClient } from "./rpc.ts";

/** A transport to the manager, closed when its owner stops. */
export type ManagerTransport = Transport & {
  /** True for an http(s) URL: no client or bidirectional streams can reach the manager. */
  readonly unaryOnly: boolean;
  close(): void;
};

/** Options of createManagerTransport(). */
export interface ManagerTransportOptions {
  /** Default deadline of unary calls, ms. */
  timeoutMs?: number;
}

/** Whether `addr` names the manager by an http(s) URL (the Connect protocol) rather than a gRPC address. */
export function isManagerUrl(addr: string): boolean {
  return !/^unix:/i.test(addr) && /^[a-z][a-z0-9+.-]*:\/\//i.test(addr);
}

/**
 * What is wrong with a manager address given as a URL, or undefined when it is fine (a `host:port` is not a
 * URL and is left to the gRPC dialer as before).
 */
export function managerUrlProblem(addr: string): string | undefined {
  if (!isManagerUrl(addr)) return undefined;
  const scheme = addr.slice(0, addr.indexOf(":")).toLowerCase();
  if (scheme !== "http" && scheme !== "https") return `Invalid manager URL "${addr}": the scheme must be http or https, or give host:port for gRPC`;
  let url: URL;
  try {
    url = new URL(addr);
  } catch {
    return `Invalid manager URL "${addr}": not a URL`;
  }
  if (!url.hostname) return `Invalid manager URL "${addr}": no host`;
  if (url.username || url.password) return `Invalid manager URL "${addr}": credentials do not belong in the URL`;
  if (url.search || url.hash) return `Invalid manager URL "${addr}": no query or fragment allowed`;
  return undefined;
}

/** The `manager.addr` config value: a gRPC `host:port` or an http(s) URL of the manager. */
export const managerAddressSchema = z
  .string()
  .min(1)
  .superRefine((value, ctx) => {
    const problem = managerUrlProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/** Dials the manager at `addr`; throws naming `manager.addr` when the URL is unusable. */
export function createManagerTransport(addr: string, options: ManagerTransportOptions = {}): ManagerTransport {
  if (!isManagerUrl(addr)) return Object.assign(createGrpcClient(addr, options), { unaryOnly: false });
  const problem = managerUrlProblem(addr);
  if (problem) throw new Error(`Invalid "manager.addr": ${problem}`);
  const transport = createConnectTransport({
    baseUrl: addr.replace(/\/+$/, ""),
    httpVersion: "1.1",
    useBinaryFormat: true,
    defaultTimeoutMs: options.timeoutMs,
    readMaxBytes: 64 * 1024 * 1024,
    acceptCompression: [],
  });
  return Object.assign(transport, { unaryOnly: true, close: () => {} });
}
